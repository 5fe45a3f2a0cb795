// The parameters of one Moment Tensor Potential as an MLIP-2 `.mtp` file holds them.
//
// Pure data plus the text parser: no LAMMPS, no MPI, no Python, so that the pair
// style and the Python bindings read files with the very same code.
#pragma once

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

namespace seimd {

// Any problem with a potential file or with how it is used: the message names the
// source and, where it can, the line.
class MtpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MtpModel {
  std::string potential_name;
  double scaling = 1.0;              // global scaling of the radial functions
  double radial_scaling = 1.0;       // optional inner `scaling` under radial_basis_type
  bool has_radial_scaling = false;
  int species_count = 0;             // C
  std::string potential_tag;
  std::string radial_basis_type;     // only RBChebyshev is evaluated
  double min_dist = 0.0;             // Angstrom; sets the range of the Chebyshev argument
  double max_dist = 0.0;             // Angstrom; the cutoff (strict: r < max_dist)
  int radial_basis_size = 0;         // R
  int radial_funcs_count = 0;        // K
  std::vector<double> radial_coeffs; // ((s1*C + s2)*K + mu)*R + xi; empty when untrained
  int alpha_moments_count = 0;
  std::vector<std::array<int, 4>> alpha_index_basic;  // {mu, a, b, c}
  std::vector<std::array<int, 4>> alpha_index_times;  // {i, j, m, k}: mom[k] += m mom[i] mom[j]
  std::vector<int> alpha_moment_mapping;              // S slots that are basis functions
  std::vector<double> species_coeffs;                 // C values (eV); empty when untrained
  std::vector<double> moment_coeffs;                  // S values (eV); empty when untrained

  bool is_trained() const { return !moment_coeffs.empty(); }
  double cutoff() const { return max_dist; }
  // Element symbols declared by seimd inside potential_tag as `elements:Li,P,S,Cl`
  // (MLIP-2 reads the tag as free text); empty when the file declares none.
  std::vector<std::string> elements() const;
  // Number of trainable parameters: K R C^2 + C + S.
  int parameter_count() const;
};

// Parse the text of an `.mtp` file (LF or CRLF). `source` names it in error messages.
MtpModel parse_mtp(const std::string& text, const std::string& source = "<string>");
// Read and parse a file; throws MtpError if it cannot be opened or is malformed.
MtpModel read_mtp_file(const std::string& path);
// The whole file as a string (throws MtpError naming the path if unreadable).
std::string read_text_file(const std::string& path);

}  // namespace seimd
