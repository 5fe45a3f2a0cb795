"""Bulk crystal structures used across seimd (tests, benchmarks, the interface builder).

Lengths in Angstrom. The Li6PS5Cl setting is the ordered F-43m cell of
docs/interface-models.md (all Li on 24g), lattice constant 10.28 A (PBE-like).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.spacegroup import crystal

# PBE-like lattice constants (A).
A_LI_BCC = 3.4267          # = a_LPSC / 3, the lateral match of the interface models
A_LPSC = 10.28
X_S_PS4 = 0.6156           # 16e (x, x, x): P-S 2.06 A
X_LI_24G = 0.0232          # 24g (x, 1/4, 1/4): Li-S 2.33 A


def bcc_li(a: float = A_LI_BCC, repeat: tuple[int, int, int] = (1, 1, 1)) -> Atoms:
    """Cubic bcc Li (2 atoms per cell) repeated `repeat` times."""
    return bulk("Li", "bcc", a=a, cubic=True).repeat(repeat)


def lpsc_ordered(a: float = A_LPSC, repeat: tuple[int, int, int] = (1, 1, 1)) -> Atoms:
    """Ordered Li24 P4 S20 Cl4 (52 atoms per cubic cell), F-43m (216)."""
    cell = crystal(
        ["Cl", "S", "P", "S", "Li"],
        basis=[(0, 0, 0), (0.25, 0.25, 0.25), (0.5, 0.5, 0.5),
               (X_S_PS4, X_S_PS4, X_S_PS4), (X_LI_24G, 0.25, 0.25)],
        spacegroup=216,
        cellpar=[a, a, a, 90, 90, 90],
        primitive_cell=False,
    )
    if len(cell) != 52:
        raise RuntimeError(f"ordered LPSC cell has {len(cell)} atoms, expected 52")
    return cell.repeat(repeat)


# ------------------------------------------------------------------ the reduction products
# Experimental / PBE-like lattice constants (A) of the products of
# Li6PS5Cl + 8 Li -> 5 Li2S + Li3P + LiCl. Every builder below is checked against its space
# group and neighbour shells in tests/test_structures.py (seimd.crystal_check), so that a
# wrong structure cannot enter training data again: `bulk("Li2S", "fluorite")` puts Li on
# the fcc sites and S on one tetrahedral set, a different (and ~0.2 eV/atom higher) crystal.
A_LI2S = 5.70              # antifluorite, Fm-3m (225)
A_LICL = 5.14              # rocksalt, Fm-3m (225)
A_LI3P, C_LI3P = 4.27, 7.59  # Na3As type, P6_3/mmc (194)
Z_LI3P_4F = 0.583          # Li 4f (1/3, 2/3, z)

# Fractional positions in the conventional cubic cell of the antifluorite: anions on the fcc
# sites, Li in all eight tetrahedral holes; the octahedral holes (one per anion, at the
# anion + (a/2, 0, 0)) are empty.
FCC_SITES = ((0.0, 0.0, 0.0), (0.5, 0.5, 0.0), (0.5, 0.0, 0.5), (0.0, 0.5, 0.5))
TETRA_SITES = tuple((x, y, z) for x in (0.25, 0.75) for y in (0.25, 0.75) for z in (0.25, 0.75))


def li2s_antifluorite(a: float = A_LI2S, repeat: tuple[int, int, int] = (1, 1, 1)) -> Atoms:
    """Antifluorite Li2S (S on fcc, Li in every tetrahedral hole; 12 atoms per cubic cell)."""
    cell = crystal(["S", "Li"], basis=[FCC_SITES[0], TETRA_SITES[0]], spacegroup=225,
                   cellpar=[a, a, a, 90, 90, 90])
    if len(cell) != 12:
        raise RuntimeError(f"antifluorite Li2S cell has {len(cell)} atoms, expected 12")
    return cell.repeat(repeat)


def licl_rocksalt(a: float = A_LICL, repeat: tuple[int, int, int] = (1, 1, 1)) -> Atoms:
    """Rocksalt LiCl (8 atoms per cubic cell)."""
    return bulk("LiCl", "rocksalt", a=a, cubic=True).repeat(repeat)


def li3p_hexagonal(a: float = A_LI3P, c: float = C_LI3P, z: float = Z_LI3P_4F,
                   repeat: tuple[int, int, int] = (1, 1, 1)) -> Atoms:
    """Li3P in its stable Na3As structure, P6_3/mmc (194): P 2c, Li 2b and 4f (8 atoms)."""
    cell = crystal(["P", "Li", "Li"], basis=[(1 / 3, 2 / 3, 0.25), (0.0, 0.0, 0.25), (1 / 3, 2 / 3, z)],
                   spacegroup=194, cellpar=[a, a, c, 90, 90, 120])
    if len(cell) != 8:
        raise RuntimeError(f"Li3P cell has {len(cell)} atoms, expected 8")
    return cell.repeat(repeat)


def antifluorite_supercell(n_anions: int, a: float = A_LI2S) -> Atoms:
    """The most cubic supercell of the primitive antifluorite with `n_anions` anion sites.

    All anions are S and all tetrahedral holes Li (Li2S); :func:`antifluorite_solution`
    decorates it. Any n works (7 gives one 5Li2S.Li3P.LiCl formula unit), which a stack
    of cubic cells (4 anions each) cannot do.
    """
    from ase.build import find_optimal_cell_shape, make_supercell
    prim = bulk("SLi2", "fluorite", a=a)          # S (0,0,0), Li at +-(1/4,1/4,1/4)
    if n_anions == 1:
        return prim
    if n_anions % 4 == 0 and round((n_anions // 4) ** (1 / 3)) ** 3 == n_anions // 4:
        m = round((n_anions // 4) ** (1 / 3))    # a cube of cubic cells
        return li2s_antifluorite(a, (m, m, m))
    shape = find_optimal_cell_shape(prim.cell, n_anions, "sc")
    sc = make_supercell(prim, shape)
    if round(abs(np.linalg.det(shape))) != n_anions:
        raise RuntimeError(f"supercell of {n_anions} anions not found")
    return sc


def decorate_anions(atoms: Atoms, n_p: int, n_cl: int, rng: np.random.Generator) -> Atoms:
    """Put n_p P and n_cl Cl on random S sites of `atoms` (a copy; the S sublattice of an
    antifluorite shared at random, as in the 5Li2S.Li3P.LiCl solid solution)."""
    sites = np.flatnonzero(atoms.numbers == 16)
    if n_p < 0 or n_cl < 0 or n_p + n_cl > len(sites):
        raise ValueError(f"cannot put {n_p} P and {n_cl} Cl on {len(sites)} anion sites")
    pick = rng.permutation(sites)
    out = atoms.copy()
    numbers = out.numbers.copy()
    numbers[pick[:n_p]] = 15
    numbers[pick[n_p:n_p + n_cl]] = 17
    out.numbers = numbers
    return out


def antifluorite_solution(n_anions: int = 28, n_p: int | None = None, n_cl: int | None = None,
                          a: float = A_LI2S, seed: int = 0, extra_li: int = 0) -> Atoms:
    """Antifluorite solid solution Li2S(1-x-y) P_x Cl_y on `n_anions` anion sites.

    The S sublattice is shared by S, P and Cl at random (seeded); 2 Li per anion fill all
    tetrahedral holes, which is exactly neutral when n_p = n_cl (P3- gives one Li more
    than S2-, Cl- one less): Li2S (n_p = 0) to 5Li2S.Li3P.LiCl (n_p = n_cl = n/7, the
    default). `extra_li` Li go into that many random octahedral holes (overlithiated).
    """
    rng = np.random.default_rng(seed)
    if n_p is None:
        n_p = n_anions // 7
    if n_cl is None:
        n_cl = n_p
    if n_p + n_cl > n_anions:        # before building a supercell for nothing
        raise ValueError(f"cannot put {n_p} P and {n_cl} Cl on {n_anions} anion sites")
    li2s = antifluorite_supercell(n_anions, a)
    atoms = decorate_anions(li2s, n_p, n_cl, rng)
    if extra_li:
        # Octahedral hole of each anion: the anion's position + (a/2, 0, 0).
        holes = li2s.positions[li2s.numbers == 16] + np.array([a / 2, 0.0, 0.0])
        if extra_li > len(holes):
            raise ValueError(f"{extra_li} extra Li but only {len(holes)} octahedral holes")
        chosen = holes[rng.choice(len(holes), extra_li, replace=False)]
        atoms += Atoms(["Li"] * extra_li, positions=chosen)
        atoms.wrap()
    return atoms
