"""Active sets from configurations, and extrapolation grades with the C++ kernel.

The rows of the active set are dV_i/dtheta of atomic neighbourhoods ("nbh" mode) or
dE/dtheta / N of whole configurations ("cfg" mode), computed by the same C++ code that
`pair_style mtp` runs, so grades from Python and from LAMMPS are identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from .. import _kernel
from ..mtp.calculator import load_kernel, neighbour_csr
from ..mtp.model import MTP
from ..mtp.reference import TypeMap, resolve_types
from .maxvol import DEFAULT_SWAP_THRESHOLD, ActiveSet


def species_of(mtp: MTP, atoms: Atoms, type_map: TypeMap | None = None) -> np.ndarray:
    return resolve_types(atoms, mtp.species_count, type_map, mtp.elements).astype(np.int32)


def parameter_rows(mtp: MTP, configurations: Sequence[Atoms], mode: str = "nbh",
                   type_map: TypeMap | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows (m, n_parameters) and provenance (m, 2) = [configuration, atom] (atom -1: cfg)."""
    if mode not in ("nbh", "cfg"):
        raise ValueError(f"mode must be 'nbh' or 'cfg', got {mode!r}")
    kernel = load_kernel(mtp)
    rows, prov = [], []
    for c, atoms in enumerate(configurations):
        offsets, neighbours, rij = neighbour_csr(atoms, kernel.cutoff)
        grads = kernel.parameter_gradients(species_of(mtp, atoms, type_map), offsets, neighbours, rij)
        if mode == "nbh":
            rows.append(grads)
            prov.append(np.stack([np.full(len(atoms), c), np.arange(len(atoms))], axis=1))
        else:
            rows.append(grads.sum(axis=0, keepdims=True) / len(atoms))
            prov.append(np.array([[c, -1]]))
    return np.concatenate(rows), np.concatenate(prov)


def active_set_from_configurations(mtp: MTP, configurations: Sequence[Atoms], mode: str = "nbh",
                                   type_map: TypeMap | None = None,
                                   threshold: float = DEFAULT_SWAP_THRESHOLD) -> ActiveSet:
    """MaxVol active set of a training set (MLIP-2's `calc-grade`/`select-add` start)."""
    rows, prov = parameter_rows(mtp, configurations, mode, type_map)
    return ActiveSet.from_training_set(rows, prov, threshold=threshold)


class Grader:
    """Per-atom MaxVol grades max_j |(b_i A^-1)_j| by the C++ kernel (as pair_style mtp)."""

    def __init__(self, mtp: MTP, inverse: np.ndarray, type_map: TypeMap | None = None) -> None:
        self.mtp = mtp
        self.type_map = type_map
        self.kernel = load_kernel(mtp)
        self._grader = _kernel.Grader(self.kernel, np.ascontiguousarray(inverse, dtype=float))

    @classmethod
    def from_active_set(cls, mtp: MTP, active: ActiveSet, type_map: TypeMap | None = None) -> "Grader":
        return cls(mtp, active.A_inv, type_map)

    def atom_grades(self, atoms: Atoms) -> np.ndarray:
        offsets, neighbours, rij = neighbour_csr(atoms, self.kernel.cutoff)
        return self._grader.grades(species_of(self.mtp, atoms, self.type_map), offsets,
                                   neighbours, rij)

    def grade(self, atoms: Atoms) -> float:
        """The configuration's grade: the largest of its neighbourhoods'."""
        return float(self.atom_grades(atoms).max())
