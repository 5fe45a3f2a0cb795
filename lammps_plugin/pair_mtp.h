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

  void allocate();
  void load_potential(const std::string &path);
  void prepare_threads(int nthreads, int nall, bool per_atom_virial);
};

}    // namespace LAMMPS_NS
