// fcc template matching (see fcc_template.h and python/seimd/sei/fcc_match.py).
//
// Per environment: 6 candidate rotations (the nearest neighbours 0, 1, 2 put on the
// vertex (1,1,0)/sqrt2, the neighbour closest to 60 deg from it on (1,0,+-1)/sqrt2),
// each refined by iterative closest point (choose, for every template vertex, the
// neighbour nearest to it; fit the optimal rotation; choose again), keeping the smallest
// RMSD over candidates whose final choice is one-to-one with a cuboctahedral convex hull
// (PTM's topological requirement). The optimal rotation of a fixed
// correspondence is Horn's quaternion method: the largest eigenpair of a symmetric 4x4
// matrix, its eigenvalue by Newton on the characteristic polynomial (Theobald's QCP).
#include "fcc_template.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace seimd {
namespace analysis {
namespace {

constexpr int kPoints = kFccNeighbours + 1;     // centre + neighbours
constexpr int kRefinements = 2;                 // choose-and-fit passes before the last
constexpr int kAnchors = 3;                     // nearest neighbours tried as first axis
constexpr int kMaxNeighbours = 64;              // chosen set kept as a 64-bit mask
constexpr double kS = 0.70710678118654752440;   // 1/sqrt2

const double kVertex[kFccNeighbours][3] = {
    {kS, kS, 0},  {kS, -kS, 0},  {-kS, kS, 0},  {-kS, -kS, 0},
    {kS, 0, kS},  {kS, 0, -kS},  {-kS, 0, kS},  {-kS, 0, -kS},
    {0, kS, kS},  {0, kS, -kS},  {0, -kS, kS},  {0, -kS, -kS}};
// first axis (1,1,0)/sqrt2 and the two second axes (1,0,+-1)/sqrt2, 60 deg from it
constexpr int kAnchorVertex = 0;
constexpr int kSecondVertex[2] = {4, 5};

inline double dot3(const double *a, const double *b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

// Orthonormal right-handed frame, rows e1 || a, e2 in the (a, b) plane, e3 = e1 x e2.
// Returns false when a and b are (nearly) parallel.
bool frame(const double *a, const double *b, double f[3][3]) {
  const double na = std::sqrt(dot3(a, a));
  for (int c = 0; c < 3; ++c) f[0][c] = a[c] / na;
  const double ab = dot3(b, f[0]);
  for (int c = 0; c < 3; ++c) f[1][c] = b[c] - ab * f[0][c];
  const double nb = std::sqrt(dot3(f[1], f[1]));
  if (!(nb > 1e-8 * std::sqrt(dot3(b, b)))) return false;
  for (int c = 0; c < 3; ++c) f[1][c] /= nb;
  f[2][0] = f[0][1] * f[1][2] - f[0][2] * f[1][1];
  f[2][1] = f[0][2] * f[1][0] - f[0][0] * f[1][2];
  f[2][2] = f[0][0] * f[1][1] - f[0][1] * f[1][0];
  return true;
}

// Largest eigenvalue and its unit eigenvector of a symmetric 4x4 matrix (cyclic Jacobi).
double largest_eigenpair(double a[4][4], double vec[4]) {
  double v[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
  for (int sweep = 0; sweep < 32; ++sweep) {
    double off = 0.0, diag = 0.0;
    for (int p = 0; p < 4; ++p) {
      diag += a[p][p] * a[p][p];
      for (int q = p + 1; q < 4; ++q) off += a[p][q] * a[p][q];
    }
    if (off <= 1e-26 * diag) break;            // |a_pq| <= 1e-13 |a|: converged
    for (int p = 0; p < 3; ++p) {
      for (int q = p + 1; q < 4; ++q) {
        if (a[p][q] * a[p][q] <= 1e-34 * diag) continue;
        const double theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
        const double t = (theta >= 0 ? 1.0 : -1.0) /
                         (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int r = 0; r < 4; ++r) {             // columns p, q
          const double arp = a[r][p], arq = a[r][q];
          a[r][p] = c * arp - s * arq;
          a[r][q] = s * arp + c * arq;
        }
        for (int r = 0; r < 4; ++r) {             // rows p, q
          const double apr = a[p][r], aqr = a[q][r];
          a[p][r] = c * apr - s * aqr;
          a[q][r] = s * apr + c * aqr;
        }
        for (int r = 0; r < 4; ++r) {
          const double vrp = v[r][p], vrq = v[r][q];
          v[r][p] = c * vrp - s * vrq;
          v[r][q] = s * vrp + c * vrq;
        }
      }
    }
  }
  int best = 0;
  for (int p = 1; p < 4; ++p)
    if (a[p][p] > a[best][best]) best = p;
  for (int r = 0; r < 4; ++r) vec[r] = v[r][best];
  return a[best][best];
}

inline double det3(double a00, double a01, double a02, double a10, double a11, double a12,
                   double a20, double a21, double a22) {
  return a00 * (a11 * a22 - a12 * a21) - a01 * (a10 * a22 - a12 * a20) +
         a02 * (a10 * a21 - a11 * a20);
}

// Largest eigenpair of Horn's traceless symmetric 4x4 matrix n built from s. The
// eigenvalue is the largest root of its characteristic polynomial
//   x^4 + c2 x^2 + c1 x + c0,  c2 = -2 |s|_F^2,  c1 = -8 det(s),  c0 = det(n),
// found by Newton from the upper bound `upper` (Theobald, Acta Cryst. A61, 478 (2005));
// the eigenvector is a column of the adjugate of n - x I. Falls back to Jacobi sweeps
// when the adjugate vanishes (a degenerate largest eigenvalue).
double horn_eigenpair(double n[4][4], const double s[3][3], double upper, double vec[4]) {
  double f2 = 0.0;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) f2 += s[a][b] * s[a][b];
  const double c2 = -2.0 * f2;
  const double c1 = -8.0 * det3(s[0][0], s[0][1], s[0][2], s[1][0], s[1][1], s[1][2],
                                s[2][0], s[2][1], s[2][2]);
  // det(n) by 2x2 minors of rows 0-1 and 2-3
  const double m01[6] = {n[0][0] * n[1][1] - n[0][1] * n[1][0], n[0][0] * n[1][2] - n[0][2] * n[1][0],
                         n[0][0] * n[1][3] - n[0][3] * n[1][0], n[0][1] * n[1][2] - n[0][2] * n[1][1],
                         n[0][1] * n[1][3] - n[0][3] * n[1][1], n[0][2] * n[1][3] - n[0][3] * n[1][2]};
  const double m23[6] = {n[2][0] * n[3][1] - n[2][1] * n[3][0], n[2][0] * n[3][2] - n[2][2] * n[3][0],
                         n[2][0] * n[3][3] - n[2][3] * n[3][0], n[2][1] * n[3][2] - n[2][2] * n[3][1],
                         n[2][1] * n[3][3] - n[2][3] * n[3][1], n[2][2] * n[3][3] - n[2][3] * n[3][2]};
  const double c0 = m01[0] * m23[5] - m01[1] * m23[4] + m01[2] * m23[3] + m01[3] * m23[2] -
                    m01[4] * m23[1] + m01[5] * m23[0];
  double x = upper;
  for (int it = 0; it < 50; ++it) {
    const double x2 = x * x;
    const double poly = (x2 + c2) * x2 + c1 * x + c0;
    const double slope = 4.0 * x2 * x + 2.0 * c2 * x + c1;
    if (slope == 0.0) break;
    const double step = poly / slope;
    x -= step;
    if (std::fabs(step) <= 1e-14 * std::fabs(x)) break;
  }
  // eigenvector: the largest column of adj(n - x I) (adj is symmetric; take rows)
  double m[4][4];
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) m[r][c] = n[r][c] - (r == c ? x : 0.0);
  double best_norm = 0.0;
  for (int r = 0; r < 4; ++r) {
    int rows[3], k = 0;
    for (int q = 0; q < 4; ++q)
      if (q != r) rows[k++] = q;
    double cof[4];
    for (int c = 0; c < 4; ++c) {
      int cols[3], l = 0;
      for (int q = 0; q < 4; ++q)
        if (q != c) cols[l++] = q;
      const double d = det3(m[rows[0]][cols[0]], m[rows[0]][cols[1]], m[rows[0]][cols[2]],
                            m[rows[1]][cols[0]], m[rows[1]][cols[1]], m[rows[1]][cols[2]],
                            m[rows[2]][cols[0]], m[rows[2]][cols[1]], m[rows[2]][cols[2]]);
      cof[c] = ((r + c) % 2 ? -d : d);
    }
    const double norm = cof[0] * cof[0] + cof[1] * cof[1] + cof[2] * cof[2] + cof[3] * cof[3];
    if (norm > best_norm) {
      best_norm = norm;
      for (int c = 0; c < 4; ++c) vec[c] = cof[c];
    }
    if (best_norm > 1e-6 * upper * upper * upper * upper * upper * upper) break;
  }
  if (!(best_norm > 1e-20 * upper * upper * upper * upper * upper * upper))
    return largest_eigenpair(n, vec);
  const double inv = 1.0 / std::sqrt(best_norm);
  for (int c = 0; c < 4; ++c) vec[c] *= inv;
  return x;
}

// Optimal fit of the normalised points (row 1 + v on template vertex v; row 0 the
// centre): rotation R with R p ~ q, and the RMSD at the optimal scale.
double fit(const double p[kPoints][3], double rot[3][3]) {
  double s[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};   // S_ab = sum_i p_a q_b
  double p2 = dot3(p[0], p[0]);                          // the template centre is 0
  for (int v = 0; v < kFccNeighbours; ++v) {
    const double *x = p[1 + v];
    p2 += dot3(x, x);
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) s[a][b] += x[a] * kVertex[v][b];
  }
  // Horn (1987): max over rotations of sum (R p).q is the largest eigenvalue of n
  double n[4][4] = {
      {s[0][0] + s[1][1] + s[2][2], s[1][2] - s[2][1], s[2][0] - s[0][2], s[0][1] - s[1][0]},
      {s[1][2] - s[2][1], s[0][0] - s[1][1] - s[2][2], s[0][1] + s[1][0], s[2][0] + s[0][2]},
      {s[2][0] - s[0][2], s[0][1] + s[1][0], -s[0][0] + s[1][1] - s[2][2], s[1][2] + s[2][1]},
      {s[0][1] - s[1][0], s[2][0] + s[0][2], s[1][2] + s[2][1], -s[0][0] - s[1][1] + s[2][2]}};
  double quat[4] = {1.0, 0.0, 0.0, 0.0};
  // sum (R p).q <= (|p|^2 + |q|^2) / 2: Newton starts above the largest root
  const double overlap = horn_eigenpair(n, s, 0.5 * (p2 + kFccNeighbours), quat);
  const double w = quat[0], x = quat[1], y = quat[2], z = quat[3];
  rot[0][0] = w * w + x * x - y * y - z * z;
  rot[0][1] = 2 * (x * y - w * z);
  rot[0][2] = 2 * (x * z + w * y);
  rot[1][0] = 2 * (x * y + w * z);
  rot[1][1] = w * w - x * x + y * y - z * z;
  rot[1][2] = 2 * (y * z - w * x);
  rot[2][0] = 2 * (x * z - w * y);
  rot[2][1] = 2 * (y * z + w * x);
  rot[2][2] = w * w - x * x - y * y + z * z;
  // sum |s R p - q|^2 at the optimal s = overlap / |p|^2, with |q|^2 = 12
  const double residual = kFccNeighbours - overlap * overlap / p2;
  return std::sqrt((residual > 0 ? residual : 0.0) / kPoints);
}

// For every template vertex, the neighbour nearest to it after rotating by rot and
// dividing by unit. Returns false when two vertices chose the same neighbour (the choice
// is still complete: an intermediate refinement pass fits it all the same).
bool choose(const double *vec, int k, double unit, const double rot[3][3],
            int chosen[kFccNeighbours]) {
  double y[kMaxNeighbours][3], y2[kMaxNeighbours];
  for (int j = 0; j < k; ++j) {
    const double *x = vec + 3 * j;
    for (int a = 0; a < 3; ++a) y[j][a] = dot3(rot[a], x) / unit;
    y2[j] = dot3(y[j], y[j]);
  }
  std::uint64_t used = 0;
  bool one_to_one = true;
  for (int v = 0; v < kFccNeighbours; ++v) {
    int best = 0;
    double best_d = std::numeric_limits<double>::infinity();
    for (int j = 0; j < k; ++j) {
      const double d = y2[j] - 2.0 * dot3(y[j], kVertex[v]);   // |y - t|^2 - 1
      if (d < best_d) { best_d = d; best = j; }
    }
    const std::uint64_t bit = std::uint64_t(1) << best;
    if (used & bit) one_to_one = false;
    used |= bit;
    chosen[v] = best;
  }
  return one_to_one;
}

// The faces of the cuboctahedron in kVertex numbering: 8 triangles, 6 squares (cyclic).
constexpr int kTriangles[8][3] = {{0, 4, 8}, {0, 5, 9}, {1, 4, 10}, {1, 5, 11},
                                  {2, 6, 8}, {2, 7, 9}, {3, 6, 10}, {3, 7, 11}};
constexpr int kSquares[6][4] = {{0, 4, 1, 5}, {2, 6, 3, 7}, {0, 8, 2, 9},
                                {1, 10, 3, 11}, {4, 8, 6, 10}, {5, 9, 7, 11}};
constexpr double kHullTolerance = 1e-9;   // in units of the neighbour distance

// Whether the plane through points a, b, c of q (rows 1..12) has every point of q on
// the side of their centroid (up to the tolerance): (a, b, c) is a convex-hull facet.
bool hull_facet(const double q[kPoints][3], const double centroid[3], int a, int b, int c) {
  const double *pa = q[1 + a], *pb = q[1 + b], *pc = q[1 + c];
  double u[3], w[3], n[3];
  for (int d = 0; d < 3; ++d) { u[d] = pb[d] - pa[d]; w[d] = pc[d] - pa[d]; }
  n[0] = u[1] * w[2] - u[2] * w[1];
  n[1] = u[2] * w[0] - u[0] * w[2];
  n[2] = u[0] * w[1] - u[1] * w[0];
  const double len = std::sqrt(dot3(n, n));
  if (!(len > 0)) return false;
  double inside = 0.0;
  for (int d = 0; d < 3; ++d) inside += n[d] * (centroid[d] - pa[d]);
  const double sign = inside > 0 ? -1.0 / len : 1.0 / len;      // n * sign points outward
  for (int v = 0; v < kFccNeighbours; ++v) {
    double out = 0.0;
    for (int d = 0; d < 3; ++d) out += n[d] * (q[1 + v][d] - pa[d]);
    if (out * sign > kHullTolerance) return false;
  }
  return true;
}

// PTM accepts an environment only if the convex hull of its 12 neighbours is a
// (triangulated) cuboctahedron; with the correspondence known this is a test of the 14
// faces: each template triangle is a hull facet, and each square is, split along one of
// its two diagonals. This rejects e.g. the bcc and hcp first shells, whose best
// cuboctahedral fit can come close to the cutoff.
bool hull_is_cuboctahedron(const double q[kPoints][3]) {
  double centroid[3] = {0, 0, 0};
  for (int v = 0; v < kFccNeighbours; ++v)
    for (int d = 0; d < 3; ++d) centroid[d] += q[1 + v][d] / kFccNeighbours;
  for (const auto &t : kTriangles)
    if (!hull_facet(q, centroid, t[0], t[1], t[2])) return false;
  for (const auto &sq : kSquares) {
    const bool diagonal02 = hull_facet(q, centroid, sq[0], sq[1], sq[2]) &&
                            hull_facet(q, centroid, sq[0], sq[2], sq[3]);
    if (!diagonal02 && !(hull_facet(q, centroid, sq[0], sq[1], sq[3]) &&
                         hull_facet(q, centroid, sq[1], sq[2], sq[3])))
      return false;
  }
  return true;
}

// Centre + chosen neighbours, barycentre removed, divided by (sum of norms)/12.
void normalise(const double *vec, const int chosen[kFccNeighbours], double p[kPoints][3]) {
  double bary[3] = {0, 0, 0};
  p[0][0] = p[0][1] = p[0][2] = 0.0;
  for (int v = 0; v < kFccNeighbours; ++v)
    for (int a = 0; a < 3; ++a) {
      p[1 + v][a] = vec[3 * chosen[v] + a];
      bary[a] += p[1 + v][a];
    }
  double norms = 0.0;
  for (int i = 0; i < kPoints; ++i) {
    for (int a = 0; a < 3; ++a) p[i][a] -= bary[a] / kPoints;
    norms += std::sqrt(dot3(p[i], p[i]));
  }
  const double scale = kFccNeighbours / norms;
  for (int i = 0; i < kPoints; ++i)
    for (int a = 0; a < 3; ++a) p[i][a] *= scale;
}

// The two template frames (first axis on kAnchorVertex, second on kSecondVertex[c]):
// constants, built once.
struct TemplateFrames {
  double f[2][3][3];
  TemplateFrames() {
    for (int c = 0; c < 2; ++c) frame(kVertex[kAnchorVertex], kVertex[kSecondVertex[c]], f[c]);
  }
};

const TemplateFrames &template_frames() {
  static const TemplateFrames frames;
  return frames;
}

}  // namespace

double fcc_rmsd(const double *vec, int k, double stop_below) {
  if (k < kFccNeighbours || k > kMaxNeighbours)
    throw std::invalid_argument("fcc_rmsd: need 12 to 64 neighbours per environment");
  double dir[kFccNeighbours][3];
  double unit = 0.0;
  for (int j = 0; j < kFccNeighbours; ++j) {
    const double len = std::sqrt(dot3(vec + 3 * j, vec + 3 * j));
    for (int a = 0; a < 3; ++a) dir[j][a] = vec[3 * j + a] / len;
    unit += len / kFccNeighbours;
  }
  const auto &template_frame = template_frames().f;

  double best = std::numeric_limits<double>::infinity();
  for (int anchor = 0; anchor < kAnchors; ++anchor) {
    int second = -1;
    double closest = std::numeric_limits<double>::infinity();
    for (int j = 0; j < kFccNeighbours; ++j) {
      if (j == anchor) continue;
      const double gap = std::fabs(dot3(dir[j], dir[anchor]) - 0.5);
      if (gap < closest) { closest = gap; second = j; }
    }
    double env_frame[3][3];
    if (!frame(dir[anchor], dir[second], env_frame)) continue;
    for (int c = 0; c < 2; ++c) {
      double rot[3][3];                          // env -> template: Ft^T Fe (row frames)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b)
          rot[a][b] = template_frame[c][0][a] * env_frame[0][b] +
                      template_frame[c][1][a] * env_frame[1][b] +
                      template_frame[c][2][a] * env_frame[2][b];
      int chosen[kFccNeighbours], previous[kFccNeighbours];
      double p[kPoints][3];
      double rmsd = 0.0;
      bool valid = true;
      for (int pass = 0; pass <= kRefinements; ++pass) {
        valid = choose(vec, k, unit, rot, chosen);
        if (pass > 0 && std::equal(chosen, chosen + kFccNeighbours, previous))
          break;                                 // converged: the same fit again
        normalise(vec, chosen, p);
        rmsd = fit(p, rot);
        std::copy(chosen, chosen + kFccNeighbours, previous);
      }
      if (valid && rmsd < best && hull_is_cuboctahedron(p)) best = rmsd;
      if (best <= stop_below) return best;
    }
  }
  return best;
}

void fcc_rmsd_many(const double *vectors, std::size_t n, int k, double stop_below,
                   double *rmsd) {
  if (k < kFccNeighbours || k > kMaxNeighbours)
    throw std::invalid_argument("fcc_rmsd: need 12 to 64 neighbours per environment");
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i)
    rmsd[i] = fcc_rmsd(vectors + static_cast<std::size_t>(i) * k * 3, k, stop_below);
}

}  // namespace analysis
}  // namespace seimd
