"""Check a built crystal against what it should be: space group and neighbour shells.

A structure that enters training data must be the crystal it is named after. The two
checks here are independent of how the structure was built:

* :func:`space_group` -- spglib's space-group number of the cell (optionally with some
  species merged, e.g. all anions of a solid solution as one sublattice);
* :func:`shell` -- the coordination number and distance of the first shell of `other`
  atoms around each `centre` atom (all centres must agree, else the crystal is not the
  ideal one).

:func:`check` combines them and raises :class:`StructureError` with one line saying what is
wrong. spglib is the field's symmetry finder (also used by ASE and pymatgen).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from ase.neighborlist import neighbor_list


class StructureError(ValueError):
    """A built structure is not the crystal it should be."""


def space_group(atoms: Atoms, symprec: float = 1e-3, merge: dict[str, str] | None = None) -> int:
    """spglib's international space-group number; `merge` maps elements onto others first
    (e.g. {"P": "S", "Cl": "S"} checks the anion sublattice of a solid solution)."""
    import spglib
    spglib.OLD_ERROR_HANDLING = False        # errors as exceptions (spglib >= 2.5)
    numbers = atoms.numbers.copy()
    for src, dst in (merge or {}).items():
        numbers[numbers == atomic_numbers[src]] = atomic_numbers[dst]
    try:
        data = spglib.get_symmetry_dataset((atoms.cell.array, atoms.get_scaled_positions(), numbers),
                                           symprec=symprec)
    except spglib.SpglibError as err:
        raise StructureError(f"spglib found no symmetry ({err})") from None
    if data is None:
        raise StructureError("spglib found no symmetry (is the cell degenerate?)")
    return int(data.number)


@dataclass(frozen=True)
class Shell:
    """First neighbour shell of `other` atoms around each `centre` atom."""
    centre: tuple[str, ...]
    other: tuple[str, ...]
    count: int
    distance: float                  # A
    tol: float = 0.02                # A, spread allowed within the shell and on `distance`


def shell(atoms: Atoms, centre, other, cutoff: float = 6.0, tol: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """(count, distance) of the first shell of `other` around every `centre` atom.

    The first shell is every `other` neighbour within `tol` of the nearest one. Returns
    two arrays, one entry per centre atom, in the order of the atoms.
    """
    centre = (centre,) if isinstance(centre, str) else tuple(centre)
    other = (other,) if isinstance(other, str) else tuple(other)
    sym = np.array(atoms.get_chemical_symbols())
    i, j, d = neighbor_list("ijd", atoms, cutoff)
    keep = np.isin(sym[j], other)
    i, d = i[keep], d[keep]
    centres = np.flatnonzero(np.isin(sym, centre))
    if len(centres) == 0:
        raise StructureError(f"no {'/'.join(centre)} atom in {atoms.get_chemical_formula()}")
    counts, dists = np.zeros(len(centres), int), np.full(len(centres), np.inf)
    for k, c in enumerate(centres):
        dc = d[i == c]
        if len(dc):
            dmin = dc.min()
            counts[k], dists[k] = int(np.sum(dc <= dmin + tol)), dmin
    return counts, dists


def check(atoms: Atoms, name: str, space_group_number: int | None = None,
          shells: tuple[Shell, ...] = (), merge: dict[str, str] | None = None,
          symprec: float = 1e-3) -> None:
    """Raise StructureError unless `atoms` has the space group and the shells given."""
    if space_group_number is not None:
        sg = space_group(atoms, symprec, merge)
        if sg != space_group_number:
            raise StructureError(f"{name}: space group {sg}, expected {space_group_number}")
    for s in shells:
        counts, dists = shell(atoms, s.centre, s.other, cutoff=max(6.0, s.distance + 1.0), tol=s.tol)
        if np.any(counts != s.count):
            bad = sorted(set(counts.tolist()) - {s.count})
            raise StructureError(f"{name}: {'/'.join(s.centre)} has {bad} {'/'.join(s.other)} "
                                 f"neighbours in its first shell, expected {s.count}")
        if np.any(np.abs(dists - s.distance) > s.tol):
            raise StructureError(f"{name}: {'/'.join(s.centre)}-{'/'.join(s.other)} at "
                                 f"{dists.min():.3f}-{dists.max():.3f} A, expected {s.distance:.3f} A")


def expected(kind: str, a: float, c: float | None = None) -> dict:
    """Space group and shells of the crystals seimd builds (keyword arguments of check).

    kind: 'bcc-Li', 'antifluorite' (Li2S and its P/Cl solid solutions: anion sublattice
    fcc, 8 Li at a sqrt(3)/4 around each anion, 4 anions around each Li), 'rocksalt-LiCl',
    'Li3P' (Na3As type; c needed), 'LPSC' (ordered argyrodite).
    """
    anions = ("S", "P", "Cl")
    if kind == "bcc-Li":
        return dict(space_group_number=229, shells=(Shell(("Li",), ("Li",), 8, a * 3 ** 0.5 / 2),))
    if kind == "antifluorite":
        return dict(space_group_number=225, merge={"P": "S", "Cl": "S"},
                    shells=(Shell(anions, ("Li",), 8, a * 3 ** 0.5 / 4),
                            Shell(("Li",), anions, 4, a * 3 ** 0.5 / 4),
                            Shell(anions, anions, 12, a / 2 ** 0.5),
                            Shell(("Li",), ("Li",), 6, a / 2)))
    if kind == "rocksalt-LiCl":
        return dict(space_group_number=225,
                    shells=(Shell(("Li",), ("Cl",), 6, a / 2), Shell(("Cl",), ("Li",), 6, a / 2)))
    if kind == "Li3P":
        if c is None:
            raise ValueError("Li3P needs c")
        # P: 3 Li(2b) in its plane at a/sqrt(3) form the first shell (then 2 Li(4f) along c).
        return dict(space_group_number=194, shells=(Shell(("P",), ("Li",), 3, a / 3 ** 0.5),))
    if kind == "LPSC":
        return dict(space_group_number=216,
                    shells=(Shell(("P",), ("S",), 4, 2.06, tol=0.03),
                            Shell(("P",), ("P",), 12, a / 2 ** 0.5)))
    raise ValueError(f"unknown crystal kind {kind!r}")
