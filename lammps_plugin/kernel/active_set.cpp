#include "active_set.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "simd_dispatch.h"

namespace seimd {

ActiveSetFile parse_als(const std::string& bytes, const std::string& source) {
  auto fail = [&](const std::string& what) -> void {
    throw MtpError(source + ": not a valid MLIP-2 active-set (.als) file: " + what);
  };
  const size_t mark = bytes.find("\n^");
  if (mark == std::string::npos) fail("no '\\n^' after the potential text");
  ActiveSetFile als;
  als.model = parse_mtp(bytes.substr(0, mark), source);
  if (!als.model.is_trained()) fail("its potential is untrained");
  als.n = als.model.parameter_count();
  const size_t n = static_cast<size_t>(als.n);
  size_t pos = mark + 2;
  if (bytes.size() < pos + 4 * sizeof(double) + 2) fail("truncated after '^'");
  std::memcpy(als.weights.data(), bytes.data() + pos, 4 * sizeof(double));
  pos += 4 * sizeof(double);
  if (bytes.compare(pos, 2, "\n#") != 0) fail("no '\\n#' before the matrices");
  pos += 2;
  const size_t block = n * n * sizeof(double);
  if (bytes.size() < pos + 2 * block + 1)
    fail("the matrices are truncated (expected 2 x " + std::to_string(n) + " x " +
         std::to_string(n) + " float64 for " + std::to_string(n) + " parameters)");
  als.active.resize(n * n);
  std::memcpy(als.active.data(), bytes.data() + pos, block);
  pos += block;
  std::vector<double> transposed(n * n);
  std::memcpy(transposed.data(), bytes.data() + pos, block);
  pos += block;
  als.inverse.resize(n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) als.inverse[i * n + j] = transposed[j * n + i];
  if (bytes[pos] != '\n') fail("no newline after the matrices");
  ++pos;
  std::istringstream rest(bytes.substr(pos));
  std::string line;
  for (size_t r = 0; r < n; ++r) {
    if (!std::getline(rest, line)) fail("fewer than n row lines");
    std::istringstream fields(line);
    int row = -1, cfg = -1;
    if (!(fields >> row >> cfg)) fail("bad row line '" + line + "'");
    als.rows.emplace_back(row, cfg);
  }
  std::ostringstream tail;
  tail << rest.rdbuf();
  als.configurations = tail.str();
  for (double v : als.inverse)
    if (!std::isfinite(v)) fail("A^-1 has non-finite entries");
  return als;
}

GradeMode grade_mode(const std::array<double, 4>& w, const std::string& source) {
  const bool nbh = w[0] != 0.0, energy = w[1] != 0.0, force = w[2] != 0.0, stress = w[3] != 0.0;
  if (nbh && !energy && !force && !stress) return GradeMode::Neighbourhood;
  if (energy && !nbh && !force && !stress) return GradeMode::Configuration;
  std::ostringstream text;
  text << source << ": active-set weights (nbh, energy, force, stress) = (" << w[0] << ", "
       << w[1] << ", " << w[2] << ", " << w[3]
       << ") are not supported: seimd grades neighbourhood (1, 0, 0, 0) or configuration "
          "(0, 1, 0, 0) active sets only";
  throw MtpError(text.str());
}

const char* grade_mode_name(GradeMode mode) {
  return mode == GradeMode::Configuration ? "configuration" : "neighbourhood";
}

ActiveSetFile read_als_file(const std::string& path) { return parse_als(read_text_file(path), path); }

GradeEvaluator::GradeEvaluator(const MtpKernel& kernel, const std::vector<double>& inverse)
    : kernel_(kernel), n_(kernel.parameter_count()), inverse_(inverse) {
  const size_t n = static_cast<size_t>(n_);
  if (inverse.size() != n * n)
    throw MtpError("the active set has " + std::to_string(inverse.size()) +
                   " matrix entries, the potential's " + std::to_string(n_) + " parameters need " +
                   std::to_string(n * n) + " (built for a different potential?)");
  const MtpModel& m = kernel.model();
  const int C = m.species_count, K = m.radial_funcs_count, R = m.radial_basis_size;
  const int S = static_cast<int>(m.alpha_moment_mapping.size());
  const int radial = K * R * C * C;
  constexpr int kTile = 16;
  padded_n_ = (n_ + kTile - 1) / kTile * kTile;  // zero columns: |0| never wins the max
  nonzero_.resize(C);
  rows_.resize(C);
  for (int s = 0; s < C; ++s) {
    auto& nz = nonzero_[s];
    for (int q = 0; q < K * R * C; ++q) nz.push_back(s * C * K * R + q);  // c[s][*][*][*]
    nz.push_back(radial + s);
    for (int q = 0; q < S; ++q) nz.push_back(radial + C + q);
    auto& rows = rows_[s];
    rows.assign(nz.size() * padded_n_, 0.0);
    for (size_t k = 0; k < nz.size(); ++k)
      std::copy(inverse.begin() + nz[k] * n, inverse.begin() + (nz[k] + 1) * n,
                rows.begin() + k * padded_n_);
  }
}

int GradeEvaluator::max_nonzero_count() const {
  int m = 0;
  for (const auto& nz : nonzero_) m = std::max(m, static_cast<int>(nz.size()));
  return m;
}

void GradeEvaluator::compact(int species, const double* dtheta, double* out) const {
  const auto& nz = nonzero_.at(species);
  for (size_t k = 0; k < nz.size(); ++k) out[k] = dtheta[nz[k]];
}

// c_a = b_a A^-1 for 4 atoms at a time, in tiles of 16 columns held in registers: each
// element of A^-1 is loaded once per 4 atoms and feeds 4 multiply-adds, with no load or
// store of the partial sums. Every atom's sum over k runs in the same order whatever the
// blocking (a zero b_k adds exact zeros), so LAMMPS and Python grades are bit-identical.
SEIMD_HOT
void GradeEvaluator::grade_compact_rows(int species, int m, const double* b, double* grades,
                                        std::vector<double>& coefficients) const {
  constexpr int kAtoms = 4, kTile = 16;
  const int nnz = nonzero_count(species), padded = padded_n_;
  const double* rows = rows_[species].data();
  coefficients.assign(static_cast<size_t>(kAtoms) * nnz, 0.0);
  for (int a0 = 0; a0 < m; a0 += kAtoms) {
    const int atoms = std::min(kAtoms, m - a0);
    // b of these atoms, k-major (zeros for missing atoms): bk[k * 4 + a]
    double* bk = coefficients.data();
    for (int k = 0; k < nnz; ++k)
      for (int a = 0; a < kAtoms; ++a)
        bk[k * kAtoms + a] = a < atoms ? b[static_cast<size_t>(a0 + a) * nnz + k] : 0.0;
    double g[kAtoms] = {0.0, 0.0, 0.0, 0.0};
    for (int j0 = 0; j0 < padded; j0 += kTile) {
      double acc[kAtoms][kTile] = {};
      for (int k = 0; k < nnz; ++k) {
        const double* __restrict row = rows + static_cast<size_t>(k) * padded + j0;
        const double* w = bk + k * kAtoms;
#pragma omp simd
        for (int j = 0; j < kTile; ++j) {
          acc[0][j] += w[0] * row[j];
          acc[1][j] += w[1] * row[j];
          acc[2][j] += w[2] * row[j];
          acc[3][j] += w[3] * row[j];
        }
      }
      for (int a = 0; a < kAtoms; ++a)
        for (int j = 0; j < kTile; ++j) g[a] = std::max(g[a], std::abs(acc[a][j]));
    }
    for (int a = 0; a < atoms; ++a) grades[a0 + a] = g[a];
  }
}

double GradeEvaluator::grade_row(const double* row) const {
  const size_t n = static_cast<size_t>(n_);
  std::vector<double> c(n, 0.0);
  for (size_t k = 0; k < n; ++k) {
    const double b = row[k];
    if (b == 0.0) continue;
    const double* a = inverse_.data() + k * n;
    for (size_t j = 0; j < n; ++j) c[j] += b * a[j];
  }
  double g = 0.0;
  for (double v : c) g = std::max(g, std::abs(v));
  return g;
}

void GradeEvaluator::grade_atoms(int m, const int* species, const double* rows, double* grades,
                                 int threads) const {
  const int stride = max_nonzero_count();
  const int C = static_cast<int>(nonzero_.size());
  for (int s = 0; s < C; ++s) {
    std::vector<int> atoms;
    for (int a = 0; a < m; ++a)
      if (species[a] == s) atoms.push_back(a);
    const int count = static_cast<int>(atoms.size()), nnz = nonzero_count(s);
    if (count == 0) continue;
    std::vector<double> packed(static_cast<size_t>(count) * nnz), result(count);
    for (int q = 0; q < count; ++q)
      std::copy(rows + static_cast<size_t>(atoms[q]) * stride,
                rows + static_cast<size_t>(atoms[q]) * stride + nnz, packed.begin() + q * nnz);
    constexpr int kChunk = 64;  // atoms per task: a multiple of the 8-atom block
#pragma omp parallel num_threads(threads > 0 ? threads : 1) if (threads > 1)
    {
      std::vector<double> product;
#pragma omp for schedule(dynamic)
      for (int q0 = 0; q0 < count; q0 += kChunk)
        grade_compact_rows(s, std::min(kChunk, count - q0), packed.data() + static_cast<size_t>(q0) * nnz,
                           result.data() + q0, product);
    }
    for (int q = 0; q < count; ++q) grades[atoms[q]] = result[q];
  }
}

}  // namespace seimd
