// Python bindings of the structure-analysis kernels (module `seimd._analysis`), used by
// the SEI observables (python/seimd/sei). Kept apart from the MTP kernel's module.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "fcc_template.h"

namespace py = pybind11;

namespace {

using DArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

DArray fcc_rmsd(const DArray& vectors, double stop_below) {
  if (vectors.ndim() != 3 || vectors.shape(2) != 3 ||
      vectors.shape(1) < seimd::analysis::kFccNeighbours || vectors.shape(1) > 64)
    throw py::value_error("vectors must have shape (n, k, 3) with 12 <= k <= 64");
  const auto n = static_cast<std::size_t>(vectors.shape(0));
  const int k = static_cast<int>(vectors.shape(1));
  DArray rmsd(static_cast<py::ssize_t>(n));
  {
    py::gil_scoped_release release;
    seimd::analysis::fcc_rmsd_many(vectors.data(), n, k, stop_below, rmsd.mutable_data());
  }
  return rmsd;
}

}  // namespace

PYBIND11_MODULE(_analysis, m) {
  m.doc() = "seimd structure-analysis kernels (C++)";
  m.def("fcc_rmsd", &fcc_rmsd, py::arg("vectors"), py::arg("stop_below") = 0.0,
        "PTM-style fcc template RMSD of (n, k, 3) neighbour vectors sorted by length "
        "(12 <= k <= 64); inf where no one-to-one correspondence is found. The search "
        "stops at the first candidate with RMSD <= stop_below.");
}
