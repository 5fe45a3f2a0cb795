"""Configurations the kernel and LAMMPS tests share: triclinic, multi-species, tiny cells."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from seimd.structures import bcc_li, lpsc_ordered

SYMBOLS = ["Li", "P", "S", "Cl"]


def relabel(atoms: Atoms, species: int, rng: np.random.Generator) -> Atoms:
    """Keep the geometry, draw each atom's species among the first `species` elements."""
    out = atoms.copy()
    if species < 4:
        types = rng.integers(0, species, len(out))
        out.set_chemical_symbols([SYMBOLS[t] for t in types])
    return out


def triclinic_lpsc(rng: np.random.Generator, species: int = 4) -> Atoms:
    """The 52-atom LPSC cell, sheared and strained by a few %, atoms rattled by 0.08 A."""
    atoms = lpsc_ordered()
    strain = np.eye(3) + rng.normal(0.0, 0.03, (3, 3))
    atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
    atoms.rattle(0.08, seed=int(rng.integers(1 << 30)))
    return relabel(atoms, species, rng)


def tiny_bcc(rng: np.random.Generator, species: int = 1) -> Atoms:
    """A 2-atom bcc cell (3.43 A, shorter than the 5 A cutoff): atoms see their own images."""
    atoms = bcc_li(a=3.43)
    atoms.set_cell(atoms.cell.array @ (np.eye(3) + rng.normal(0.0, 0.02, (3, 3))), scale_atoms=True)
    atoms.rattle(0.1, seed=int(rng.integers(1 << 30)))
    return relabel(atoms, species, rng)


def primitive_bcc(rng: np.random.Generator) -> Atoms:
    """A 1-atom triclinic primitive bcc cell: every neighbour is an image of the atom itself."""
    a = 3.43
    cell = 0.5 * a * np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1]], dtype=float)
    cell = cell @ (np.eye(3) + rng.normal(0.0, 0.02, (3, 3)))
    if np.linalg.det(cell) < 0:
        cell = cell[[1, 0, 2]]
    return Atoms("Li", cell=cell, pbc=True, positions=[[0.1, 0.2, 0.3]])


def li_slab_cluster(rng: np.random.Generator) -> Atoms:
    """A non-periodic 30-atom Li cluster (free boundaries)."""
    atoms = bcc_li(a=3.43, repeat=(2, 2, 2))[:30]
    atoms.pbc = False
    atoms.rattle(0.1, seed=int(rng.integers(1 << 30)))
    return atoms
