"""fcc template matching of neighbour environments (the crystalline test of the SEI
observables).

The score is the root-mean-square deviation that polyhedral template matching (PTM;
Larsen, Schmidt & Schiotz, Modelling Simul. Mater. Sci. Eng. 24, 055007 (2016)) assigns
to the fcc template, computed from its definition:

* the environment is the centre (at the origin) and 12 neighbours, 13 points P; the
  template Q is the centre and the 12 unit vectors <110>/sqrt2 of a cuboctahedron;
* both point sets have their barycentre subtracted and are divided by (sum of the 13
  point norms) / 12, so that a perfect template has its neighbours at distance 1;
* RMSD = min over proper rotations R, scale s and the neighbour-to-vertex correspondence
  of sqrt(sum_i |s R P_i - Q_i|^2 / 13).

For a fixed correspondence, R and s are closed-form; with PTM's correspondence this
reproduces the RMSD that OVITO's PTM reports to 1e-14 (tests/test_fcc_match.py).

Why not OVITO's PTM itself (which seimd used first, which the tests keep as the
reference, and which ``SEIParams(fcc_matcher="ovito-ptm")`` still selects): the in-situ
SEI monitor must cost <= 5 % of the MD, and on a fully crystalline model-I electrolyte
OVITO's PTM, at 15-18 us per environment (it orders 18 neighbours by Voronoi face, then
builds and canonicalises the convex-hull graph), took 43 of the 55 ms per rank and
analysis. Only the fcc template is needed here, so the correspondence can come from the
geometry:

1. candidate rotations: neighbour a_k (k = 0, 1, 2 in order of distance) goes onto the
   vertex (1,1,0)/sqrt2, and the neighbour whose angle with a_k is closest to 60 deg
   onto one of the vertices (1,0,+-1)/sqrt2 (the rotations of the cube that fix a vertex
   split its four 60-deg neighbours into two orbits): 6 candidates;
2. iterative closest point, three passes: every template vertex takes the neighbour
   nearest to it (neighbours scaled by the mean length of the 12 nearest; all k offered
   neighbours compete, so a second-shell neighbour that came closer than a first-shell
   one can be passed over), then the optimal rotation of that choice is fitted (Horn's
   quaternion method, its eigenvalue by Newton as in Theobald's QCP);
3. a candidate counts if its final choice is one-to-one and, as PTM requires, the convex
   hull of the 12 chosen neighbours is a (triangulated) cuboctahedron: the 8 template
   triangles are hull facets and each of the 6 squares is, split along a diagonal;
4. the environment's RMSD is the smallest over the candidates that count (inf if none);
   with ``stop_below`` the search ends at the first candidate at or below it.

The C++ kernel (lammps_plugin/analysis/fcc_template.cpp, module ``seimd._analysis``)
takes 1-3 us per crystalline environment and ~7 us per disordered one, against 15-18 us
for OVITO's PTM.

Where the two differ: PTM takes the 12 neighbours with the largest Voronoi faces among
the 18 nearest; this matcher takes the 12 that fit the template best. With the same 12
the RMSD is the same to 1e-14. On the noisy 5Li2S.Li3P.LiCl antifluorite (anion
sublattice, Gaussian noise sigma per component, tests/test_fcc_match.py) the verdicts
(RMSD <= 0.15) are identical up to sigma = 0.2 A (thermal noise at 300-600 K is ~0.1 A),
and 1.0 % / 1.8 % of anions differ at 0.3 / 0.4 A (fcc fractions 97.4 vs 97.8 %, 35.5 vs
37.1 %); random packings and pristine LPSC are 0 % for both. A perfect bcc first shell
(8 + 4 neighbours) is a distorted cuboctahedron at RMSD 0.1453, below the usual 0.15 in
both methods; OVITO rejects most perfect-bcc sites only because its Voronoi ordering
breaks the tie among the six second neighbours at random, this matcher accepts them. The
SEI analysis therefore adds a bcc test of its own (seimd.sei.observables.bcc_like: where the
neighbour distances have their gap), so bcc-like anion sublattices are not counted as fcc.
"""

from __future__ import annotations

import numpy as np

NEIGHBOURS = 12
MAX_NEIGHBOURS = 64


def fcc_rmsd(vectors, stop_below: float = 0.0) -> np.ndarray:
    """PTM-style fcc RMSD of each environment (scale-free, dimensionless).

    vectors: (n, k, 3), 12 <= k <= 64: vectors from a centre to its k nearest
    neighbours, sorted by increasing length, in any length unit. The 12 neighbours on
    the template's vertices are chosen among them; k = 18 lets a second-shell neighbour
    that came closer than a first-shell one be passed over, as PTM's Voronoi ordering of
    18 neighbours does.
    stop_below: stop searching an environment's candidate correspondences at the first
    RMSD <= stop_below. A caller that needs only the verdict RMSD <= cutoff passes the
    cutoff (same verdict as the full search, 2-10x faster; an RMSD at or below it may
    then exceed the minimum); 0 gives the minimum.
    Returns (n,) RMSD; inf where no one-to-one correspondence with the template exists.
    """
    from seimd import _analysis

    vec = np.ascontiguousarray(vectors, dtype=np.float64)
    if vec.ndim != 3 or not NEIGHBOURS <= vec.shape[1] <= MAX_NEIGHBOURS or vec.shape[2] != 3:
        raise ValueError(f"vectors must have shape (n, k, 3) with {NEIGHBOURS} <= k <= "
                         f"{MAX_NEIGHBOURS}, got {vec.shape}")
    if not np.all(np.isfinite(vec)):
        raise ValueError("neighbour vectors must be finite")
    if len(vec) and np.any(np.einsum("nka,nka->nk", vec, vec) == 0.0):
        raise ValueError("neighbour vectors must be non-zero")
    return _analysis.fcc_rmsd(vec, float(stop_below))
