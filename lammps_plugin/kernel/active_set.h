// MaxVol extrapolation grades of atomic neighbourhoods (docs/mtp-formats.md).
//
// The grade of atom i is max_j |(b_i A^-1)_j| where b_i = dV_i/dtheta (all parameters) and
// A is the n x n active set. b_i is sparse: only the radial block of i's own species, one
// species coefficient and the moment coefficients can be non-zero, so for each species we
// keep just those rows of A^-1, contiguous, and a grade costs nnz x n multiply-adds.
// No LAMMPS here: the pair style and the Python bindings grade with the same code.
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "mtp_kernel.h"

namespace seimd {

// An MLIP-2 `.als` active-set file: the potential's text, then "\n^" and 4 float64
// weights (neighbourhood, energy, force, stress), "\n#", A (n x n float64, row-major),
// A^-1 stored transposed (n x n float64), "\n", n lines `row cfg_index`, then the
// selected configurations as .cfg text.
struct ActiveSetFile {
  MtpModel model;
  std::array<double, 4> weights{};
  int n = 0;
  std::vector<double> active;      // A, row-major
  std::vector<double> inverse;     // A^-1, row-major (un-transposed on reading)
  std::vector<std::pair<int, int>> rows;  // (row, configuration index)
  std::string configurations;      // the .cfg text of the selected configurations
};

ActiveSetFile parse_als(const std::string& bytes, const std::string& source);

// What a row of A is, from the file's weights. MLIP-2's `calc-grade` default (0, 1, 0, 0)
// is configuration mode: one row per configuration, dE/dtheta / N. `--nbh-weight`
// (1, 0, 0, 0) is neighbourhood mode: one row per atom, dV_i/dtheta. Force or stress rows,
// or a mix, are refused (MtpError naming the weights): grading them as either mode would
// give grades off by large factors without a word.
enum class GradeMode { Neighbourhood, Configuration };
GradeMode grade_mode(const std::array<double, 4>& weights, const std::string& source);
const char* grade_mode_name(GradeMode mode);
ActiveSetFile read_als_file(const std::string& path);

class GradeEvaluator {
 public:
  // `inverse` = A^-1 row-major, n = kernel.parameter_count().
  GradeEvaluator(const MtpKernel& kernel, const std::vector<double>& inverse);

  struct Scratch {
    std::vector<double> dtheta;  // one atom's dV/dtheta before compact()
  };

  const MtpKernel& kernel() const { return kernel_; }

  // Batched grading, for many atoms at once: A^-1 is streamed from memory once per block
  // of atoms instead of once per atom (it does not fit in cache for 4 species).
  // compact() keeps the entries of a full dV/dtheta row that can be non-zero for a
  // species; grade_compact_rows() grades m such rows (m x nonzero_count(species)).
  int nonzero_count(int species) const { return static_cast<int>(nonzero_[species].size()); }
  int max_nonzero_count() const;
  void compact(int species, const double* dtheta, double* out) const;
  void grade_compact_rows(int species, int m, const double* rows, double* grades,
                          std::vector<double>& product) const;
  // Grades of m atoms: species[a] and compact row a at rows + a * max_nonzero_count();
  // atoms are grouped by species and graded in blocks on `threads` OpenMP threads.
  void grade_atoms(int m, const int* species, const double* rows, double* grades,
                   int threads) const;
  // Configuration mode: the grade max_j |(row A^-1)_j| of one full row (n entries, e.g.
  // dE/dtheta / N). Not on the hot path (one row per configuration), so plain loops.
  double grade_row(const double* row) const;

 private:
  const MtpKernel& kernel_;
  int n_, padded_n_;
  std::vector<std::vector<int>> nonzero_;      // per species: parameter indices b can use
  std::vector<std::vector<double>> rows_;      // per species: those rows of A^-1, nnz x padded_n_
  std::vector<double> inverse_;                // A^-1 row-major, for grade_row()
};

}  // namespace seimd
