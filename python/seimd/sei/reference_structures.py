"""Reference structures with known SEI observables (tests and calibration).

Lengths in Angstrom; every generator is deterministic for a given `seed`.

* :func:`pristine_lpsc`: ordered Li6PS5Cl, 0 % reduced, 0 % crystalline.
* :func:`reduced_antifluorite`: the 5Li2S.Li3P.LiCl solid solution (fcc anions, Li in
  all tetrahedral holes): 100 % reduced, ~100 % crystalline.
* :func:`amorphous_reduced`: the same composition and density, random (no two anions
  closer than 3.05 A): 100 % reduced, ~0 % crystalline.
* :func:`partly_reduced_lpsc_slab`: an LPSC(110) slab (non-periodic along z) in which
  chosen PS4 units lost a known number of S: exact N(PS_k) by construction.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.geometry import get_distances

from ..structures import A_LPSC, FCC_SITES, TETRA_SITES, lpsc_ordered

# Antifluorite solid solution: neighbouring anions ~3.96 A apart
# (docs/sei-observables.md), a = 3.96 sqrt(2).
A_ANTIFLUORITE = 5.6
_FCC_BASIS = np.array(FCC_SITES)
_TETRA_BASIS = np.array(TETRA_SITES)


def _noise(atoms: Atoms, sigma: float, rng: np.random.Generator) -> Atoms:
    """Gaussian displacements of standard deviation `sigma` (A) per component."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma > 0:
        atoms.positions += rng.normal(0.0, sigma, atoms.positions.shape)
    return atoms


def pristine_lpsc(repeat: tuple[int, int, int] = (2, 2, 2), sigma: float = 0.0,
                  seed: int = 0, a: float = A_LPSC) -> Atoms:
    """Ordered Li6PS5Cl (52 atoms per cubic cell) with optional Gaussian noise (A)."""
    return _noise(lpsc_ordered(a, repeat), sigma, np.random.default_rng(seed))


def _anion_symbols(n: int, rng: np.random.Generator) -> list[str]:
    """n anions S:P:Cl = 5:1:1 in random order; 2 Li per anion make it neutral
    (2 n_S + 3 n_P + n_Cl = 2 n). n must be a multiple of 7 (whole formula units)."""
    if n % 7:
        raise ValueError(f"{n} anions are not whole formula units (a multiple of 7)")
    n_p = n // 7
    symbols = np.array(["P"] * n_p + ["Cl"] * n_p + ["S"] * (n - 2 * n_p))
    return rng.permutation(symbols).tolist()


def reduced_antifluorite(repeat: tuple[int, int, int] = (7, 3, 3), a: float = A_ANTIFLUORITE,
                         sigma: float = 0.15, seed: int = 0) -> Atoms:
    """5Li2S.Li3P.LiCl antifluorite solid solution (cubic cells of 4 anions + 8 Li).

    The anions (fcc sites) are S, P, Cl at random 5:1:1; Li fill all 8 tetrahedral holes
    (Li-anion a sqrt(3)/4 = 2.42 A at a = 5.6). Gaussian noise `sigma` (A) on all atoms.
    4 x prod(repeat) anions must be a multiple of 7, so one repeat is a multiple of 7.
    """
    rng = np.random.default_rng(seed)
    grid = np.array(np.meshgrid(*[np.arange(r) for r in repeat], indexing="ij")).reshape(3, -1).T
    anions = (grid[:, None, :] + _FCC_BASIS[None]).reshape(-1, 3) * a
    li = (grid[:, None, :] + _TETRA_BASIS[None]).reshape(-1, 3) * a
    symbols = _anion_symbols(len(anions), rng) + ["Li"] * len(li)
    atoms = Atoms(symbols, positions=np.vstack([anions, li]),
                  cell=np.diag(np.array(repeat, dtype=float) * a), pbc=True)
    return _noise(atoms, sigma, rng)


def amorphous_reduced(n_anions: int = 252, a: float = A_ANTIFLUORITE, seed: int = 0,
                      min_anion: float = 3.05, min_li_anion: float = 1.9,
                      min_li: float = 1.6, max_tries: int = 2000) -> Atoms:
    """Random packing of the antifluorite composition at the antifluorite density.

    Random sequential addition in a cubic periodic box of n_anions (4/a^3 anions per A^3)
    + 2 n_anions Li, with minimum distances anion-anion `min_anion` (> 3 A, so every P is
    a bare P: 100 % reduced), Li-anion `min_li_anion` and Li-Li `min_li` (A).
    """
    rng = np.random.default_rng(seed)
    box = (n_anions / 4.0) ** (1.0 / 3.0) * a
    symbols = _anion_symbols(n_anions, rng) + ["Li"] * (2 * n_anions)
    placed = np.empty((0, 3))
    placed_li = np.empty(0, dtype=bool)
    for symbol in symbols:
        is_li = symbol == "Li"
        need = np.where(placed_li, min_li if is_li else min_li_anion,
                        min_li_anion if is_li else min_anion)
        placed = np.vstack([placed, _random_site(placed, need, box, rng, max_tries)])
        placed_li = np.append(placed_li, is_li)
    return Atoms(symbols, positions=placed, cell=np.diag([box] * 3), pbc=True)


def _random_site(placed, need, box, rng, max_tries, batch: int = 64) -> np.ndarray:
    """A uniform random point of the periodic cubic box farther than `need` from each
    placed point (minimum image), tried in batches."""
    for _ in range(max_tries):
        trial = rng.uniform(0.0, box, (batch, 3))
        if len(placed) == 0:
            return trial[0]
        d = trial[:, None, :] - placed[None, :, :]
        d -= box * np.round(d / box)
        ok = np.all(np.einsum("ijk,ijk->ij", d, d) > need**2, axis=1)
        if np.any(ok):
            return trial[np.argmax(ok)]
    raise RuntimeError("random packing jammed: lower the minimum distances or the density")


def partly_reduced_lpsc_slab(lateral: tuple[int, int] = (2, 2), blocks: int = 2,
                             removed: tuple[int, ...] = (0, 1, 2, 3, 4, 0, 2, 1),
                             distance: float = 3.5, vacuum: float = 10.0, sigma: float = 0.03,
                             seed: int = 0, a: float = A_LPSC) -> tuple[Atoms, np.ndarray]:
    """LPSC(110) slab in which P number i lost removed[i % len(removed)] of its 4 S.

    Each removed S is moved to `distance` (A) from its P, in the direction (within 60
    degrees of the P-S bond) that keeps it farthest from all other atoms and > 3.3 A
    from every other P. The cell is periodic in x, y; z is not periodic (``vacuum`` A
    above the slab). Returns (atoms, expected N(PS_0)..N(PS_4)) for ps_cutoff = 3 A.
    """
    from ..build.interface import lpsc110_slab

    if not 3.2 <= distance <= 3.8:
        raise ValueError("distance must lie in [3.2, 3.8] A: clear of 3 A, short of other P")
    rng = np.random.default_rng(seed)
    atoms = lpsc110_slab(a, lateral=lateral, blocks=blocks)
    cell = atoms.cell.array.copy()
    cell[2, 2] += vacuum
    atoms.set_cell(cell)
    atoms.pbc = (True, True, False)
    sym = np.array(atoms.get_chemical_symbols())
    p_idx, s_idx = np.flatnonzero(sym == "P"), np.flatnonzero(sym == "S")
    expected = np.zeros(5, dtype=int)
    for i, p in enumerate(p_idx):
        k_removed = removed[i % len(removed)]
        expected[4 - k_removed] += 1
        vec, _ = get_distances(atoms.positions[p], atoms.positions[s_idx], cell=cell, pbc=atoms.pbc)
        bonded = s_idx[np.argsort(np.linalg.norm(vec[0], axis=1))[:4]]
        for s in bonded[:k_removed]:
            atoms.positions[s] = _outward_site(atoms, p, s, p_idx, distance, rng)
    return _noise(atoms, sigma, rng), expected


def _outward_site(atoms, p, s, p_idx, distance, rng, tries: int = 400) -> np.ndarray:
    """Best new site for S atom `s` at `distance` from P atom `p` (see the caller)."""
    cell, pbc = atoms.cell.array, atoms.pbc
    bond, _ = get_distances(atoms.positions[p], atoms.positions[s], cell=cell, pbc=pbc)
    axis = bond[0, 0] / np.linalg.norm(bond[0, 0])
    dirs = rng.normal(size=(tries, 3))
    dirs /= np.linalg.norm(dirs, axis=1)[:, None]
    dirs = dirs[dirs @ axis > np.cos(np.radians(60.0))]
    sites = atoms.positions[p] + distance * dirs
    others = np.setdiff1d(np.arange(len(atoms)), [p, s])
    _, d = get_distances(sites, atoms.positions[others], cell=cell, pbc=pbc)
    is_p = np.isin(others, p_idx)
    clear = d[:, is_p].min(axis=1, initial=np.inf) > 3.3
    if not np.any(clear):
        raise RuntimeError(f"no site {distance} A from P {p} is clear of the other P")
    best = np.argmax(np.where(clear, d.min(axis=1), -np.inf))
    return sites[best]
