// fcc template matching of neighbour environments: the RMSD that polyhedral template
// matching (PTM; Larsen, Schmidt & Schiotz, MSMSE 24, 055007 (2016)) gives for the fcc
// template, computed from its definition. Pure C++, no LAMMPS or Python dependency.
//
// Definition (points: the centre at the origin and 12 neighbours; template: the centre
// and the 12 vertices <110>/sqrt2 of a cuboctahedron): both sets have their barycentre
// removed and are divided by (sum of the 13 point norms)/12; then
//     RMSD = min over rotation R, scale s, correspondence of sqrt(sum |s R p - q|^2 / 13).
// The correspondence is found geometrically (fcc_template.cpp), not through PTM's
// convex-hull graph; python/seimd/sei/fcc_match.py documents the method and the tests
// measure its agreement with OVITO's PTM.
#pragma once

#include <cstddef>

namespace seimd {
namespace analysis {

constexpr int kFccNeighbours = 12;

// RMSD of one environment. `vectors` holds 12 <= k <= 64 neighbour vectors (x, y, z
// each), sorted by increasing length; the 12 that sit on the template's vertices are
// chosen among them. Returns +infinity when no one-to-one correspondence whose convex
// hull is a cuboctahedron is found.
// The search over candidate correspondences stops at the first RMSD <= stop_below: a
// caller that only needs the verdict "RMSD <= cutoff" passes the cutoff (the verdict is
// the same as that of the full search, the value returned may be above the minimum);
// pass 0 (or less) for the minimum itself.
double fcc_rmsd(const double *vectors, int k, double stop_below = 0.0);

// fcc_rmsd of n environments stored one after the other (n * k * 3 doubles), OpenMP
// parallel over environments.
void fcc_rmsd_many(const double *vectors, std::size_t n, int k, double stop_below,
                   double *rmsd);

}  // namespace analysis
}  // namespace seimd
