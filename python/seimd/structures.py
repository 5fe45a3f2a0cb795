"""Bulk crystal structures used across seimd (tests, benchmarks, the interface builder).

Lengths in Angstrom. The Li6PS5Cl setting is the ordered F-43m cell of
shared/reference/interface-models.md (all Li on 24g), lattice constant 10.28 A (PBE-like).
"""

from __future__ import annotations

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
