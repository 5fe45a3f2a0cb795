// Evaluation of a Moment Tensor Potential on one atomic neighbourhood.
//
// The math (docs/mtp-formats.md): radial functions
//   f_mu(r) = scaling * sum_xi c[s_i][s_j][mu][xi] T_xi(x(r)) (Rcut - r)^2,
// basic moments M_b = sum_j f_mu(b)(r_ij) u_x^a u_y^b u_z^c (unit vector u = r_ij / r),
// products mom[k] += m mom[i] mom[j] from the times list, and the site energy
// V_i = species_coeffs[s_i] + sum_s moment_coeffs[s] mom[mapping[s]].
// Gradients with respect to the neighbour displacements come from one reverse sweep
// (through the times list, the basic moments and the monomial recurrence).
//
// Layout: per-neighbour data are kept structure-of-arrays (one contiguous row per
// quantity, neighbours grouped by species), so every inner loop runs over neighbours
// with unit stride and the compiler vectorises it. No LAMMPS, MPI or Python here:
// the pair style and the Python bindings call the same code.
#pragma once

#include <array>
#include <vector>

#include "mtp_model.h"

namespace seimd {

class MtpKernel {
 public:
  // Scratch memory for one thread; reuse it across calls (it grows to the largest
  // neighbourhood seen and then allocates no more).
  class Workspace {
    friend class MtpKernel;
    int capacity = 0;
    int count = 0;                         // neighbours inside the cutoff
    std::vector<int> order;                // position in the caller's list, species-grouped
    std::vector<int> species_start;        // first compacted neighbour of each species (C + 1)
    std::vector<int> cursor;               // C: next free slot of each species while sorting
    std::vector<double> r, inv_r, ux, uy, uz;
    std::vector<double> f, df;             // K x n: radial functions and their r-derivatives
    std::vector<double> mono, bar;         // P x n: monomials u^abc and their adjoints
    std::vector<double> radial_force;      // n: sum_b G_b f'_mu(b) m_b
    std::vector<double> moment_weight;     // K x n: sum_{b: mu_b = mu} G_b m_b(u_j)
    std::vector<double> cheb;              // R: Q_xi(r) of one neighbour
    // Tangents for site_parameter_gradient_directional (sized on first use).
    std::vector<double> dr_radial, dux, duy, duz, dmono, dmoments, dmoment_grad, dcheb;
    std::vector<double> gx, gy, gz;        // n: gradient of sum_b G_b f_mu(b) m_b over u
    std::vector<double> moments, moment_grad;  // alpha_moments_count
    void reserve(int n, int K, int P);
  };

  explicit MtpKernel(MtpModel model);

  const MtpModel& model() const { return model_; }
  double cutoff() const { return model_.max_dist; }
  int species_count() const { return model_.species_count; }
  Workspace workspace() const;

  // Site energy V_i (eV) of a central atom of species `species_i` whose n neighbours sit at
  // displacements rij[3*j .. 3*j+2] = x_j - x_i (Angstrom) with species species_j[j].
  // Neighbours at r >= cutoff are ignored. If `grad` is not null it receives
  // dV_i/dr_ij (eV/Angstrom, 3 per neighbour; zero for ignored neighbours).
  double site_energy(int species_i, int n, const double* rij, const int* species_j, double* grad,
                     Workspace& ws) const;

  // The same V_i, and dV_i/dtheta for every parameter (parameter_count() values, written
  // in full): theta = [radial c[s1][s2][mu][xi] | species_coeffs | moment_coeffs], the
  // order of the file and of seimd.mtp.model.MTP.parameters. The rows of the MaxVol
  // active set and the energy part of training gradients. With `grad` not null, also
  // dV_i/dr_ij as site_energy gives it (one pass for forces and grades together).
  double site_parameter_gradient(int species_i, int n, const double* rij, const int* species_j,
                                 double* dtheta, Workspace& ws, double* grad = nullptr) const;
  int parameter_count() const { return model_.parameter_count(); }

  // dV_i/dtheta as above, and its exact derivative along a displacement of the neighbours,
  // ddtheta = sum_j d(dV_i/dtheta)/dr_ij . drij_j (forward-mode through the same steps).
  // Force matching needs sum_k lambda_k . dF_k/dtheta = -sum_i (that with drij_j =
  // lambda_j - lambda_i), and stress matching the same with drij_j = Lambda r_ij.
  double site_parameter_gradient_directional(int species_i, int n, const double* rij,
                                             const int* species_j, const double* drij,
                                             double* dtheta, double* ddtheta,
                                             Workspace& ws) const;

 private:
  void load_neighbours(int n, const double* rij, const int* species_j, Workspace& ws) const;
  void radial_functions(int species_i, Workspace& ws) const;
  void monomials(Workspace& ws) const;
  double energy_from_moments(int species_i, Workspace& ws) const;
  void backpropagate(Workspace& ws) const;
  void neighbour_gradients(Workspace& ws, int n, double* grad) const;

  MtpModel model_;
  int C_, K_, R_, P_;
  double cutsq_;
  // Radial coefficients pre-multiplied by the scaling, laid out [s1][s2][xi][mu].
  std::vector<double> radial_;
  // The monomials u_x^a u_y^b u_z^c that the basic moments need, with every factor
  // chain: monomial p = monomial parent_[p] * u[axis_[p]]; p = 0 is the constant 1.
  std::vector<std::array<int, 3>> powers_;
  std::vector<int> parent_, axis_;
  // Basic moment b uses radial function basic_mu_[b] and monomial basic_mono_[b].
  std::vector<int> basic_mu_, basic_mono_;
  // The times list packed in one array (one memory stream in the hot loops).
  struct Product {
    int i, j, k;
    double m;
  };
  std::vector<Product> times_;
};

}  // namespace seimd
