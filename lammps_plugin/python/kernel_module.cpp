// Python bindings of the MTP kernel (module `seimd._kernel`): the same C++ code that
// `pair_style mtp` runs, so Python results and LAMMPS results can be compared bit for bit.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "active_set.h"
#include "mtp_kernel.h"
#include "mtp_model.h"

namespace py = pybind11;
using seimd::MtpError;
using seimd::MtpKernel;
using seimd::MtpModel;

namespace {

using DArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;
using LArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

void require(bool ok, const std::string& what) {
  if (!ok) throw py::value_error(what);
}

py::tuple site_energy(const MtpKernel& k, int species_i, const DArray& rij, const IArray& species_j) {
  require(rij.ndim() == 2 && rij.shape(1) == 3, "rij must have shape (n, 3)");
  require(species_j.ndim() == 1 && species_j.shape(0) == rij.shape(0),
          "species_j must have one entry per neighbour");
  const int n = static_cast<int>(rij.shape(0));
  DArray grad({n, 3});
  auto ws = k.workspace();
  const double v = k.site_energy(species_i, n, rij.data(), species_j.data(), grad.mutable_data(), ws);
  return py::make_tuple(v, grad);
}

py::tuple site_parameter_gradient(const MtpKernel& k, int species_i, const DArray& rij,
                                  const IArray& species_j) {
  require(rij.ndim() == 2 && rij.shape(1) == 3, "rij must have shape (n, 3)");
  require(species_j.ndim() == 1 && species_j.shape(0) == rij.shape(0),
          "species_j must have one entry per neighbour");
  DArray dtheta(k.parameter_count());
  auto ws = k.workspace();
  const double v = k.site_parameter_gradient(species_i, static_cast<int>(rij.shape(0)), rij.data(),
                                             species_j.data(), dtheta.mutable_data(), ws);
  return py::make_tuple(v, dtheta);
}

void check_csr(const MtpKernel& k, const IArray& species, const LArray& offsets,
               const IArray& neighbours, const DArray& rij) {
  require(species.ndim() == 1, "species must be 1-D");
  const int64_t N = species.shape(0);
  require(offsets.ndim() == 1 && offsets.shape(0) == N + 1, "offsets must have N + 1 entries");
  const int64_t M = neighbours.shape(0);
  require(neighbours.ndim() == 1 && rij.ndim() == 2 && rij.shape(0) == M && rij.shape(1) == 3,
          "neighbours (M,) and rij (M, 3) must match");
  const int32_t* sp = species.data();
  const int64_t* off = offsets.data();
  const int32_t* nb = neighbours.data();
  require(off[0] == 0 && off[N] == M, "offsets must run from 0 to M");
  for (int64_t i = 0; i < N; ++i) require(off[i + 1] >= off[i], "offsets must not decrease");
  for (int64_t q = 0; q < M; ++q) require(nb[q] >= 0 && nb[q] < N, "neighbour index out of range");
  for (int64_t i = 0; i < N; ++i)
    require(sp[i] >= 0 && sp[i] < k.species_count(),
            "species " + std::to_string(sp[i]) + " of atom " + std::to_string(i) +
                " outside the potential's 0.." + std::to_string(k.species_count() - 1));
}

// For every atom of a CSR neighbour list: dV_i/dtheta into out(i) (parameter_count values).
template <class Out>
void for_each_parameter_gradient(const MtpKernel& k, const IArray& species, const LArray& offsets,
                                 const IArray& neighbours, const DArray& rij, Out out) {
  const int64_t N = species.shape(0);
  const int32_t* sp = species.data();
  const int64_t* off = offsets.data();
  const int32_t* nb = neighbours.data();
  auto ws = k.workspace();
  std::vector<double> dtheta(k.parameter_count());
  std::vector<int> nsp;
  for (int64_t i = 0; i < N; ++i) {
    const int n = static_cast<int>(off[i + 1] - off[i]);
    nsp.resize(n);
    for (int q = 0; q < n; ++q) nsp[q] = sp[nb[off[i] + q]];
    k.site_parameter_gradient(sp[i], n, rij.data() + 3 * off[i], nsp.data(), dtheta.data(), ws);
    out(i, dtheta.data());
  }
}

// dV_i/dtheta of every atom of a configuration (N x parameter_count), CSR as in compute().
DArray parameter_gradients(const MtpKernel& k, const IArray& species, const LArray& offsets,
                           const IArray& neighbours, const DArray& rij) {
  check_csr(k, species, offsets, neighbours, rij);
  const int64_t N = species.shape(0);
  const int P = k.parameter_count();
  DArray out({N, static_cast<int64_t>(P)});
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    for_each_parameter_gradient(k, species, offsets, neighbours, rij, [&](int64_t i, const double* d) {
      std::copy(d, d + P, o + i * P);
    });
  }
  return out;
}

// sum_i dV_i/dtheta and its exact derivative along pair displacements drij (M x 3):
// what force and stress matching need (see MtpKernel::site_parameter_gradient_directional).
py::tuple parameter_gradient_directional(const MtpKernel& k, const IArray& species,
                                         const LArray& offsets, const IArray& neighbours,
                                         const DArray& rij, const DArray& drij) {
  check_csr(k, species, offsets, neighbours, rij);
  require(drij.ndim() == 2 && drij.shape(0) == rij.shape(0) && drij.shape(1) == 3,
          "drij must have the shape of rij");
  const int64_t N = species.shape(0);
  const int P = k.parameter_count();
  DArray total(P), directional(P);
  double* tot = total.mutable_data();
  double* dir = directional.mutable_data();
  std::fill(tot, tot + P, 0.0);
  std::fill(dir, dir + P, 0.0);
  const int32_t* sp = species.data();
  const int64_t* off = offsets.data();
  const int32_t* nb = neighbours.data();
  {
    py::gil_scoped_release release;
    auto ws = k.workspace();
    std::vector<double> dtheta(P), ddtheta(P);
    std::vector<int> nsp;
    for (int64_t i = 0; i < N; ++i) {
      const int n = static_cast<int>(off[i + 1] - off[i]);
      nsp.resize(n);
      for (int q = 0; q < n; ++q) nsp[q] = sp[nb[off[i] + q]];
      k.site_parameter_gradient_directional(sp[i], n, rij.data() + 3 * off[i], nsp.data(),
                                            drij.data() + 3 * off[i], dtheta.data(),
                                            ddtheta.data(), ws);
      for (int p = 0; p < P; ++p) {
        tot[p] += dtheta[p];
        dir[p] += ddtheta[p];
      }
    }
  }
  return py::make_tuple(total, directional);
}

// Energies, forces and virial of a configuration from a CSR neighbour list:
// the neighbours of atom i are entries offsets[i] .. offsets[i+1]-1 of `neighbours`
// (the index of the neighbour's atom, 0..N-1, periodic images folded back) and of
// `rij` (its displacement x_j - x_i, Angstrom).
py::dict compute(const MtpKernel& k, const IArray& species, const LArray& offsets,
                 const IArray& neighbours, const DArray& rij, int threads) {
  check_csr(k, species, offsets, neighbours, rij);
  const int64_t N = species.shape(0);
  const int32_t* sp = species.data();
  const int64_t* off = offsets.data();
  const int32_t* nb = neighbours.data();
  const double* d = rij.data();

  DArray energies(N), forces({N, static_cast<int64_t>(3)}), virial({3, 3});
  DArray atom_virial({N, static_cast<int64_t>(9)});
  double* e = energies.mutable_data();
  double* f = forces.mutable_data();
  double* w = virial.mutable_data();
  double* wa = atom_virial.mutable_data();
  std::fill(f, f + 3 * N, 0.0);
  std::fill(w, w + 9, 0.0);
  std::fill(wa, wa + 9 * N, 0.0);
  std::string error;
  {
    py::gil_scoped_release release;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    std::vector<std::vector<double>> fbuf(threads), wabuf(threads);
    std::vector<std::array<double, 9>> wbuf(threads);
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
      const int tid = omp_get_thread_num();
#else
      const int tid = 0;
#endif
      auto& fl = fbuf[tid];
      auto& wal = wabuf[tid];
      auto& wl = wbuf[tid];
      fl.assign(3 * N, 0.0);
      wal.assign(9 * N, 0.0);
      wl.fill(0.0);
      auto ws = k.workspace();
      std::vector<double> grad;
      std::vector<int> nsp;
#pragma omp for schedule(dynamic, 16)
      for (int64_t i = 0; i < N; ++i) {
        const int64_t q0 = off[i];
        const int n = static_cast<int>(off[i + 1] - q0);
        grad.resize(3 * static_cast<size_t>(n));
        nsp.resize(n);
        for (int q = 0; q < n; ++q) nsp[q] = sp[nb[q0 + q]];
        try {
          e[i] = k.site_energy(sp[i], n, d + 3 * q0, nsp.data(), grad.data(), ws);
        } catch (const std::exception& ex) {
#pragma omp critical
          error = ex.what();
          continue;
        }
        for (int q = 0; q < n; ++q) {
          const double* g = &grad[3 * q];
          const double* r = d + 3 * (q0 + q);
          const int64_t j = nb[q0 + q];
          for (int a = 0; a < 3; ++a) {
            fl[3 * i + a] += g[a];
            fl[3 * j + a] -= g[a];
            // Virial as MLIP stores it, W_ab = -sum g_a r_b, split half to i and half to j.
            for (int b = 0; b < 3; ++b) {
              const double v = -g[a] * r[b];
              wl[3 * a + b] += v;
              wal[9 * i + 3 * a + b] += 0.5 * v;
              wal[9 * j + 3 * a + b] += 0.5 * v;
            }
          }
        }
      }
    }
    for (int t = 0; t < threads; ++t) {
      if (fbuf[t].empty()) continue;
      for (int64_t q = 0; q < 3 * N; ++q) f[q] += fbuf[t][q];
      for (int64_t q = 0; q < 9 * N; ++q) wa[q] += wabuf[t][q];
      for (int q = 0; q < 9; ++q) w[q] += wbuf[t][q];
    }
  }
  if (!error.empty()) throw MtpError(error);
  py::dict out;
  out["site_energies"] = energies;
  out["forces"] = forces;
  out["virial"] = virial;
  out["atom_virial"] = atom_virial;
  return out;
}

// MaxVol grades of every atom from a CSR neighbour list (same code as pair_style mtp).
DArray grades(const seimd::GradeEvaluator& g, const IArray& species, const LArray& offsets,
              const IArray& neighbours, const DArray& rij) {
  const MtpKernel& k = g.kernel();
  check_csr(k, species, offsets, neighbours, rij);
  const int64_t N = species.shape(0);
  DArray out(N);
  double* o = out.mutable_data();
  const int32_t* sp = species.data();
  {
    py::gil_scoped_release release;
    const int stride = g.max_nonzero_count();
    std::vector<double> rows(static_cast<size_t>(N) * stride);
    for_each_parameter_gradient(k, species, offsets, neighbours, rij, [&](int64_t i, const double* d) {
      g.compact(sp[i], d, rows.data() + i * stride);
    });
    std::vector<int> species_of_atom(sp, sp + N);
    g.grade_atoms(static_cast<int>(N), species_of_atom.data(), rows.data(), o, 1);
  }
  return out;
}

// Configuration-mode grade: the row is the mean over atoms of dV_i/dtheta (= dE/dtheta / N),
// summed in atom order; pair_style mtp sums the same rows over threads and MPI ranks.
double configuration_grade(const seimd::GradeEvaluator& g, const IArray& species,
                           const LArray& offsets, const IArray& neighbours, const DArray& rij) {
  const MtpKernel& k = g.kernel();
  check_csr(k, species, offsets, neighbours, rij);
  const int64_t N = species.shape(0);
  require(N > 0, "a configuration grade needs at least one atom");
  py::gil_scoped_release release;
  std::vector<double> row(static_cast<size_t>(k.parameter_count()), 0.0);
  for_each_parameter_gradient(k, species, offsets, neighbours, rij, [&](int64_t, const double* d) {
    for (size_t q = 0; q < row.size(); ++q) row[q] += d[q];
  });
  for (double& v : row) v /= static_cast<double>(N);
  return g.grade_row(row.data());
}

double grade_row(const seimd::GradeEvaluator& g, const DArray& row) {
  require(row.ndim() == 1 && row.shape(0) == g.kernel().parameter_count(),
          "row must have parameter_count entries");
  return g.grade_row(row.data());
}

std::string grade_mode(const std::vector<double>& weights, const std::string& source) {
  require(weights.size() == 4, "weights must be (nbh, energy, force, stress)");
  return seimd::grade_mode_name(
      seimd::grade_mode({weights[0], weights[1], weights[2], weights[3]}, source));
}

py::dict read_als(const std::string& path) {
  const auto als = seimd::read_als_file(path);
  const py::ssize_t n = als.n;
  DArray a({n, n}), inv({n, n});
  std::copy(als.active.begin(), als.active.end(), a.mutable_data());
  std::copy(als.inverse.begin(), als.inverse.end(), inv.mutable_data());
  py::dict out;
  out["model"] = als.model;
  out["weights"] = std::vector<double>(als.weights.begin(), als.weights.end());
  out["active"] = a;
  out["inverse"] = inv;
  out["rows"] = als.rows;
  out["configurations"] = als.configurations;
  return out;
}

}  // namespace

PYBIND11_MODULE(_kernel, m) {
  m.doc() = "seimd MTP kernel (C++), shared with the LAMMPS pair style";
  py::register_exception<MtpError>(m, "MtpError", PyExc_ValueError);

  py::class_<MtpModel>(m, "Model", "An MTP as parsed by the C++ reader")
      .def_static("parse", &seimd::parse_mtp, py::arg("text"), py::arg("source") = "<string>")
      .def_static("read", &seimd::read_mtp_file, py::arg("path"))
      .def_readonly("potential_name", &MtpModel::potential_name)
      .def_readonly("scaling", &MtpModel::scaling)
      .def_readonly("radial_scaling", &MtpModel::radial_scaling)
      .def_readonly("species_count", &MtpModel::species_count)
      .def_readonly("potential_tag", &MtpModel::potential_tag)
      .def_readonly("min_dist", &MtpModel::min_dist)
      .def_readonly("max_dist", &MtpModel::max_dist)
      .def_readonly("radial_basis_size", &MtpModel::radial_basis_size)
      .def_readonly("radial_funcs_count", &MtpModel::radial_funcs_count)
      .def_readonly("radial_coeffs", &MtpModel::radial_coeffs)
      .def_readonly("alpha_moments_count", &MtpModel::alpha_moments_count)
      .def_readonly("alpha_index_basic", &MtpModel::alpha_index_basic)
      .def_readonly("alpha_index_times", &MtpModel::alpha_index_times)
      .def_readonly("alpha_moment_mapping", &MtpModel::alpha_moment_mapping)
      .def_readonly("species_coeffs", &MtpModel::species_coeffs)
      .def_readonly("moment_coeffs", &MtpModel::moment_coeffs)
      .def_property_readonly("elements", &MtpModel::elements)
      .def_property_readonly("parameter_count", &MtpModel::parameter_count)
      .def_property_readonly("is_trained", &MtpModel::is_trained);

  py::class_<MtpKernel>(m, "Kernel", "Site energies and their gradients for one MTP")
      .def(py::init<MtpModel>(), py::arg("model"))
      .def_property_readonly("cutoff", &MtpKernel::cutoff)
      .def_property_readonly("species_count", &MtpKernel::species_count)
      .def_property_readonly("model", &MtpKernel::model)
      .def("site_energy", &site_energy, py::arg("species_i"), py::arg("rij"), py::arg("species_j"),
           "V_i (eV) and dV_i/dr_ij (n, 3) (eV/A) of one neighbourhood")
      .def_property_readonly("parameter_count", &MtpKernel::parameter_count)
      .def("site_parameter_gradient", &site_parameter_gradient, py::arg("species_i"), py::arg("rij"),
           py::arg("species_j"), "V_i (eV) and dV_i/dtheta (parameter_count,) of one neighbourhood")
      .def("parameter_gradients", &parameter_gradients, py::arg("species"), py::arg("offsets"),
           py::arg("neighbours"), py::arg("rij"),
           "dV_i/dtheta of every atom (N, parameter_count) from a CSR neighbour list")
      .def("parameter_gradient_directional", &parameter_gradient_directional, py::arg("species"),
           py::arg("offsets"), py::arg("neighbours"), py::arg("rij"), py::arg("drij"),
           "(dE/dtheta, sum over pairs of d(dV_i/dtheta)/dr_ij . drij), both (parameter_count,)")
      .def("compute", &compute, py::arg("species"), py::arg("offsets"), py::arg("neighbours"),
           py::arg("rij"), py::arg("threads") = 0,
           "site energies, forces, virial (MLIP convention) of a CSR neighbour list");

  m.def("read_als", &read_als, py::arg("path"),
        "An MLIP-2 .als active-set file as the C++ reader sees it (A^-1 un-transposed)");

  py::class_<seimd::GradeEvaluator>(m, "Grader", "MaxVol extrapolation grades (as pair_style mtp)")
      .def(py::init([](const MtpKernel& k, const DArray& inverse) {
             require(inverse.ndim() == 2 && inverse.shape(0) == k.parameter_count() &&
                         inverse.shape(1) == k.parameter_count(),
                     "inverse must be the n x n matrix A^-1, n = parameter_count");
             std::vector<double> inv(inverse.data(), inverse.data() + inverse.size());
             return new seimd::GradeEvaluator(k, inv);
           }),
           py::arg("kernel"), py::arg("inverse"), py::keep_alive<1, 2>())
      .def("grades", &grades, py::arg("species"), py::arg("offsets"), py::arg("neighbours"),
           py::arg("rij"), "grade of every atom (N,) from a CSR neighbour list")
      .def("configuration_grade", &configuration_grade, py::arg("species"), py::arg("offsets"),
           py::arg("neighbours"), py::arg("rij"),
           "configuration-mode grade: of the row dE/dtheta / N of a CSR neighbour list")
      .def("grade_row", &grade_row, py::arg("row"), "max_j |(row A^-1)_j| of one full row");

  m.def("grade_mode", &grade_mode, py::arg("weights"), py::arg("source") = "<weights>",
        "'neighbourhood' or 'configuration' for .als weights (nbh, energy, force, stress); "
        "MtpError for any other combination");
}
