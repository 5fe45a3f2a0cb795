// Extrapolation grades for pair_style mtp: the LAMMPS side of kernel/active_set.h.
//
//   pair_style mtp FILE.mtp active_set FILE.als [grade_every N]
//              [grade_save THRESHOLD FILE.cfg [neighbourhood|configuration]]
//              [grade_break THRESHOLD]
//
// Grades are computed on steps that are multiples of N, and on the steps a
// `fix ID all pair M mtp grade 1` asks for them, for every owned atom in parallel (MPI
// ranks, OpenMP threads); other steps cost nothing extra. Per-atom values reach dumps,
// `compute reduce max` and `fix halt` through that fix pair. A configuration-mode .als
// (weights (0, 1, 0, 0)) gives one grade, of sum_i dV_i/dtheta / N over all ranks, that
// every owned atom carries, so the same fixes and computes work unchanged.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "memory.h"
#include "neigh_list.h"
#include "pair_mtp.h"
#include "timer.h"
#include "update.h"
#include "utils.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace LAMMPS_NS;

void PairMTP::parse_grade_keywords(int narg, char **arg)
{
  int iarg = 0;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    auto need = [&](int count) {
      if (iarg + count >= narg) error->all(FLERR, "pair_style mtp: '{}' needs {} value(s)", key, count);
    };
    if (key == "active_set") {
      need(1);
      active_set_file_ = arg[iarg + 1];
      iarg += 2;
    } else if (key == "grade_every") {
      need(1);
      grade_every_ = utils::inumeric(FLERR, arg[iarg + 1], false, lmp);
      if (grade_every_ < 0) error->all(FLERR, "pair_style mtp: grade_every must be >= 0");
      iarg += 2;
    } else if (key == "grade_save") {
      need(2);
      save_threshold_ = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (save_threshold_ < 0.0) error->all(FLERR, "pair_style mtp: grade_save threshold must be >= 0");
      save_file_ = arg[iarg + 2];
      iarg += 3;
      if (iarg < narg && (strcmp(arg[iarg], "neighbourhood") == 0 || strcmp(arg[iarg], "configuration") == 0)) {
        save_whole_configuration_ = strcmp(arg[iarg], "configuration") == 0;
        iarg++;
      }
    } else if (key == "grade_break") {
      need(1);
      break_threshold_ = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (break_threshold_ < 0.0) error->all(FLERR, "pair_style mtp: grade_break threshold must be >= 0");
      iarg += 2;
    } else {
      error->all(FLERR,
                 "Unknown pair_style mtp keyword '{}' (usage: pair_style mtp FILE.mtp "
                 "[active_set FILE.als] [grade_every N] [grade_save THRESHOLD FILE.cfg] "
                 "[grade_break THRESHOLD])",
                 key);
    }
  }
  const bool wants_grades = grade_every_ > 0 || save_threshold_ >= 0.0 || break_threshold_ >= 0.0;
  if (wants_grades && active_set_file_.empty())
    error->all(FLERR, "pair_style mtp: grades need 'active_set FILE.als'");
  if ((save_threshold_ >= 0.0 || break_threshold_ >= 0.0) && grade_every_ == 0) grade_every_ = 1;
}

bool PairMTP::grading_this_step() const
{
  if (!grader_) return false;
  if (grade_flag_) return true;
  return grade_every_ > 0 && update->ntimestep % grade_every_ == 0;
}

// The per-atom grade array follows atom->nmax; owned atoms start at grade 0.
void PairMTP::grow_grades()
{
  if (atom->nmax > nmax_grade_) {
    nmax_grade_ = atom->nmax;
    memory->grow(grade_, nmax_grade_, "pair:mtp:grade");
  }
  for (int i = 0; i < atom->nlocal; i++) grade_[i] = 0.0;
}

void PairMTP::prepare_grades(int nthreads)
{
  grow_grades();
  if (static_cast<int>(grade_scratch_.size()) != nthreads) grade_scratch_.resize(nthreads);
  for (auto &s : grade_scratch_) s.dtheta.resize(kernel_->parameter_count());
  grade_rows_.resize(static_cast<size_t>(atom->nlocal) * grader_->max_nonzero_count());
  grade_species_.assign(atom->nlocal, -1);
  if (configuration_mode_) {
    grade_sums_.resize(nthreads);
    for (auto &sum : grade_sums_) sum.assign(kernel_->parameter_count(), 0.0);
  }
}

// Configuration mode: dE/dtheta / N over all ranks (N = graded atoms), one grade that every
// owned atom carries, so fix pair, compute reduce max, fix halt and thermo need no change.
void PairMTP::finish_configuration_grade()
{
  std::vector<double> local(kernel_->parameter_count(), 0.0), total(local.size());
  for (const auto &sum : grade_sums_)
    for (size_t q = 0; q < local.size(); q++) local[q] += sum[q];
  double count = 0.0, total_count = 0.0;
  for (int i = 0; i < atom->nlocal; i++) count += grade_species_[i] >= 0 ? 1.0 : 0.0;
  MPI_Allreduce(local.data(), total.data(), static_cast<int>(local.size()), MPI_DOUBLE, MPI_SUM, world);
  MPI_Allreduce(&count, &total_count, 1, MPI_DOUBLE, MPI_SUM, world);
  if (total_count > 0.0)
    for (double &v : total) v /= total_count;
  const double g = total_count > 0.0 ? grader_->grade_row(total.data()) : 0.0;
  for (int i = 0; i < atom->nlocal; i++) grade_[i] = grade_species_[i] >= 0 ? g : 0.0;
  max_grade_ = g;
}

// After compute() filled grade_ for the owned atoms: the global maximum, then the
// save and break actions.
void PairMTP::finish_grades()
{
  if (configuration_mode_) {
    finish_configuration_grade();
  } else {
    grader_->grade_atoms(atom->nlocal, grade_species_.data(), grade_rows_.data(), grade_,
                         static_cast<int>(scratch_.size()));
    double local_max = 0.0;
    for (int i = 0; i < atom->nlocal; i++) local_max = std::max(local_max, grade_[i]);
    MPI_Allreduce(&local_max, &max_grade_, 1, MPI_DOUBLE, MPI_MAX, world);
  }
  graded_step_ = update->ntimestep;

  if (save_threshold_ >= 0.0 && max_grade_ > save_threshold_) save_extrapolative();
  if (break_threshold_ >= 0.0 && max_grade_ > break_threshold_) {
    if (comm->me == 0)
      utils::logmesg(lmp,
                     "pair_style mtp: extrapolation grade {:.4g} exceeds grade_break {:.4g} at "
                     "step {}: stopping the run (as fix halt does; the input goes on after "
                     "the run command)\n",
                     max_grade_, break_threshold_, update->ntimestep);
    timer->force_timeout();
  }
}

// Append MLIP-2 .cfg text on rank 0: either the neighbourhoods of the atoms above the
// save threshold (non-periodic clusters, central atom first, species as types), or the
// whole configuration. Every block carries `Feature MV_grade`.
void PairMTP::save_extrapolative()
{
  double **x = atom->x;
  const int *type = atom->type;
  const int nlocal = atom->nlocal;
  std::ostringstream text;
  text.precision(12);
  text.setf(std::ios::fixed);
  const bigint step = update->ntimestep;

  // A configuration-mode grade belongs to no single atom: save the whole configuration.
  if (!save_whole_configuration_ && !configuration_mode_) {
    ThreadScratch &s = scratch_[0];
    for (int i = 0; i < nlocal; i++) {
      const int si = species_of_type_[type[i]];
      if (si < 0 || grade_[i] <= save_threshold_) continue;
      const int n = gather_neighbours(i, s);
      text << "BEGIN_CFG\n Size\n    " << n + 1
           << "\n AtomData:  id type       cartes_x      cartes_y      cartes_z\n";
      text << "    1 " << si << " 0.0 0.0 0.0\n";
      for (int q = 0; q < n; q++)
        text << "    " << q + 2 << ' ' << s.species[q] << ' ' << s.rij[3 * q] << ' '
             << s.rij[3 * q + 1] << ' ' << s.rij[3 * q + 2] << '\n';
      text << " Feature   MV_grade\t" << grade_[i] << "\n Feature   lammps_step\t" << step
           << "\n Feature   lammps_atom_id\t" << atom->tag[i]
           << "\n Feature   seimd_kind\tneighbourhood\nEND_CFG\n\n";
    }
    append_cfg_text(text.str());
    return;
  }

  // Whole configuration: each rank sends "tag species x y z" lines; rank 0 sorts by tag.
  for (int i = 0; i < nlocal; i++) {
    const int si = species_of_type_[type[i]];
    if (si < 0) continue;
    text << atom->tag[i] << ' ' << si << ' ' << x[i][0] << ' ' << x[i][1] << ' ' << x[i][2] << '\n';
  }
  const std::string all = gather_on_rank0(text.str());
  if (comm->me != 0) return;
  std::istringstream rows(all);
  std::vector<std::pair<tagint, std::string>> atoms;
  std::string line;
  while (std::getline(rows, line)) {
    std::istringstream f(line);
    tagint tag;
    f >> tag;
    std::string rest;
    std::getline(f, rest);
    atoms.emplace_back(tag, rest);
  }
  std::sort(atoms.begin(), atoms.end());
  std::ostringstream cfg;
  cfg.precision(12);
  cfg.setf(std::ios::fixed);
  cfg << "BEGIN_CFG\n Size\n    " << atoms.size() << "\n Supercell\n";
  cfg << "    " << domain->xprd << " 0.0 0.0\n";
  cfg << "    " << domain->xy << ' ' << domain->yprd << " 0.0\n";
  cfg << "    " << domain->xz << ' ' << domain->yz << ' ' << domain->zprd << '\n';
  cfg << " AtomData:  id type       cartes_x      cartes_y      cartes_z\n";
  int id = 1;
  for (const auto &a : atoms) cfg << "    " << id++ << a.second << '\n';
  cfg << " Feature   MV_grade\t" << max_grade_ << "\n Feature   lammps_step\t" << step
      << "\n Feature   seimd_kind\tconfiguration\nEND_CFG\n\n";
  std::ofstream out(save_file_, std::ios::app);
  out << cfg.str();
  out.flush();
  if (!out) error->one(FLERR, "pair_style mtp: cannot append to '{}'", save_file_);
}

// Concatenate every rank's text on rank 0 (in rank order); other ranks get "".
std::string PairMTP::gather_on_rank0(const std::string &mine)
{
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(comm->nprocs), offs(comm->nprocs, 0);
  MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, world);
  std::string all;
  if (comm->me == 0) {
    for (int p = 1; p < comm->nprocs; p++) offs[p] = offs[p - 1] + lens[p - 1];
    all.resize(offs.back() + lens.back());
  }
  MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), offs.data(), MPI_CHAR, 0, world);
  return all;
}

void PairMTP::append_cfg_text(const std::string &mine)
{
  const std::string all = gather_on_rank0(mine);
  if (comm->me != 0 || all.empty()) return;
  std::ofstream out(save_file_, std::ios::app);
  out << all;
  out.flush();
  if (!out) error->one(FLERR, "pair_style mtp: cannot append to '{}'", save_file_);
}

void *PairMTP::extract(const char *name, int &dim)
{
  dim = 0;
  if (strcmp(name, "grade_flag") == 0) {
    if (!grader_) error->all(FLERR, "fix pair asks pair_style mtp for grades: give it 'active_set FILE.als'");
    return &grade_flag_;
  }
  if (strcmp(name, "max_grade") == 0) return &max_grade_;
  return nullptr;
}

void *PairMTP::extract_peratom(const char *name, int &ncol)
{
  ncol = 0;
  if (strcmp(name, "grade") == 0) {
    if (!grader_) return nullptr;
    if (nmax_grade_ < atom->nmax) grow_grades();
    return grade_;
  }
  return nullptr;
}
