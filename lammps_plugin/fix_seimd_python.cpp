#include "fix_seimd_python.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "group.h"
#include "neighbor.h"
#include "timer.h"
#include "update.h"
#include "utils.h"

#include "python_host.h"

using namespace LAMMPS_NS;
using namespace FixConst;

namespace {
constexpr int kMessageLength = 65536;    // room for a Python traceback
}

FixSeimdPython::FixSeimdPython(LAMMPS *lmp, int narg, char **arg) : Fix(lmp, narg, arg)
{
  const std::string usage = "fix ID group seimd/python N module:callable [nvalues M] "
                            "[ghost_cutoff R] [peratom yes|no] [args ...]";
  if (narg < 5) error->all(FLERR, "Illegal fix seimd/python command: {}", usage);
  every_ = utils::inumeric(FLERR, arg[3], false, lmp);
  if (every_ <= 0) error->all(FLERR, "fix seimd/python: N must be a positive number of steps");
  // LAMMPS calls end_of_step() every step; the fix keeps its own cadence so that it can
  // also analyse the last step of a run (a restart point; thermo prints it).
  nevery = 1;
  target_ = arg[4];
  const auto colon = target_.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == target_.size())
    error->all(FLERR, "fix seimd/python: '{}' is not module:callable (e.g. seimd.sei.monitor:Monitor)",
               target_);

  int nvalues = -1, peratom = -1;
  double ghost_cutoff = -1.0;
  std::vector<const char *> python_args;
  for (int iarg = 5; iarg < narg; ++iarg) {
    const std::string key = arg[iarg];
    if (key == "args") {
      for (int j = iarg + 1; j < narg; ++j) python_args.push_back(arg[j]);
      break;
    }
    if (iarg + 1 >= narg) error->all(FLERR, "fix seimd/python: keyword {} needs a value; {}", key, usage);
    if (key == "nvalues") {
      nvalues = utils::inumeric(FLERR, arg[++iarg], false, lmp);
      if (nvalues < 0) error->all(FLERR, "fix seimd/python: nvalues must be >= 0");
    } else if (key == "ghost_cutoff") {
      ghost_cutoff = utils::numeric(FLERR, arg[++iarg], false, lmp);
      if (ghost_cutoff < 0.0) error->all(FLERR, "fix seimd/python: ghost_cutoff must be >= 0");
    } else if (key == "peratom") {
      peratom = utils::logical(FLERR, arg[++iarg], false, lmp) ? 1 : 0;
    } else {
      error->all(FLERR, "fix seimd/python: unknown keyword '{}'; {}", key, usage);
    }
  }

  // Create the Python side on every rank (each gets its own callback object).
  std::string message;
  int failed = 0;
  seimd_py_fix_info info{-1, -1.0, -1};
  try {
    const auto &bridge = seimd::python_bridge();
    seimd_py_fix_spec spec{lmp, id, group->names[igroup], groupbit, target_.c_str(), every_,
                           static_cast<int>(python_args.size()), python_args.data()};
    std::vector<char> err(kMessageLength, '\0');
    handle_ = bridge.create(&spec, &info, err.data(), kMessageLength);
    if (!handle_) {
      failed = 1;
      message = err.data();
    }
  } catch (const std::exception &e) {
    failed = 1;
    message = e.what();
  }
  python_error_all("creating " + target_, message, failed);

  // Keywords win over what the callable declares.
  if (nvalues < 0) nvalues = std::max(info.nvalues, 0);
  if (ghost_cutoff < 0.0) ghost_cutoff = std::max(info.ghost_cutoff, 0.0);
  if (peratom < 0) peratom = std::max(info.peratom, 0);
  ghost_cutoff_ = ghost_cutoff;
  values_.assign(nvalues, 0.0);

  if (nvalues > 0) {
    vector_flag = 1;
    size_vector = nvalues;
    global_freq = every_;
    extvector = 0;
  }
  if (nvalues == 1) {    // f_ID as well as f_ID[1]
    scalar_flag = 1;
    extscalar = 0;
  }
  if (peratom) {
    peratom_flag = 1;
    size_peratom_cols = 0;
    peratom_freq = every_;
  }
}

FixSeimdPython::~FixSeimdPython()
{
  if (!handle_) return;
  // Destructors must not throw: a failing close() is reported as a warning.
  try {
    std::vector<char> err(kMessageLength, '\0');
    if (seimd::python_bridge().destroy(handle_, err.data(), kMessageLength) != 0)
      error->warning(FLERR, "fix seimd/python {}: closing {} failed:\n{}", id, target_, err.data());
  } catch (const std::exception &e) {
    error->warning(FLERR, "fix seimd/python {}: {}", id, e.what());
  }
}

int FixSeimdPython::setmask()
{
  return END_OF_STEP;
}

void FixSeimdPython::init()
{
  // Owned atoms see every neighbour within ghost_cutoff among owned + ghost atoms: between
  // reneighbourings atoms move, so the ghost shell must be wider by the skin.
  if (ghost_cutoff_ > 0.0) {
    const double needed = ghost_cutoff_ + neighbor->skin;
    if (comm->cutghostuser < needed) {
      comm->cutghostuser = needed;
      if (comm->me == 0)
        utils::logmesg(lmp, "fix seimd/python {}: ghost cutoff raised to {:.4g} (analysis radius "
                            "{:.4g} + skin {:.4g})\n", id, needed, ghost_cutoff_, neighbor->skin);
    }
  }
}

void FixSeimdPython::setup(int /*vflag*/)
{
  // The first step of a run has its values too (thermo prints it, a continuation starts
  // there); a run that starts where the previous one ended does not repeat it.
  if (update->ntimestep != last_step_) invoke();
}

void FixSeimdPython::end_of_step()
{
  const bigint step = update->ntimestep;
  if ((step % every_ == 0 || step == update->laststep) && step != last_step_) invoke();
}

void FixSeimdPython::post_run()
{
  // As fix halt: a run we stopped does not stop the runs that follow in the input.
  if (stopped_run_) timer->reset_timeout();
  stopped_run_ = false;
}

void FixSeimdPython::invoke()
{
  last_step_ = update->ntimestep;
  const double time = update->atime + (update->ntimestep - update->atimestep) * update->dt;
  const int nlocal = atom->nlocal;
  if (peratom_flag) {
    peratom_values_.assign(std::max(nlocal, 1), 0.0);
    vector_atom = peratom_values_.data();
  }
  std::vector<char> msg(kMessageLength, '\0'), log(kMessageLength, '\0');
  int stop = 0;
  const int failed = seimd::python_bridge().invoke(
      handle_, static_cast<int64_t>(update->ntimestep), time, values_.data(),
      static_cast<int>(values_.size()), peratom_flag ? peratom_values_.data() : nullptr, nlocal,
      &stop, msg.data(), kMessageLength, log.data(), kMessageLength);
  python_error_all("calling " + target_ + " at step " + std::to_string(update->ntimestep),
                   failed ? msg.data() : "", failed);
  if (comm->me == 0 && log[0]) utils::logmesg(lmp, std::string(log.data()));

  // One set of values for the whole run: rank 0's.
  if (!values_.empty()) MPI_Bcast(values_.data(), static_cast<int>(values_.size()), MPI_DOUBLE, 0, world);

  int any_stop = 0;
  MPI_Allreduce(&stop, &any_stop, 1, MPI_INT, MPI_MAX, world);
  if (any_stop) {
    if (stop && comm->me == 0)
      utils::logmesg(lmp, "fix seimd/python {}: {} asked to stop at step {}: {}\n", id, target_,
                     update->ntimestep, msg.data());
    else if (comm->me == 0)
      utils::logmesg(lmp, "fix seimd/python {}: {} asked to stop at step {} (on another rank)\n",
                     id, target_, update->ntimestep);
    timer->force_timeout();
    stopped_run_ = true;
  }
}

// Collective: when any rank failed, every rank stops with the message of the lowest
// failing rank (a Python traceback), so that an exception on rank 3 is not lost behind
// an MPI_Abort and is what a library caller (import lammps) gets in its exception.
void FixSeimdPython::python_error_all(const std::string &what, const std::string &local_message,
                                      int failed)
{
  int mine = failed ? comm->me : comm->nprocs, first = 0;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, world);
  if (first == comm->nprocs) return;
  std::string message = local_message;
  int length = static_cast<int>(message.size());
  MPI_Bcast(&length, 1, MPI_INT, first, world);
  message.resize(length);
  MPI_Bcast(message.data(), length, MPI_CHAR, first, world);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  error->all(FLERR, "fix seimd/python {}: {} failed on rank {}:\n{}", id, what, first, message);
}

double FixSeimdPython::compute_scalar()
{
  return values_[0];
}

double FixSeimdPython::compute_vector(int i)
{
  return values_[i];
}

double FixSeimdPython::memory_usage()
{
  return sizeof(double) * (values_.capacity() + peratom_values_.capacity());
}
