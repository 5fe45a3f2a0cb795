"""Writing interface models: LAMMPS data file (+ group file) and extended XYZ.

LAMMPS data file (``units metal``, ``atom_style atomic``, written by
:func:`seimd.lmp.write_data`): atom types 1..4 = Li, P, S, Cl. Anode (metal) Li and
electrolyte Li share type 1, so one MTP species covers both. The origin is kept by atom id:
the electrolyte atoms come first (ids 1..N_e), the anode after (N_e+1..N); the first
(comment) line of the data file says so, and a companion LAMMPS input snippet
(``<data stem>.groups``) defines the groups::

    read_data model.data
    include   model.groups        # group electrolyte id 1:N_e / group anode id N_e+1:N

The extended XYZ keeps per-atom arrays ``origin`` (electrolyte/anode) and ``site``
(Wyckoff site in bulk LPSC; 'bcc' for the anode) and the build parameters in its
comment line.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write

from ..lmp import write_data
from .interface import SPECORDER


def _id_ranges(atoms: Atoms) -> dict[str, tuple[int, int]]:
    origin = atoms.arrays["origin"]
    out = {}
    for name in ("electrolyte", "anode"):
        ids = np.flatnonzero(origin == name) + 1
        if len(ids) and ids[-1] - ids[0] + 1 != len(ids):
            raise ValueError(f"{name} atoms are not contiguous; cannot write id ranges")
        if len(ids):
            out[name] = (int(ids[0]), int(ids[-1]))
    return out


def groups_path(data_path: str | os.PathLike) -> Path:
    """The companion group file of a data file: model.data -> model.groups."""
    return Path(data_path).with_suffix(".groups")


def write_lammps(path: str | os.PathLike, atoms: Atoms, groups: bool = True) -> Path | None:
    """Data file with types Li=1, P=2, S=3, Cl=4; optional group file beside it.

    Returns the group file's path (or None).
    """
    path = Path(path)
    write_data(path, atoms, SPECORDER)
    ranges = _id_ranges(atoms)
    desc = "; ".join(f"{k} ids {a}-{b}" for k, (a, b) in ranges.items())
    info = atoms.info
    head = (f"seimd build model {info.get('model', 'custom')}: Li(110)|Li6PS5Cl(110), "
            f"types 1 Li (anode+electrolyte) 2 P 3 S 4 Cl; {desc}\n")
    lines = path.read_text().splitlines(keepends=True)
    lines[0] = head
    path.write_text("".join(lines))
    if not groups:
        return None
    gpath = groups_path(path)
    text = [f"# groups of {path.name} (seimd build): include after read_data\n"]
    for name, (a, b) in ranges.items():
        text.append(f"group {name} id {a}:{b}\n")
    gpath.write_text("".join(text))
    return gpath


def write_extxyz(path: str | os.PathLike, atoms: Atoms) -> None:
    """Extended XYZ with the per-atom arrays origin and site and the build parameters."""
    write(path, atoms, format="extxyz")


def write_interface(atoms: Atoms, data: str | os.PathLike | None = None,
                    xyz: str | os.PathLike | None = None, groups: bool = True) -> list[Path]:
    """Write the data file (and its .groups) and/or the extxyz; returns the paths written."""
    written = []
    if data is not None:
        g = write_lammps(data, atoms, groups=groups)
        written += [Path(data)] + ([g] if g else [])
    if xyz is not None:
        write_extxyz(xyz, atoms)
        written.append(Path(xyz))
    return written
