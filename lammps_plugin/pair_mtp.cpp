#include "pair_mtp.h"

#include <cmath>
#include <cstring>
#include <exception>

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace LAMMPS_NS;

PairMTP::PairMTP(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  centroidstressflag = 2;    // CENTROID_NOTAVAIL: many-body, no centroid stress
}

PairMTP::~PairMTP()
{
  memory->destroy(grade_);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairMTP::allocate()
{
  allocated = 1;
  const int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  for (int i = 1; i <= n; i++)
    for (int j = i; j <= n; j++) setflag[i][j] = 0;
}

// pair_style mtp FILE.mtp
void PairMTP::settings(int narg, char **arg)
{
  if (narg < 1) error->all(FLERR, "Illegal pair_style mtp command: expected 'pair_style mtp FILE.mtp'");
  if (strcmp(update->unit_style, "metal") != 0)
    error->all(FLERR, "pair_style mtp requires 'units metal' (energies in eV, distances in Angstrom)");
  parse_grade_keywords(narg - 1, arg + 1);
  load_potential(arg[0]);
  if (!active_set_file_.empty()) load_active_set(active_set_file_);
}

// Rank 0 reads a file and broadcasts its bytes, so every rank parses the same data.
std::string PairMTP::read_on_rank0(const std::string &path)
{
  std::string text, failure;
  if (comm->me == 0) {
    try {
      text = seimd::read_text_file(path);
    } catch (std::exception &e) {
      failure = e.what();
    }
  }
  int nfail = static_cast<int>(failure.size());
  MPI_Bcast(&nfail, 1, MPI_INT, 0, world);
  if (nfail) {
    failure.resize(nfail);
    MPI_Bcast(failure.data(), nfail, MPI_CHAR, 0, world);
    error->all(FLERR, "pair_style mtp: {}", failure);
  }
  long long nbytes = static_cast<long long>(text.size());
  MPI_Bcast(&nbytes, 1, MPI_LONG_LONG, 0, world);
  text.resize(nbytes);
  if (nbytes) MPI_Bcast(text.data(), static_cast<int>(nbytes), MPI_CHAR, 0, world);
  return text;
}

void PairMTP::load_potential(const std::string &path)
{
  const std::string text = read_on_rank0(path);
  try {
    kernel_ = std::make_unique<seimd::MtpKernel>(seimd::parse_mtp(text, path));
  } catch (std::exception &e) {
    error->all(FLERR, "pair_style mtp: {}", e.what());
  }
  potential_file_ = path;
  if (comm->me == 0) {
    const auto &m = kernel_->model();
    utils::logmesg(lmp,
                   "pair_style mtp: '{}' ({}), {} species, cutoff {} A, {} basis functions, "
                   "{} parameters\n",
                   path, m.potential_name, m.species_count, m.max_dist,
                   m.alpha_moment_mapping.size(), m.parameter_count());
  }
}

// pair_coeff * * s1 ... sN: for each LAMMPS atom type the MTP species, as a 0-based
// index or as an element symbol that the potential file declares; NULL leaves a type
// to another pair style (pair hybrid).
void PairMTP::coeff(int narg, char **arg)
{
  if (!kernel_) error->all(FLERR, "pair_coeff before pair_style mtp FILE");
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg != 2 + ntypes)
    error->all(FLERR,
               "pair_coeff for mtp needs '* *' and one species per atom type ({} types), got {} "
               "entries",
               ntypes, narg - 2);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for mtp must start with '* *'");

  const auto &model = kernel_->model();
  const int C = model.species_count;
  const auto elements = model.elements();
  species_of_type_.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; t++) {
    const std::string word = arg[1 + t];
    if (word == "NULL") continue;
    int s = -1;
    if (utils::is_integer(word)) {
      s = utils::inumeric(FLERR, word, false, lmp);
      if (s < 0 || s >= C)
        error->all(FLERR, "pair_coeff mtp: species index {} for atom type {} is outside 0..{}",
                   s, t, C - 1);
    } else {
      if (elements.empty())
        error->all(FLERR,
                   "pair_coeff mtp: '{}' for atom type {} is not a species index, and '{}' "
                   "declares no element names (give 0-based species indices 0..{})",
                   word, t, potential_file_, C - 1);
      for (int q = 0; q < C; q++)
        if (elements[q] == word) s = q;
      if (s < 0)
        error->all(FLERR, "pair_coeff mtp: element '{}' for atom type {} is not in the potential's "
                   "elements {}", word, t, utils::join_words(elements, " "));
    }
    species_of_type_[t] = s;
  }
  int count = 0;
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) {
      const bool on = species_of_type_[i] >= 0 && species_of_type_[j] >= 0;
      setflag[i][j] = on ? 1 : 0;
      if (on) count++;
    }
  if (count == 0) error->all(FLERR, "pair_coeff mtp maps no atom type to a species");
}

void PairMTP::init_style()
{
  if (force->newton_pair == 0)
    error->all(FLERR, "pair_style mtp requires newton pair on (ghost forces are sent back)");
  if (!kernel_ || species_of_type_.empty())
    error->all(FLERR, "pair_style mtp needs pair_coeff * * with one species per atom type");
  neighbor->add_request(this, NeighConst::REQ_FULL);
}

double PairMTP::init_one(int i, int j)
{
  if (setflag[i][j] == 0) return 0.0;
  return kernel_->cutoff();
}

// The active set must belong to this very potential: same basis and same parameters.
void PairMTP::load_active_set(const std::string &path)
{
  const std::string bytes = read_on_rank0(path);
  try {
    const auto als = seimd::parse_als(bytes, path);
    const auto &a = als.model, &b = kernel_->model();
    if (a.species_count != b.species_count || a.alpha_index_basic != b.alpha_index_basic ||
        a.alpha_index_times != b.alpha_index_times || a.radial_coeffs != b.radial_coeffs ||
        a.moment_coeffs != b.moment_coeffs || a.species_coeffs != b.species_coeffs ||
        a.max_dist != b.max_dist || a.min_dist != b.min_dist || a.scaling != b.scaling)
      error->all(FLERR, "pair_style mtp: active set '{}' was built for a different potential than '{}'",
                 path, potential_file_);
    configuration_mode_ = seimd::grade_mode(als.weights, path) == seimd::GradeMode::Configuration;
    grader_ = std::make_unique<seimd::GradeEvaluator>(*kernel_, als.inverse);
  } catch (std::exception &e) {
    error->all(FLERR, "pair_style mtp: {}", e.what());
  }
  if (comm->me == 0)
    utils::logmesg(lmp, "pair_style mtp: active set '{}' ({} x {}, {} mode), grades every {} steps{}{}\n", path,
                   kernel_->parameter_count(), kernel_->parameter_count(),
                   configuration_mode_ ? "configuration" : "neighbourhood", grade_every_,
                   save_threshold_ >= 0 ? fmt::format(", save above {} to '{}'", save_threshold_, save_file_) : "",
                   break_threshold_ >= 0 ? fmt::format(", stop above {}", break_threshold_) : "");
}

// Owned atom i's neighbours inside the cutoff, as displacements and species, into s.
int PairMTP::gather_neighbours(int i, ThreadScratch &s)
{
  double **x = atom->x;
  const int *type = atom->type;
  const double rcut = kernel_->cutoff(), cutsq_mtp = rcut * rcut;
  const double xi = x[i][0], yi = x[i][1], zi = x[i][2];
  const int *jlist = list->firstneigh[i];
  const int jnum = list->numneigh[i];
  if (static_cast<int>(s.species.size()) < jnum) {
    s.rij.resize(3 * jnum);
    s.grad.resize(3 * jnum);
    s.species.resize(jnum);
    s.index.resize(jnum);
  }
  int n = 0;
  for (int jj = 0; jj < jnum; jj++) {
    const int j = jlist[jj] & NEIGHMASK;
    const int sj = species_of_type_[type[j]];
    if (sj < 0) continue;
    const double dx = x[j][0] - xi, dy = x[j][1] - yi, dz = x[j][2] - zi;
    if (dx * dx + dy * dy + dz * dz >= cutsq_mtp) continue;
    s.rij[3 * n] = dx;
    s.rij[3 * n + 1] = dy;
    s.rij[3 * n + 2] = dz;
    s.species[n] = sj;
    s.index[n] = j;
    n++;
  }
  return n;
}

void PairMTP::prepare_threads(int nthreads, int nall, bool per_atom_virial)
{
  if (static_cast<int>(scratch_.size()) != nthreads) {
    scratch_.clear();
    for (int t = 0; t < nthreads; t++) scratch_.push_back({kernel_->workspace(), {}, {}, {}, {}, {}, {}});
  }
  if (nthreads > 1)
    for (auto &s : scratch_) {
      if (static_cast<int>(s.force.size()) < 3 * nall) s.force.resize(3 * nall);
      if (per_atom_virial && static_cast<int>(s.vatom.size()) < 6 * nall) s.vatom.resize(6 * nall);
    }
}

void PairMTP::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  double **f = atom->f;
  const int *type = atom->type;
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  const int inum = list->inum;
  const int *ilist = list->ilist;
  const bool explicit_virial = vflag_global && !vflag_fdotr;

  int nthreads = 1;
#ifdef _OPENMP
  nthreads = comm->nthreads > 0 ? comm->nthreads : 1;
#endif
  prepare_threads(nthreads, nall, vflag_atom != 0);
  const bool grading = grading_this_step();
  if (grading) prepare_grades(nthreads);

  double energy = 0.0, virial_sum[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  std::string failure;

#pragma omp parallel num_threads(nthreads) reduction(+ : energy) if (nthreads > 1)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    ThreadScratch &s = scratch_[tid];
    double *fout = nthreads > 1 ? s.force.data() : &f[0][0];
    double *vout = nullptr;
    if (vflag_atom) vout = nthreads > 1 ? s.vatom.data() : &vatom[0][0];
    if (nthreads > 1) {
      std::fill(s.force.begin(), s.force.begin() + 3 * nall, 0.0);
      if (vflag_atom) std::fill(s.vatom.begin(), s.vatom.begin() + 6 * nall, 0.0);
    }
    double v[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};

#pragma omp for schedule(dynamic, 16)
    for (int ii = 0; ii < inum; ii++) {
      const int i = ilist[ii];
      const int si = species_of_type_[type[i]];
      if (si < 0) continue;
      const int n = gather_neighbours(i, s);
      double vi = 0.0;
      try {
        if (grading) {  // forces and dV_i/dtheta from one pass; graded in finish_grades()
          auto &dtheta = grade_scratch_[tid].dtheta;
          vi = kernel_->site_parameter_gradient(si, n, s.rij.data(), s.species.data(), dtheta.data(),
                                                s.workspace, s.grad.data());
          if (configuration_mode_) {
            auto &sum = grade_sums_[tid];
            for (size_t q = 0; q < sum.size(); q++) sum[q] += dtheta[q];
          } else
            grader_->compact(si, dtheta.data(), &grade_rows_[static_cast<size_t>(i) * grader_->max_nonzero_count()]);
          grade_species_[i] = si;
        } else
          vi = kernel_->site_energy(si, n, s.rij.data(), s.species.data(), s.grad.data(), s.workspace);
      } catch (std::exception &e) {
#pragma omp critical(pair_mtp_failure)
        failure = fmt::format("atom {}: {}", atom->tag[i], e.what());
        continue;
      }
      if (eflag_global) energy += vi;
      if (eflag_atom) eatom[i] += vi;
      for (int q = 0; q < n; q++) {
        const int j = s.index[q];
        const double *g = &s.grad[3 * q];
        const double *r = &s.rij[3 * q];
        // g = dV_i/dr_ij with r_ij = x_j - x_i: +g on i, -g on j.
        fout[3 * i] += g[0];
        fout[3 * i + 1] += g[1];
        fout[3 * i + 2] += g[2];
        fout[3 * j] -= g[0];
        fout[3 * j + 1] -= g[1];
        fout[3 * j + 2] -= g[2];
        if (explicit_virial || vflag_atom) {
          // sum over atoms of x f: this pair adds -r_a g_b (LAMMPS order xx yy zz xy xz yz).
          const double w[6] = {-r[0] * g[0], -r[1] * g[1], -r[2] * g[2],
                               -r[0] * g[1], -r[0] * g[2], -r[1] * g[2]};
          if (explicit_virial)
            for (int c = 0; c < 6; c++) v[c] += w[c];
          if (vflag_atom)
            for (int c = 0; c < 6; c++) {
              vout[6 * i + c] += 0.5 * w[c];
              vout[6 * j + c] += 0.5 * w[c];
            }
        }
      }
    }
    if (explicit_virial) {
#pragma omp critical(pair_mtp_virial)
      for (int c = 0; c < 6; c++) virial_sum[c] += v[c];
    }
    if (nthreads > 1) {
      // Sum the per-thread arrays into LAMMPS' arrays, each thread a slice of atoms.
#pragma omp barrier
#pragma omp for schedule(static)
      for (int a = 0; a < nall; a++) {
        for (int t = 0; t < nthreads; t++) {
          const double *ft = scratch_[t].force.data() + 3 * a;
          f[a][0] += ft[0];
          f[a][1] += ft[1];
          f[a][2] += ft[2];
          if (vflag_atom) {
            const double *vt = scratch_[t].vatom.data() + 6 * a;
            for (int c = 0; c < 6; c++) vatom[a][c] += vt[c];
          }
        }
      }
    }
  }
  if (!failure.empty()) error->one(FLERR, "pair_style mtp: {}", failure);
  if (grading) finish_grades();

  if (eflag_global) eng_vdwl += energy;
  if (explicit_virial)
    for (int c = 0; c < 6; c++) virial[c] += virial_sum[c];
  if (vflag_fdotr) virial_fdotr_compute();
}

double PairMTP::memory_usage()
{
  double bytes = Pair::memory_usage();
  for (const auto &s : scratch_)
    bytes += sizeof(double) * (s.force.capacity() + s.vatom.capacity() + s.rij.capacity() +
                               s.grad.capacity());
  return bytes;
}
