"""SEI observables: reduced, crystalline and amorphous fractions of Li6PS5Cl, phase labels.

Definitions: docs/sei-observables.md (Chaney et al. 2024, appendix). Lengths
in Angstrom. LAMMPS atom types of seimd: 1 Li, 2 P, 3 S, 4 Cl (:data:`TYPES`).

Reduced fraction (P-S coordination, ``ps_cutoff`` = 3.0 A)::

    alpha = (8 N(PS_0) + 6 N(PS_1) + 4 N(PS_2) + 2 N(PS_3)) / (8 Z)

N(PS_k) is the number of P atoms with k S atoms within ``ps_cutoff``; a P with more than
4 S (only possible in a badly compressed structure) is counted as PS_4, i.e. unreduced.
Z is the number of formula units, the number of P atoms at the start of a run.

Chemical state of each anion (P, S, Cl): *pristine* or *reduced*:

* a P with 4 S within ``ps_cutoff`` (an intact PS4 unit) is pristine, a P with fewer S
  is reduced;
* an S bonded to a P (within ``ps_cutoff``) is pristine if one of its P is intact, else
  reduced;
* a free anion (Cl, or S without P within ``ps_cutoff``) takes the state of the nearest
  P within ``context_radius`` (6.0 A), and is reduced if no P is that close (Li2S/LiCl
  surroundings). 6.0 A because the Cl-P distance in LPSC is a/2 = 5.14 A (S 4c-P:
  4.45 A); in the antifluorite every 7th anion is a P, 4-6 A away.

Crystalline reduced product: the 5Li2S.Li3P.LiCl antifluorite solid solution, whose
anions (P, S, Cl together) form an fcc sublattice. A *reduced* anion is *crystalline*
when

1. fcc template matching on the anion sublattice (Li removed) gives an RMSD <=
   ``fcc_rmsd_cutoff`` (0.15). The RMSD is that of polyhedral template matching (PTM)
   for the fcc template. ``fcc_matcher`` picks the implementation: ``"template"``
   (default), seimd's own C++ matcher (:mod:`seimd.sei.fcc_match`: same RMSD, a
   geometric instead of a graph-based correspondence search, 5-15x faster), or
   ``"ovito-ptm"``, OVITO's PTM with only the FCC template enabled (``pip install
   'seimd[ovito]'``). The two agree on every anion of noisy antifluorite up to noise of
   sigma = 0.2 A per component (thermal noise at 300-600 K is ~0.1 A) and differ on 1-2 %
   of anions at 0.3-0.4 A (tests/test_fcc_match.py);
2. its 12 nearest anions lie within ``fcc_max_distance`` (5.0 A). PTM is scale
   invariant; the cap rejects "fcc" matches of sparse anions, e.g. in the Li metal
   (neighbouring anions of the antifluorite are ~3.96 A apart);
3. its 18 nearest anions lie within ``ptm_max_distance`` (7.5 A). Both matchers look at
   the 18 nearest neighbours (OVITO's PTM orders them by Voronoi face before it matches
   the template; seimd's matcher lets them compete for the 12 template vertices), so the
   verdict depends on exactly these 18 points. The cap makes the verdict a function of
   the anions within 7.5 A only, which is what makes the result exact on an MPI rank
   with a finite ghost shell (see :func:`required_radius`). In the antifluorite the
   18th neighbour is a second-shell anion at a ~ 5.6 A, below a crystal surface a
   third-shell anion at a sqrt(3/2) ~ 6.9 A;
4. its shell is not bcc-like (:func:`bcc_like`: the gap in the neighbour distances after
   the 14th neighbour is not larger than the one after the 12th). A perfect bcc first shell
   (8 + 4 of the 6 second neighbours) is a distorted cuboctahedron at fcc RMSD 0.1453, under
   the 0.15 cutoff; OVITO's PTM with its BCC template enabled calls it bcc, and so does this
   test, so bcc-like anion sublattices (seen in glasses annealed at 600 K) do not count as
   the antifluorite (tests/test_fcc_match.py compares with OVITO's PTM, FCC/HCP/BCC).

Pristine anions are never crystalline (an intact PS4 cannot sit on antifluorite sites,
and the free S and Cl of LPSC belong to the electrolyte); the template matching, the
expensive part, only runs for reduced anions, so pristine electrolyte costs almost nothing. With N_cryst the
number of crystalline anions::

    crystalline   = min(N_cryst / (7 Z), alpha)     7 anions per reduced formula unit
    amorphous     = alpha - crystalline
    crystallinity = crystalline / alpha             (0 when alpha == 0)

Per-atom phase labels (:data:`LABEL_NAMES`):

* anions: pristine -> 1, reduced -> 2 (amorphous) or 3 (crystalline);
* Li: the label of its nearest anion if one lies within ``li_anion_cutoff`` (3.0 A;
  Li-S is 2.3-2.5 A in LPSC and Li2S), else 0 (Li metal). Metal Li touching the
  electrolyte surface therefore takes the electrolyte's label.

MPI domain decomposition: :func:`analyse_points` works on an open point set (no cell):
the first ``nlocal`` points are counted, the rest (ghosts) only serve as neighbours.
If the set contains every atom within :func:`required_radius` of every local atom, the
counts of all ranks add up (:class:`SEICounts`, ``+`` or an Allreduce of
:meth:`SEICounts.as_array`) to exactly the counts of the whole system. :func:`analyse`
does the same for a periodic configuration by building periodic images itself.

With ``fcc_matcher="ovito-ptm"``, OVITO is imported lazily (its import takes ~0.5 s); its
thread count is taken from ``OVITO_THREAD_COUNT``, else from ``OMP_NUM_THREADS``, else 1,
when seimd imports it first.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, fields
from typing import Mapping, NamedTuple, Sequence

import numpy as np
from scipy.spatial import cKDTree

from .fcc_match import fcc_rmsd

# LAMMPS atom types of seimd
LI, P, S, CL = 1, 2, 3, 4
TYPES = {"Li": LI, "P": P, "S": S, "Cl": CL}

# Per-atom phase labels
LABEL_LI_METAL = 0
LABEL_ELECTROLYTE = 1
LABEL_AMORPHOUS = 2
LABEL_CRYSTALLINE = 3
LABEL_NAMES = ("Li metal", "pristine electrolyte", "amorphous reduced", "crystalline reduced")

ANIONS_PER_FU = 7          # P + 5 S + Cl per Li6PS5Cl formula unit
FCC_NEIGHBOURS = 12
# OVITO's PTM looks at this many nearest neighbours (PTMAlgorithm::MAX_INPUT_NEIGHBORS).
PTM_NEIGHBOURS = 18
# Neighbours tied with the 18th (perfect lattices) go into the PTM input as well (A).
_TIE_TOLERANCE = 1e-6
# Extra nearest neighbours queried beyond the 18th to catch such ties.
_TIE_EXTRA = 8


# ---------------------------------------------------------------------------- parameters
FCC_MATCHERS = ("template", "ovito-ptm")


@dataclass(frozen=True)
class SEIParams:
    """Parameters of the SEI analysis (lengths in A).

    ps_cutoff:        P-S bond criterion (3.0 A: P-S 2.05 A, anion-anion >= 3.9 A).
    fcc_rmsd_cutoff:  RMSD cutoff of the fcc template match (0.15; must be > 0: PTM
                      without a cutoff calls 57 % of pristine LPSC anions fcc).
    fcc_max_distance: the 12 nearest anions of a crystalline anion lie within this (A).
    ptm_max_distance: the 18 nearest anions of a crystalline anion lie within this (A);
                      bounds the neighbourhood the match depends on (module docstring).
    context_radius:   a free anion (Cl, S without P) takes the chemical state of the
                      nearest P within this radius (A).
    li_anion_cutoff:  a Li with an anion within this distance is not Li metal (A).
    fcc_matcher:      "template" (seimd's fcc template matcher, default) or "ovito-ptm"
                      (OVITO's polyhedral template matching); see the module docstring.
    """

    ps_cutoff: float = 3.0
    fcc_rmsd_cutoff: float = 0.15
    fcc_max_distance: float = 5.0
    ptm_max_distance: float = 7.5
    context_radius: float = 6.0
    li_anion_cutoff: float = 3.0
    fcc_matcher: str = "template"

    def __post_init__(self):
        if self.fcc_matcher not in FCC_MATCHERS:
            raise ValueError(f"SEIParams.fcc_matcher must be one of {', '.join(FCC_MATCHERS)}, "
                             f"got {self.fcc_matcher!r}")
        for f in fields(self):
            if f.name == "fcc_matcher":
                continue
            value = getattr(self, f.name)
            if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                    or not math.isfinite(value) or value <= 0):
                raise ValueError(f"SEIParams.{f.name} must be a positive finite number, got {value!r}")
        if self.fcc_max_distance > self.ptm_max_distance:
            raise ValueError("SEIParams.fcc_max_distance must not exceed ptm_max_distance "
                             "(the 12th neighbour is never farther than the 18th)")


DEFAULT_PARAMS = SEIParams()


def required_radius(params: SEIParams | None = None, labels: bool = False) -> float:
    """Radius (A) around every local atom that the point set must contain completely.

    With it, :func:`analyse_points` gives the same counts (and labels) for the local
    atoms as an analysis of the whole system. Derivation (r_ps = ps_cutoff):

    * N(PS_k) of a local P: its S within r_ps.
    * chemical state of a local anion: for an S, its P within r_ps and their S:
      2 r_ps; for a free anion, the nearest P within context_radius and its S:
      context_radius + r_ps.
    * fcc verdict of a local anion: the anions within its 18th-neighbour distance,
      capped at ptm_max_distance (>= fcc_max_distance).
    * labels: a Li takes its nearest anion's label, which needs li_anion_cutoff + the
      radius of an anion's state and verdict.

    Defaults: max(2 r_ps, context_radius + r_ps, ptm_max_distance) = 9.0 A for the
    counts, li_anion_cutoff + 9.0 = 12.0 A with labels.
    """
    p = params or DEFAULT_PARAMS
    anion = max(2.0 * p.ps_cutoff, p.context_radius + p.ps_cutoff, p.fcc_max_distance,
                p.ptm_max_distance)
    return p.li_anion_cutoff + anion if labels else anion


# ---------------------------------------------------------------------------- counts
@dataclass(frozen=True)
class SEICounts:
    """Integer counts over the local atoms; additive over MPI ranks.

    n_li, n_p, n_s, n_cl: atoms per type; n_ps: N(PS_k), k = 0..4 (P with k S within
    ps_cutoff, k > 4 counted as 4); n_crystalline: crystalline anions (reduced anions
    that PTM calls fcc, within the distance caps).

    ``a + b`` adds counts; ``SEICounts.from_array(comm.allreduce(c.as_array()))``
    (or ``comm.Allreduce(c.as_array(), buf, op=MPI.SUM)``) reduces over MPI ranks.
    """

    n_li: int = 0
    n_p: int = 0
    n_s: int = 0
    n_cl: int = 0
    n_ps: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    n_crystalline: int = 0

    SIZE = 10          # length of as_array(): 4 types, 5 N(PS_k), 1 crystalline

    def __post_init__(self):
        if len(self.n_ps) != 5:
            raise ValueError(f"n_ps must hold N(PS_0)..N(PS_4), got {self.n_ps!r}")
        object.__setattr__(self, "n_ps", tuple(int(v) for v in self.n_ps))

    @property
    def n_anions(self) -> int:
        return self.n_p + self.n_s + self.n_cl

    @property
    def n_atoms(self) -> int:
        return self.n_li + self.n_anions

    def as_array(self) -> np.ndarray:
        """int64 [n_li, n_p, n_s, n_cl, N(PS_0)..N(PS_4), n_crystalline]."""
        return np.array([self.n_li, self.n_p, self.n_s, self.n_cl, *self.n_ps,
                         self.n_crystalline], dtype=np.int64)

    @classmethod
    def from_array(cls, values) -> SEICounts:
        v = np.asarray(values)
        if v.shape != (cls.SIZE,):
            raise ValueError(f"expected {cls.SIZE} counts, got shape {v.shape}")
        if not np.all(np.equal(np.mod(v, 1), 0)):
            raise ValueError("counts must be integers")
        v = v.astype(np.int64)
        return cls(int(v[0]), int(v[1]), int(v[2]), int(v[3]), tuple(int(x) for x in v[4:9]),
                   int(v[9]))

    def __add__(self, other: SEICounts) -> SEICounts:
        if not isinstance(other, SEICounts):
            return NotImplemented
        return SEICounts.from_array(self.as_array() + other.as_array())


@dataclass(frozen=True)
class SEIFractions:
    """Fractions of the electrolyte (0..1 when z >= number of P atoms).

    alpha: reduced; crystalline / amorphous: crystalline / amorphous reduced product
    (crystalline + amorphous = alpha); crystallinity: crystalline / alpha (0 if alpha
    is 0); n_ps: N(PS_0)..N(PS_4); z: formula units.
    """

    z: int
    alpha: float
    crystalline: float
    amorphous: float
    crystallinity: float
    n_ps: tuple[int, int, int, int, int]

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def fractions(counts: SEICounts, z: int | None = None) -> SEIFractions:
    """Reduced, crystalline and amorphous fractions from (rank-summed) counts.

    z: formula units, by default the number of P atoms in `counts`. Raises ValueError
    if z < 1.
    """
    z = counts.n_p if z is None else z
    if int(z) != z or z < 1:
        raise ValueError(f"z (formula units) must be a positive integer, got {z!r}")
    z = int(z)
    n0, n1, n2, n3, _ = counts.n_ps
    alpha = (8 * n0 + 6 * n1 + 4 * n2 + 2 * n3) / (8 * z)
    crystalline = min(counts.n_crystalline / (ANIONS_PER_FU * z), alpha)
    return SEIFractions(z=z, alpha=alpha, crystalline=crystalline,
                        amorphous=alpha - crystalline,
                        crystallinity=crystalline / alpha if alpha > 0 else 0.0,
                        n_ps=counts.n_ps)


# ---------------------------------------------------------------------------- core
class PointAnalysis(NamedTuple):
    """Result of :func:`analyse_points`: counts of the local atoms, and their labels
    (int8, :data:`LABEL_NAMES`) or None when not requested."""

    counts: SEICounts
    labels: np.ndarray | None


def analyse_points(positions, types, nlocal: int, *, params: SEIParams | None = None,
                   labels: bool = False) -> PointAnalysis:
    """SEI counts of the first `nlocal` points of an open point set (A, no cell).

    positions: (n, 3) Cartesian coordinates, unwrapped (ghosts at their image positions).
    types: (n,) seimd LAMMPS types 1 Li, 2 P, 3 S, 4 Cl.
    nlocal: the first nlocal points are counted (and labelled); the others are ghosts
    that only serve as neighbours. For exact results the set must contain every atom
    within ``required_radius(params, labels)`` of each local atom.
    labels: also return the phase label of each local atom (costs a little more).
    """
    params = params or DEFAULT_PARAMS
    pos, typ, nlocal = _check_points(positions, types, nlocal)
    local = np.arange(len(pos)) < nlocal
    is_p = typ == P
    coord, reduced = _chemical_state(pos, typ, params)

    anion_idx = np.flatnonzero(typ != LI)
    li_local = np.flatnonzero(local & (typ == LI))
    need_fcc = local & reduced
    if labels:
        # a local Li takes its nearest anion's label: that anion needs a verdict too
        nearest = _nearest(pos[anion_idx], pos[li_local], params.li_anion_cutoff)
        has_anion = nearest >= 0
        nearest = anion_idx[nearest[has_anion]]
        need_fcc[nearest] = reduced[nearest]
    crystalline = np.zeros(len(pos), dtype=bool)
    crystalline[anion_idx] = _fcc_anions(pos[anion_idx], need_fcc[anion_idx], params)

    counts = SEICounts(
        n_li=len(li_local),
        n_p=int(np.count_nonzero(local & is_p)),
        n_s=int(np.count_nonzero(local & (typ == S))),
        n_cl=int(np.count_nonzero(local & (typ == CL))),
        n_ps=tuple(np.bincount(coord[local & is_p], minlength=5)),
        n_crystalline=int(np.count_nonzero(local & crystalline)),
    )
    if not labels:
        return PointAnalysis(counts, None)
    lab = np.where(reduced, np.where(crystalline, LABEL_CRYSTALLINE, LABEL_AMORPHOUS),
                   LABEL_ELECTROLYTE)
    lab[li_local] = LABEL_LI_METAL
    lab[li_local[has_anion]] = lab[nearest]
    return PointAnalysis(counts, lab[:nlocal].astype(np.int8))


def _check_points(positions, types, nlocal) -> tuple[np.ndarray, np.ndarray, int]:
    pos = np.ascontiguousarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"positions must have shape (n, 3), got {pos.shape}")
    if not np.all(np.isfinite(pos)):
        raise ValueError("positions must be finite")
    typ = np.asarray(types)
    if typ.shape != (len(pos),):
        raise ValueError(f"types must have shape ({len(pos)},), got {typ.shape}")
    if len(typ) and (not np.issubdtype(typ.dtype, np.integer)):
        raise ValueError(f"types must be integers (1 Li, 2 P, 3 S, 4 Cl), got dtype {typ.dtype}")
    typ = typ.astype(np.int64)
    bad = (typ < LI) | (typ > CL)
    if np.any(bad):
        raise ValueError(f"types must be 1 Li, 2 P, 3 S or 4 Cl; found {np.unique(typ[bad])}")
    if int(nlocal) != nlocal or not 0 <= nlocal <= len(pos):
        raise ValueError(f"nlocal must be an integer in [0, {len(pos)}], got {nlocal!r}")
    return pos, typ, int(nlocal)


def _chemical_state(pos, typ, params) -> tuple[np.ndarray, np.ndarray]:
    """P-S coordination and chemical state over the whole point set.

    Returns per point: coord (number of S within ps_cutoff of each P, clamped to 4; 0
    for other types) and reduced (True for the reduced anions, rule in the module
    docstring; False for Li). Exact only for points whose neighbourhood of radius
    context_radius + ps_cutoff lies in the set.
    """
    n = len(pos)
    is_p = typ == P
    p_idx, s_idx = np.flatnonzero(is_p), np.flatnonzero(typ == S)
    coord = np.zeros(n, dtype=np.int64)
    bonded = np.zeros(n, dtype=bool)
    pristine = np.zeros(n, dtype=bool)
    if len(p_idx) and len(s_idx):
        pairs = cKDTree(pos[p_idx]).sparse_distance_matrix(
            cKDTree(pos[s_idx]), params.ps_cutoff, output_type="ndarray")
        ip, js = p_idx[pairs["i"]], s_idx[pairs["j"]]
        coord[p_idx] = np.minimum(np.bincount(pairs["i"], minlength=len(p_idx)), 4)
        bonded[js] = True
        pristine[p_idx] = coord[p_idx] == 4             # intact PS4 units ...
        pristine[js[pristine[ip]]] = True               # ... and their S
    # free anions (Cl, S without P) follow the nearest P within context_radius
    free = np.flatnonzero((typ != LI) & ~is_p & ~bonded)
    near = _nearest(pos[p_idx], pos[free], params.context_radius)
    pristine[free[near >= 0]] = pristine[p_idx[near[near >= 0]]]
    return coord, (typ != LI) & ~pristine


def _nearest(targets, queries, cutoff) -> np.ndarray:
    """Index into `targets` of the nearest target of each query within cutoff, or -1."""
    if len(queries) == 0 or len(targets) == 0:
        return np.full(len(queries), -1, dtype=np.int64)
    d, i = cKDTree(targets).query(queries, k=1, distance_upper_bound=cutoff)
    return np.where(np.isfinite(d), i, -1).astype(np.int64)


BCC_GAP_MARGIN = 0.1


def bcc_like(dist) -> np.ndarray:
    """Condition 4: the anion's shell is bcc-like (8 + 6 neighbours) rather than fcc (12).
    dist [n, >= 16]: sorted distances to the nearest anions, column 0 the anion itself.
    fcc (and hcp) have their first large gap after the 12th neighbour (r13/r12 = sqrt 2,
    r15/r14 = 1), bcc after the 14th (r13/r12 = 1, r15/r14 = sqrt(8/3)/(2/sqrt 3) = sqrt 2);
    bcc-like is the shell whose gap after the 14th exceeds the gap after the 12th by more
    than BCC_GAP_MARGIN (0.1). Measured with Gaussian noise sigma per component
    (tests/test_sei_crystalline_bcc.py): on a bcc anion sublattice of the product's
    composition the crystalline share at sigma 0 / 0.1 / 0.2 / 0.3 A is 0 / 0 / 2.6 / 3.0 %
    (100 / 94 / 40 / - % without this test); on the antifluorite it is 100 / 100 / 91.6 %
    at sigma 0.1 / 0.2 / 0.3 A (93.3 % at 0.3 A without it). A smaller margin rejects
    more bcc and more hot fcc (0.05: 0.4 % and 86.9 % at 0.2 and 0.3 A).
    Without this a perfect bcc shell passes the fcc test (RMSD 0.1453 < 0.15)."""
    dist = np.asarray(dist, float)
    return dist[:, 15] / dist[:, 14] - dist[:, 13] / dist[:, 12] > BCC_GAP_MARGIN


def _fcc_anions(anions, candidates, params) -> np.ndarray:
    """Crystalline-anion verdict (conditions 1-3 of the module docstring) of the
    `candidates` (bool mask) of the anion sublattice `anions` (A); False elsewhere."""
    result = np.zeros(len(anions), dtype=bool)
    cand = np.flatnonzero(candidates)
    if len(cand) == 0 or len(anions) <= PTM_NEIGHBOURS:
        return result
    ovito = params.fcc_matcher == "ovito-ptm"
    k = min(PTM_NEIGHBOURS + 1 + (_TIE_EXTRA if ovito else 0), len(anions))
    dist, nbr = cKDTree(anions).query(anions[cand], k=k)    # column 0: the anion itself
    d_fcc, d_ptm = dist[:, FCC_NEIGHBOURS], dist[:, PTM_NEIGHBOURS]
    ok = (d_fcc <= params.fcc_max_distance) & (d_ptm <= params.ptm_max_distance)
    ok &= ~bcc_like(dist)
    if not np.any(ok):
        return result
    cand, dist, nbr, d_ptm = cand[ok], dist[ok], nbr[ok], d_ptm[ok]
    if not ovito:
        vectors = anions[nbr[:, 1:PTM_NEIGHBOURS + 1]] - anions[cand][:, None, :]
        rmsd = fcc_rmsd(vectors, stop_below=params.fcc_rmsd_cutoff)
        result[cand] = rmsd <= params.fcc_rmsd_cutoff
        return result
    # OVITO's PTM runs on the candidates plus every anion within their 18th-neighbour
    # distance: it sees exactly these neighbours in the subset, so its verdict equals that
    # of a run on all anions, at a fraction of the cost.
    within = dist <= (d_ptm + _TIE_TOLERANCE)[:, None]
    subset = np.unique(np.concatenate([cand, nbr[within]]))
    is_fcc, _ = ovito_ptm_fcc(anions[subset], params.fcc_rmsd_cutoff)
    result[cand] = is_fcc[np.searchsorted(subset, cand)]
    return result


# ---------------------------------------------------------------------------- OVITO
_PTM_MODIFIERS: dict[float, object] = {}


def _import_ovito():
    """Import OVITO, first setting its thread count from OMP_NUM_THREADS (default 1):
    under MPI every rank owns one core, and OVITO would otherwise use all of them."""
    try:
        import ovito  # noqa: F401
    except ImportError as err:
        raise ImportError("SEI analysis: fcc_matcher='ovito-ptm' needs OVITO's Python module: "
                          "pip install 'seimd[ovito]' (or use the default matcher "
                          "'template')") from err
    if "OVITO_THREAD_COUNT" not in os.environ:
        threads = os.environ.get("OMP_NUM_THREADS", "1")
        os.environ["OVITO_THREAD_COUNT"] = threads if threads.strip().isdigit() else "1"
    from ovito.data import DataCollection, Particles, SimulationCell
    from ovito.modifiers import PolyhedralTemplateMatchingModifier
    return DataCollection, Particles, SimulationCell, PolyhedralTemplateMatchingModifier


def prepare(params: SEIParams | None = None) -> None:
    """Load the fcc matcher now rather than at the first reduced anion: an in-situ caller
    pays the import (OVITO's takes ~0.5 s) at start-up, not in the middle of a run, and
    learns at once if it is missing."""
    params = params or DEFAULT_PARAMS
    if params.fcc_matcher == "ovito-ptm":
        _ptm_modifier(float(params.fcc_rmsd_cutoff))
    else:
        from seimd import _analysis  # noqa: F401


def _ptm_modifier(rmsd_cutoff: float, with_rmsd: bool = False):
    key = (rmsd_cutoff, with_rmsd)
    mod = _PTM_MODIFIERS.get(key)
    if mod is None:
        ptm = _import_ovito()[3]
        mod = ptm(rmsd_cutoff=rmsd_cutoff, output_rmsd=with_rmsd)
        for structure in mod.structures:
            structure.enabled = structure.id == ptm.Type.FCC
        _PTM_MODIFIERS[key] = mod
    return mod


def ovito_ptm_fcc(points: np.ndarray, rmsd_cutoff: float, with_rmsd: bool = False):
    """OVITO PTM (FCC template only) on an open point set (A): True where fcc with RMSD <=
    rmsd_cutoff (0: no cutoff); with_rmsd also returns OVITO's RMSD of each point (0 where
    the template did not match): (is_fcc, rmsd or None).

    The points sit in a non-periodic box that encloses them with a 1 A margin; OVITO's
    neighbour search ignores the box walls of non-periodic directions.
    """
    DataCollection, Particles, SimulationCell, _ = _import_ovito()
    lo = points.min(axis=0) - 1.0
    hi = points.max(axis=0) + 1.0
    data = DataCollection()
    cell = SimulationCell(pbc=(False, False, False))
    matrix = np.zeros((3, 4))
    matrix[:, :3] = np.diag(hi - lo)
    matrix[:, 3] = lo
    cell[...] = matrix
    data.objects.append(cell)
    particles = Particles(count=len(points))
    particles.create_property("Position", data=points)
    data.objects.append(particles)
    data.apply(_ptm_modifier(float(rmsd_cutoff), with_rmsd))
    is_fcc = np.asarray(data.particles["Structure Type"][...]) == 1   # Type.FCC
    rmsd = np.asarray(data.particles["RMSD"][...]) if with_rmsd else None
    return is_fcc, rmsd


# ---------------------------------------------------------------------------- periodic
@dataclass(frozen=True)
class SEIResult:
    """Result of :func:`analyse`: counts and fractions of the whole configuration, and
    per-atom labels (int8, in the input's atom order) when requested.

    fractions is None when the configuration has no P and no z was given.
    """

    counts: SEICounts
    fractions: SEIFractions | None
    labels: np.ndarray | None


def analyse(system, *, params: SEIParams | None = None, labels: bool = True,
            z: int | None = None, type_map=None) -> SEIResult:
    """SEI observables of a (periodic) configuration.

    system: an ase.Atoms, or a tuple (positions (n, 3) A, types (n,), cell (3, 3) A with
    the cell vectors as rows, pbc (3,) bool). Any triclinic cell, periodic or not along
    each direction; cells smaller than the analysis radius are fine.
    types / symbols: ase.Atoms are read by chemical symbol (Li, P, S, Cl), tuple types as
    seimd types 1 Li 2 P 3 S 4 Cl (or symbols). With `type_map` the integer types are
    translated: for ase.Atoms the ``type`` array (from ase.io.read of a LAMMPS data or
    dump file), else the atomic numbers; see :func:`map_types`.
    z: formula units, default the number of P atoms.
    labels: also compute per-atom labels (needs a larger neighbourhood).

    The periodic images within :func:`required_radius` of the cell are built here and
    passed to :func:`analyse_points` as ghosts, exactly as an MPI rank would.
    """
    pos, typ, cell, pbc = _system_arrays(system, type_map)
    radius = required_radius(params, labels=labels)
    points, source = periodic_images(pos, cell, pbc, radius)
    res = analyse_points(points, typ[source], len(pos), params=params, labels=labels)
    if z is None and res.counts.n_p == 0:
        frac = None
    else:
        frac = fractions(res.counts, z)
    return SEIResult(counts=res.counts, fractions=frac, labels=res.labels)


def map_types(types, type_map=None) -> np.ndarray:
    """seimd types (1 Li, 2 P, 3 S, 4 Cl) of `types` (ints or element symbols).

    type_map: None (ints are already seimd types; symbols map via :data:`TYPES`), a
    mapping {type: symbol}, or a sequence of symbols for types 1, 2, ... (the order of
    a LAMMPS ``pair_coeff * * pot.mtp Li P S Cl`` line). Raises ValueError for types
    missing from the map and for elements other than Li, P, S, Cl.
    """
    t = np.asarray(types)
    if t.ndim != 1:
        raise ValueError(f"types must be one-dimensional, got shape {t.shape}")
    if t.dtype.kind in "UO":
        return _symbols_to_types(t)
    if len(t) and not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"types must be integers or element symbols, got dtype {t.dtype}")
    if type_map is None:
        return t.astype(np.int64)
    if isinstance(type_map, Mapping):
        table = {int(k): v for k, v in type_map.items()}
    elif isinstance(type_map, Sequence) and not isinstance(type_map, str):
        table = {i + 1: v for i, v in enumerate(type_map)}
    else:
        raise ValueError(f"type_map must be a mapping type -> symbol or a sequence of "
                         f"symbols, got {type_map!r}")
    lookup = {k: _symbols_to_types(np.array([v]))[0] for k, v in table.items()}
    missing = sorted(set(np.unique(t).tolist()) - set(lookup))
    if missing:
        raise ValueError(f"types {missing} are not in type_map {type_map!r}")
    keys = np.array(sorted(lookup))
    values = np.array([lookup[k] for k in keys], dtype=np.int64)
    return values[np.searchsorted(keys, t)] if len(t) else t.astype(np.int64)


def _symbols_to_types(symbols: np.ndarray) -> np.ndarray:
    unknown = sorted(set(symbols.tolist()) - set(TYPES))
    if unknown:
        raise ValueError(f"elements {unknown} are not Li, P, S or Cl; give a type_map")
    return np.array([TYPES[s] for s in symbols.tolist()], dtype=np.int64)


def _system_arrays(system, type_map):
    """(positions, seimd types, cell, pbc) of an ase.Atoms or a 4-tuple."""
    if hasattr(system, "get_positions") and hasattr(system, "cell"):
        pos = system.get_positions()
        if type_map is None:
            typ = map_types(np.array(system.get_chemical_symbols()))
        else:
            raw = system.arrays["type"] if "type" in system.arrays else system.numbers
            typ = map_types(raw, type_map)
        cell, pbc = system.cell.array, system.pbc
    else:
        try:
            pos, types, cell, pbc = system
        except (TypeError, ValueError):
            raise ValueError("system must be an ase.Atoms or a tuple "
                             "(positions, types, cell, pbc)") from None
        typ = map_types(types, type_map)
    pos = np.asarray(pos, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"positions must have shape (n, 3), got {pos.shape}")
    if typ.shape != (len(pos),):
        raise ValueError(f"types must have shape ({len(pos)},), got {typ.shape}")
    return pos, typ, cell, pbc


def periodic_images(positions, cell, pbc, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The atoms, wrapped into the cell, followed by every periodic image within `radius`.

    positions (n, 3), cell (3, 3) rows = cell vectors, pbc (3,) bool, radius in A.
    Returns (points (m, 3), source (m,)): points[:n] are the atoms (wrapped along the
    periodic directions), points[n:] images; source maps every point to its atom. The
    images cover every point within `radius` of any atom (a superset: whole slabs of
    thickness `radius` beyond each pair of cell faces). Non-periodic directions get no
    images; their cell vectors are ignored (they may be zero).
    """
    pos = np.asarray(positions, dtype=np.float64)
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    if not (math.isfinite(radius) and radius >= 0):
        raise ValueError(f"radius must be a non-negative number, got {radius!r}")
    n = len(pos)
    if not pbc.any() or n == 0:
        return pos.copy(), np.arange(n)
    basis = _complete_basis(cell, pbc)
    recip = np.linalg.inv(basis)                       # columns: reciprocal vectors
    frac = pos @ recip
    # wrap along periodic directions only (exact lattice translations)
    shift0 = np.where(pbc, np.floor(frac), 0.0)
    pos = pos - shift0 @ basis
    frac = frac - shift0
    # fractional margin: a point within `radius` differs by at most radius*|b_d| in s_d
    margin = radius * np.linalg.norm(recip, axis=0)
    reach = np.where(pbc, np.ceil(margin), 0).astype(int)
    grids = [np.arange(-r, r + 1) for r in reach]
    shifts = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, 3)
    shifts = shifts[np.any(shifts != 0, axis=1)].astype(np.float64)
    s = frac[None, :, :] + shifts[:, None, :]
    keep = np.all(~pbc | ((s >= -margin) & (s < 1.0 + margin)), axis=2)
    which_shift, source = np.nonzero(keep)
    images = pos[source] + shifts[which_shift] @ basis
    return (np.concatenate([pos, images]), np.concatenate([np.arange(n), source]))


def _complete_basis(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """The periodic cell vectors, with the non-periodic ones replaced by an orthonormal
    complement (any complement gives a valid decomposition into images)."""
    periodic = cell[pbc]
    if np.linalg.matrix_rank(periodic, tol=1e-8) < len(periodic) or \
            np.any(np.linalg.norm(periodic, axis=1) < 1e-8):
        raise ValueError(f"the periodic cell vectors {periodic.tolist()} are degenerate")
    # orthonormal complement of the periodic vectors from an SVD
    _, _, vt = np.linalg.svd(periodic)
    complement = iter(vt[len(periodic):])
    basis = cell.copy()
    for d in range(3):
        if not pbc[d]:
            basis[d] = next(complement)
    if abs(np.linalg.det(basis)) < 1e-12:
        raise ValueError("degenerate cell")
    return basis
