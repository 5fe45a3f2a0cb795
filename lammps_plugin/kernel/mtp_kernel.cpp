#include "mtp_kernel.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "simd_dispatch.h"

namespace seimd {

void MtpKernel::Workspace::reserve(int n, int K, int P) {
  if (n <= capacity) return;
  capacity = std::max(n, 2 * capacity);
  const size_t c = static_cast<size_t>(capacity);
  order.resize(c);
  for (auto* v : {&r, &inv_r, &ux, &uy, &uz, &radial_force, &gx, &gy, &gz}) v->resize(c);
  moment_weight.resize(c * K);
  f.resize(c * K);
  df.resize(c * K);
  mono.resize(c * P);
  bar.resize(c * P);
}

MtpKernel::MtpKernel(MtpModel model) : model_(std::move(model)) {
  const MtpModel& m = model_;
  if (!m.is_trained())
    throw MtpError("potential '" + m.potential_name +
                   "' is an untrained template (no radial_coeffs/species_coeffs/moment_coeffs)");
  C_ = m.species_count;
  K_ = m.radial_funcs_count;
  R_ = m.radial_basis_size;
  cutsq_ = m.max_dist * m.max_dist;

  const double scale = m.scaling * (m.has_radial_scaling ? m.radial_scaling : 1.0);
  radial_.assign(static_cast<size_t>(C_) * C_ * R_ * K_, 0.0);
  for (int pair = 0; pair < C_ * C_; ++pair)
    for (int mu = 0; mu < K_; ++mu)
      for (int xi = 0; xi < R_; ++xi)
        radial_[(static_cast<size_t>(pair) * R_ + xi) * K_ + mu] =
            scale * m.radial_coeffs[(static_cast<size_t>(pair) * K_ + mu) * R_ + xi];

  // Monomials: every power triple a basic moment uses, closed under the factor chain
  // (a,b,c) <- (a-1,b,c) <- ... so each is one multiplication away from its parent.
  std::map<std::array<int, 3>, int> index;
  auto chain_parent = [](std::array<int, 3> p, int& axis) {
    axis = p[0] > 0 ? 0 : (p[1] > 0 ? 1 : 2);
    --p[axis];
    return p;
  };
  std::vector<std::array<int, 3>> needed{{0, 0, 0}};
  for (const auto& b : m.alpha_index_basic) {
    std::array<int, 3> p{b[1], b[2], b[3]};
    while (p[0] + p[1] + p[2] > 0) {
      needed.push_back(p);
      int axis;
      p = chain_parent(p, axis);
    }
  }
  std::sort(needed.begin(), needed.end(), [](const auto& x, const auto& y) {
    const int nx = x[0] + x[1] + x[2], ny = y[0] + y[1] + y[2];
    return nx != ny ? nx < ny : x > y;
  });
  needed.erase(std::unique(needed.begin(), needed.end()), needed.end());
  for (const auto& p : needed) {
    const int id = static_cast<int>(powers_.size());
    index[p] = id;
    powers_.push_back(p);
    if (id == 0) {
      parent_.push_back(-1);
      axis_.push_back(-1);
    } else {
      int axis;
      parent_.push_back(index.at(chain_parent(p, axis)));
      axis_.push_back(axis);
    }
  }
  P_ = static_cast<int>(powers_.size());
  for (const auto& b : m.alpha_index_basic) {
    basic_mu_.push_back(b[0]);
    basic_mono_.push_back(index.at({b[1], b[2], b[3]}));
  }
  for (const auto& t : m.alpha_index_times) times_.push_back({t[0], t[1], t[3], static_cast<double>(t[2])});
}

MtpKernel::Workspace MtpKernel::workspace() const {
  Workspace ws;
  ws.species_start.assign(C_ + 1, 0);
  ws.cursor.assign(C_, 0);
  ws.cheb.assign(R_, 0.0);
  ws.moments.assign(model_.alpha_moments_count, 0.0);
  ws.moment_grad.assign(model_.alpha_moments_count, 0.0);
  ws.reserve(64, K_, P_);
  return ws;
}

// Keep the neighbours inside the cutoff, grouped by species (a counting sort), so
// that the radial coefficients are constant over each group's contiguous range.
SEIMD_HOT
void MtpKernel::load_neighbours(int n, const double* rij, const int* species_j, Workspace& ws) const {
  ws.reserve(n, K_, P_);
  std::fill(ws.species_start.begin(), ws.species_start.end(), 0);
  for (int j = 0; j < n; ++j) {
    const double* d = rij + 3 * j;
    const double rsq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    if (rsq < cutsq_) {
      if (species_j[j] < 0 || species_j[j] >= C_)
        throw MtpError("neighbour species " + std::to_string(species_j[j]) +
                       " outside the potential's 0.." + std::to_string(C_ - 1));
      ++ws.species_start[species_j[j] + 1];
    }
  }
  for (int s = 0; s < C_; ++s) ws.species_start[s + 1] += ws.species_start[s];
  ws.count = ws.species_start[C_];
  int* cur = ws.cursor.data();
  for (int s = 0; s < C_; ++s) cur[s] = ws.species_start[s];
  for (int j = 0; j < n; ++j) {
    const double* d = rij + 3 * j;
    const double rsq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    if (rsq >= cutsq_) continue;
    if (rsq == 0.0) throw MtpError("two atoms at the same position (zero neighbour distance)");
    const int slot = cur[species_j[j]]++;
    ws.order[slot] = j;
    const double r = std::sqrt(rsq), inv = 1.0 / r;
    ws.r[slot] = r;
    ws.inv_r[slot] = inv;
    ws.ux[slot] = d[0] * inv;
    ws.uy[slot] = d[1] * inv;
    ws.uz[slot] = d[2] * inv;
  }
}

namespace {

// f_mu(r_j) = sum_xi c[xi][mu] T_xi(x_j) (Rcut - r_j)^2 and df_mu/dr for the neighbours
// j0..j1 (one species, so c is constant). The Chebyshev recursion runs in registers,
// vectorised over neighbours; with R a compile-time constant (R = 8 in every MLIP
// template) it unrolls completely. R = 0 selects the run-time-R variant.
template <int RC>
SEIMD_HOT
void radial_run(int R, int K, const double* c, const double* r, int j0, int j1, double rmin,
                double rcut, double* f, double* df, int stride) {
  if (RC != 0) R = RC;
  const double scale_x = 2.0 / (rcut - rmin), shift_x = (rmin + rcut) / (rcut - rmin);
  for (int mu = 0; mu < K; ++mu) {
    double* fm = f + mu * stride;
    double* dfm = df + mu * stride;
#pragma omp simd
    for (int j = j0; j < j1; ++j) {
      const double x = scale_x * r[j] - shift_x;
      const double d = rcut - r[j], d2 = d * d;
      double t0 = 1.0, t1 = x, dt0 = 0.0, dt1 = 1.0;
      double sum = c[mu] + c[K + mu] * x, dsum = c[K + mu];
      for (int xi = 2; xi < R; ++xi) {
        const double t2 = 2.0 * x * t1 - t0;
        const double dt2 = 2.0 * t1 + 2.0 * x * dt1 - dt0;
        sum += c[xi * K + mu] * t2;
        dsum += c[xi * K + mu] * dt2;
        t0 = t1;
        t1 = t2;
        dt0 = dt1;
        dt1 = dt2;
      }
      fm[j] = sum * d2;
      dfm[j] = dsum * scale_x * d2 - 2.0 * d * sum;
    }
  }
}

}  // namespace

void MtpKernel::radial_functions(int species_i, Workspace& ws) const {
  for (int s = 0; s < C_; ++s) {
    const int j0 = ws.species_start[s], j1 = ws.species_start[s + 1];
    if (j0 == j1) continue;
    const double* c = &radial_[(static_cast<size_t>(species_i) * C_ + s) * R_ * K_];
    auto run = R_ == 8 ? &radial_run<8> : &radial_run<0>;
    run(R_, K_, c, ws.r.data(), j0, j1, model_.min_dist, model_.max_dist, ws.f.data(),
        ws.df.data(), ws.capacity);
  }
}

SEIMD_HOT
void MtpKernel::monomials(Workspace& ws) const {
  const int n = ws.count, stride = ws.capacity;
  double* mono = ws.mono.data();
  const double* u[3] = {ws.ux.data(), ws.uy.data(), ws.uz.data()};
#pragma omp simd
  for (int j = 0; j < n; ++j) mono[j] = 1.0;
  for (int p = 1; p < P_; ++p) {
    const double* parent = mono + parent_[p] * stride;
    const double* ua = u[axis_[p]];
    double* out = mono + p * stride;
#pragma omp simd
    for (int j = 0; j < n; ++j) out[j] = parent[j] * ua[j];
  }
}

SEIMD_HOT
double MtpKernel::energy_from_moments(int species_i, Workspace& ws) const {
  const int n = ws.count, stride = ws.capacity;
  double* mom = ws.moments.data();
  std::fill(ws.moments.begin(), ws.moments.end(), 0.0);
  const int nb = static_cast<int>(basic_mu_.size());
  for (int b = 0; b < nb; ++b) {
    const double* fm = ws.f.data() + basic_mu_[b] * stride;
    const double* m = ws.mono.data() + basic_mono_[b] * stride;
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; ++j) sum += fm[j] * m[j];
    mom[b] = sum;
  }
  for (const Product& t : times_) mom[t.k] += t.m * mom[t.i] * mom[t.j];
  double energy = model_.species_coeffs[species_i];
  const auto& map = model_.alpha_moment_mapping;
  for (size_t s = 0; s < map.size(); ++s) energy += model_.moment_coeffs[s] * mom[map[s]];
  return energy;
}

// dV/dmom for every moment slot: seed the basis functions with their coefficients,
// then walk the times list backwards (reverse-mode differentiation).
SEIMD_HOT
void MtpKernel::backpropagate(Workspace& ws) const {
  double* g = ws.moment_grad.data();
  const double* mom = ws.moments.data();
  std::fill(ws.moment_grad.begin(), ws.moment_grad.end(), 0.0);
  const auto& map = model_.alpha_moment_mapping;
  for (size_t s = 0; s < map.size(); ++s) g[map[s]] += model_.moment_coeffs[s];
  for (auto t = times_.rbegin(); t != times_.rend(); ++t) {
    const double gk = g[t->k] * t->m;
    g[t->i] += gk * mom[t->j];
    g[t->j] += gk * mom[t->i];
  }
}

// dV/dr_j = A_j u_j + (g_j - (u_j.g_j) u_j) / r_j with A_j = sum_b G_b f'_mu(b) m_b(u_j)
// and g_j = grad_u sum_b G_b f_mu(b) m_b(u_j), the latter by a reverse sweep over the
// monomial recurrence.
SEIMD_HOT
void MtpKernel::neighbour_gradients(Workspace& ws, int n_all, double* grad) const {
  const int n = ws.count, stride = ws.capacity;
  double* bar = ws.bar.data();
  double* A = ws.radial_force.data();
  for (int p = 0; p < P_; ++p) std::fill(bar + p * stride, bar + p * stride + n, 0.0);
  std::fill(A, A + n, 0.0);
  const double* G = ws.moment_grad.data();
  const int nb = static_cast<int>(basic_mu_.size());
  for (int b = 0; b < nb; ++b) {
    const double gb = G[b];
    if (gb == 0.0) continue;
    const double* fm = ws.f.data() + basic_mu_[b] * stride;
    const double* dfm = ws.df.data() + basic_mu_[b] * stride;
    const double* m = ws.mono.data() + basic_mono_[b] * stride;
    double* bp = bar + basic_mono_[b] * stride;
#pragma omp simd
    for (int j = 0; j < n; ++j) {
      bp[j] += gb * fm[j];
      A[j] += gb * dfm[j] * m[j];
    }
  }
  double* gu[3] = {ws.gx.data(), ws.gy.data(), ws.gz.data()};
  for (int a = 0; a < 3; ++a) std::fill(gu[a], gu[a] + n, 0.0);
  const double* u[3] = {ws.ux.data(), ws.uy.data(), ws.uz.data()};
  const double* mono = ws.mono.data();
  for (int p = P_ - 1; p >= 1; --p) {
    const int a = axis_[p];
    const double* bp = bar + p * stride;
    double* bpar = bar + parent_[p] * stride;
    const double* mpar = mono + parent_[p] * stride;
    double* g = gu[a];
    const double* ua = u[a];
#pragma omp simd
    for (int j = 0; j < n; ++j) {
      g[j] += bp[j] * mpar[j];
      bpar[j] += bp[j] * ua[j];
    }
  }
  if (n < n_all) std::fill(grad, grad + 3 * static_cast<size_t>(n_all), 0.0);  // ignored ones stay 0
  for (int j = 0; j < n; ++j) {
    const double x = u[0][j], y = u[1][j], z = u[2][j];
    const double gx = gu[0][j], gy = gu[1][j], gz = gu[2][j];
    const double radial = gx * x + gy * y + gz * z;
    const double inv = ws.inv_r[j];
    double* out = grad + 3 * static_cast<size_t>(ws.order[j]);
    out[0] = A[j] * x + (gx - radial * x) * inv;
    out[1] = A[j] * y + (gy - radial * y) * inv;
    out[2] = A[j] * z + (gz - radial * z) * inv;
  }
}

double MtpKernel::site_energy(int species_i, int n, const double* rij, const int* species_j,
                              double* grad, Workspace& ws) const {
  if (species_i < 0 || species_i >= C_)
    throw MtpError("central species " + std::to_string(species_i) + " outside the potential's 0.." +
                   std::to_string(C_ - 1));
  if (static_cast<int>(ws.species_start.size()) != C_ + 1 ||
      static_cast<int>(ws.moments.size()) != model_.alpha_moments_count)
    throw MtpError("workspace was made for a different potential");
  load_neighbours(n, rij, species_j, ws);
  radial_functions(species_i, ws);
  monomials(ws);
  const double energy = energy_from_moments(species_i, ws);
  if (grad != nullptr) {
    backpropagate(ws);
    neighbour_gradients(ws, n, grad);
  }
  return energy;
}

SEIMD_HOT
double MtpKernel::site_parameter_gradient(int species_i, int n, const double* rij,
                                          const int* species_j, double* dtheta, Workspace& ws,
                                          double* grad) const {
  const double energy = site_energy(species_i, n, rij, species_j, grad, ws);
  if (grad == nullptr) backpropagate(ws);  // site_energy did it when forces were asked for
  const int count = ws.count, stride = ws.capacity;
  const size_t radial_count = static_cast<size_t>(C_) * C_ * K_ * R_;
  std::fill(dtheta, dtheta + parameter_count(), 0.0);

  // H_mu(j) = sum over basic moments b with radial function mu of G_b m_b(u_j).
  double* H = ws.moment_weight.data();
  std::fill(H, H + static_cast<size_t>(K_) * stride, 0.0);
  const double* G = ws.moment_grad.data();
  for (size_t b = 0; b < basic_mu_.size(); ++b) {
    const double* m = ws.mono.data() + basic_mono_[b] * stride;
    double* h = H + basic_mu_[b] * stride;
    const double gb = G[b];
#pragma omp simd
    for (int j = 0; j < count; ++j) h[j] += gb * m[j];
  }
  // dV/dc[s_i][s][mu][xi] = scaling * sum_{j of species s} Q_xi(r_j) H_mu(j).
  const double scale = model_.scaling * (model_.has_radial_scaling ? model_.radial_scaling : 1.0);
  const double rmin = model_.min_dist, rcut = model_.max_dist;
  double* Q = ws.cheb.data();
  for (int s = 0; s < C_; ++s) {
    double* out = dtheta + (static_cast<size_t>(species_i) * C_ + s) * K_ * R_;
    for (int j = ws.species_start[s]; j < ws.species_start[s + 1]; ++j) {
      const double x = (2.0 * ws.r[j] - (rmin + rcut)) / (rcut - rmin);
      const double d = rcut - ws.r[j];
      Q[0] = d * d;
      if (R_ > 1) Q[1] = x * d * d;
      for (int xi = 2; xi < R_; ++xi) Q[xi] = 2.0 * x * Q[xi - 1] - Q[xi - 2];
      for (int mu = 0; mu < K_; ++mu) {
        const double w = scale * H[mu * stride + j];
        for (int xi = 0; xi < R_; ++xi) out[mu * R_ + xi] += w * Q[xi];
      }
    }
  }
  dtheta[radial_count + species_i] = 1.0;
  const auto& map = model_.alpha_moment_mapping;
  for (size_t s = 0; s < map.size(); ++s) dtheta[radial_count + C_ + s] = ws.moments[map[s]];
  return energy;
}

double MtpKernel::site_parameter_gradient_directional(int species_i, int n, const double* rij,
                                                      const int* species_j, const double* drij,
                                                      double* dtheta, double* ddtheta,
                                                      Workspace& ws) const {
  const double energy = site_parameter_gradient(species_i, n, rij, species_j, dtheta, ws);
  const int count = ws.count, stride = ws.capacity;
  const size_t radial_count = static_cast<size_t>(C_) * C_ * K_ * R_;
  const size_t nmom = ws.moments.size();
  ws.dr_radial.resize(stride);
  ws.dux.resize(stride);
  ws.duy.resize(stride);
  ws.duz.resize(stride);
  ws.dmono.resize(static_cast<size_t>(P_) * stride);
  ws.dmoments.assign(nmom, 0.0);
  ws.dmoment_grad.assign(nmom, 0.0);
  ws.dcheb.resize(R_);
  std::fill(ddtheta, ddtheta + parameter_count(), 0.0);

  // Tangents of r, u and the monomials for every kept neighbour.
  const double* u[3] = {ws.ux.data(), ws.uy.data(), ws.uz.data()};
  double* du[3] = {ws.dux.data(), ws.duy.data(), ws.duz.data()};
  for (int j = 0; j < count; ++j) {
    const double* d = drij + 3 * static_cast<size_t>(ws.order[j]);
    const double radial = u[0][j] * d[0] + u[1][j] * d[1] + u[2][j] * d[2];
    ws.dr_radial[j] = radial;
    for (int a = 0; a < 3; ++a) du[a][j] = (d[a] - u[a][j] * radial) * ws.inv_r[j];
  }
  double* dmono = ws.dmono.data();
  const double* mono = ws.mono.data();
  std::fill(dmono, dmono + count, 0.0);
  for (int p = 1; p < P_; ++p) {
    const int a = axis_[p];
    const double* par = mono + parent_[p] * stride;
    const double* dpar = dmono + parent_[p] * stride;
    double* out = dmono + p * stride;
    for (int j = 0; j < count; ++j) out[j] = dpar[j] * u[a][j] + par[j] * du[a][j];
  }
  // Tangents of the moments (basic sums, then the times list) ...
  double* dmom = ws.dmoments.data();
  const double* mom = ws.moments.data();
  for (size_t b = 0; b < basic_mu_.size(); ++b) {
    const double* f = ws.f.data() + basic_mu_[b] * stride;
    const double* df = ws.df.data() + basic_mu_[b] * stride;
    const double* m = mono + basic_mono_[b] * stride;
    const double* dm = dmono + basic_mono_[b] * stride;
    double sum = 0.0;
    for (int j = 0; j < count; ++j) sum += df[j] * ws.dr_radial[j] * m[j] + f[j] * dm[j];
    dmom[b] = sum;
  }
  for (const Product& t : times_) dmom[t.k] += t.m * (dmom[t.i] * mom[t.j] + mom[t.i] * dmom[t.j]);
  // ... and of G = dV/dmom through the reverse sweep. G is the final one that
  // site_parameter_gradient left in the workspace: a slot is complete before any row reads
  // it, so when the sweep reaches the rows writing slot k, G[k] already has its final value.
  const double* G = ws.moment_grad.data();
  double* dG = ws.dmoment_grad.data();
  const auto& map = model_.alpha_moment_mapping;
  for (auto t = times_.rbegin(); t != times_.rend(); ++t) {
    const double gk = G[t->k] * t->m, dgk = dG[t->k] * t->m;
    dG[t->i] += dgk * mom[t->j] + gk * dmom[t->j];
    dG[t->j] += dgk * mom[t->i] + gk * dmom[t->i];
  }
  // Radial block: d/de [scale sum_j Q_xi(r_j) H_mu(j)], H_mu(j) = sum_b G_b m_b(u_j).
  const double scale = model_.scaling * (model_.has_radial_scaling ? model_.radial_scaling : 1.0);
  const double rmin = model_.min_dist, rcut = model_.max_dist;
  const double dxdr = 2.0 / (rcut - rmin);
  std::vector<double> H(K_), dH(K_);
  double* Q = ws.cheb.data();
  double* dQ = ws.dcheb.data();
  for (int s = 0; s < C_; ++s) {
    double* out = ddtheta + (static_cast<size_t>(species_i) * C_ + s) * K_ * R_;
    for (int j = ws.species_start[s]; j < ws.species_start[s + 1]; ++j) {
      std::fill(H.begin(), H.end(), 0.0);
      std::fill(dH.begin(), dH.end(), 0.0);
      for (size_t b = 0; b < basic_mu_.size(); ++b) {
        const size_t at = static_cast<size_t>(basic_mono_[b]) * stride + j;
        H[basic_mu_[b]] += G[b] * mono[at];
        dH[basic_mu_[b]] += dG[b] * mono[at] + G[b] * dmono[at];
      }
      const double x = (2.0 * ws.r[j] - (rmin + rcut)) / (rcut - rmin);
      const double d = rcut - ws.r[j], d2 = d * d;
      double t0 = 1.0, t1 = x, dt0 = 0.0, dt1 = 1.0;
      for (int xi = 0; xi < R_; ++xi) {
        double t = t0, dt = dt0;
        if (xi == 1) {
          t = t1;
          dt = dt1;
        } else if (xi >= 2) {
          t = 2.0 * x * t1 - t0;
          dt = 2.0 * t1 + 2.0 * x * dt1 - dt0;
          t0 = t1;
          t1 = t;
          dt0 = dt1;
          dt1 = dt;
        }
        Q[xi] = t * d2;
        dQ[xi] = dt * dxdr * d2 - 2.0 * t * d;  // dQ_xi/dr
      }
      for (int mu = 0; mu < K_; ++mu)
        for (int xi = 0; xi < R_; ++xi)
          out[mu * R_ + xi] += scale * (dQ[xi] * ws.dr_radial[j] * H[mu] + Q[xi] * dH[mu]);
    }
  }
  for (size_t s = 0; s < map.size(); ++s) ddtheta[radial_count + C_ + s] = dmom[map[s]];
  return energy;
}

}  // namespace seimd
