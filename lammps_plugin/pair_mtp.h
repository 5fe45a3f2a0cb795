// pair_style mtp: Moment Tensor Potentials (MLIP-2 `.mtp` files) in LAMMPS.
//
// The LAMMPS glue only: it gathers each owned atom's neighbours from a full
// neighbour list, calls the shared MTP kernel (kernel/mtp_kernel.h) and scatters
// dV_i/dr_ij onto atoms i and j. Ghost forces go back to their owners by LAMMPS'
// reverse communication, hence `newton pair on`. OpenMP threads split the owned atoms;
// each thread accumulates into its own force array, summed at the end.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "active_set.h"
#include "mtp_kernel.h"
#include "pair.h"

namespace LAMMPS_NS {

class PairMTP : public Pair {
 public:
  explicit PairMTP(class LAMMPS *);
  ~PairMTP() override;

  void compute(int eflag, int vflag) override;
  void settings(int narg, char **arg) override;
  void coeff(int narg, char **arg) override;
  void init_style() override;
  double init_one(int i, int j) override;
  double memory_usage() override;
  void *extract(const char *name, int &dim) override;
  void *extract_peratom(const char *name, int &ncol) override;

 protected:
  std::unique_ptr<seimd::MtpKernel> kernel_;
  std::string potential_file_;
  std::vector<int> species_of_type_;  // LAMMPS type (1-based) -> MTP species, -1 = NULL

  // Per-thread scratch, sized on demand.
  struct ThreadScratch {
    seimd::MtpKernel::Workspace workspace;
    std::vector<double> rij, grad;
    std::vector<int> species, index;
    std::vector<double> force;   // 3 * nall, when more than one thread
    std::vector<double> vatom;   // 6 * nall, when per-atom virials are wanted with threads
  };
  std::vector<ThreadScratch> scratch_;

  // Extrapolation grades (pair_mtp_grades.cpp): keywords active_set, grade_every,
  // grade_save, grade_break; per-atom values through `fix pair ... mtp grade 1`.
  std::unique_ptr<seimd::GradeEvaluator> grader_;
  std::string active_set_file_;
  int grade_every_ = 0;            // 0: only when `fix pair` asks (grade_flag)
  int grade_flag_ = 0;             // set to 1 by fix pair on the steps it wants grades
  double save_threshold_ = -1.0;   // < 0: off
  std::string save_file_;
  bool save_whole_configuration_ = false;
  double break_threshold_ = -1.0;  // < 0: off
  double max_grade_ = 0.0;         // largest grade of the last grading step, all ranks
  bigint graded_step_ = -1;
  int nmax_grade_ = 0;
  double *grade_ = nullptr;        // per-atom grades (owned atoms) of the last grading step
  std::vector<seimd::GradeEvaluator::Scratch> grade_scratch_;
  std::vector<double> grade_rows_;  // per owned atom: dV_i/dtheta compacted for its species
  std::vector<int> grade_species_;  // per owned atom: species, -1 = not graded
  // Configuration mode (.als weights (0, 1, 0, 0)): per thread, the sum of dV_i/dtheta over
  // its owned atoms; finish_grades() adds them over threads and ranks into dE/dtheta.
  bool configuration_mode_ = false;
  std::vector<std::vector<double>> grade_sums_;

  bool grading_this_step() const;
  void parse_grade_keywords(int narg, char **arg);
  void grow_grades();
  void prepare_grades(int nthreads);
  void finish_grades();
  void finish_configuration_grade();
  void save_extrapolative();
  void append_cfg_text(const std::string &text);
  std::string gather_on_rank0(const std::string &mine);

  void allocate();
  std::string read_on_rank0(const std::string &path);
  void load_potential(const std::string &path);
  void load_active_set(const std::string &path);
  int gather_neighbours(int i, ThreadScratch &s);
  void prepare_threads(int nthreads, int nall, bool per_atom_virial);
};

}    // namespace LAMMPS_NS
