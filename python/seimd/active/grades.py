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


def grade_mode(weights, source: str = "<weights>") -> str:
    """'nbh' or 'cfg' for .als weights (nbh, energy, force, stress), decided by the C++ kernel
    (as pair_style mtp); ValueError with a one-line message for any other combination."""
    name = _kernel.grade_mode([float(w) for w in weights], source)
    return "cfg" if name == "configuration" else "nbh"


class Grader:
    """MaxVol grades by the C++ kernel (as pair_style mtp): per atom max_j |(b_i A^-1)_j|
    in "nbh" mode; in "cfg" mode one grade per configuration, of its row dE/dtheta / N,
    which every atom carries."""

    def __init__(self, mtp: MTP, inverse: np.ndarray, type_map: TypeMap | None = None,
                 mode: str = "nbh") -> None:
        if mode not in ("nbh", "cfg"):
            raise ValueError(f"mode must be 'nbh' or 'cfg', got {mode!r}")
        self.mtp = mtp
        self.mode = mode
        self.type_map = type_map
        self.kernel = load_kernel(mtp)
        self._grader = _kernel.Grader(self.kernel, np.ascontiguousarray(inverse, dtype=float))

    @classmethod
    def from_active_set(cls, mtp: MTP, active: ActiveSet, type_map: TypeMap | None = None,
                        mode: str = "nbh") -> "Grader":
        return cls(mtp, active.A_inv, type_map, mode)

    @classmethod
    def from_als(cls, state, type_map: TypeMap | None = None, source: str = "<als>") -> "Grader":
        """The grader an .als state asks for (its weights decide the mode)."""
        return cls(state.mtp, state.A_inv, type_map, grade_mode(state.weights, source))

    def atom_grades(self, atoms: Atoms) -> np.ndarray:
        offsets, neighbours, rij = neighbour_csr(atoms, self.kernel.cutoff)
        species = species_of(self.mtp, atoms, self.type_map)
        if self.mode == "cfg":
            g = self._grader.configuration_grade(species, offsets, neighbours, rij)
            return np.full(len(atoms), g)
        return self._grader.grades(species, offsets, neighbours, rij)

    def grade(self, atoms: Atoms) -> float:
        """The configuration's grade: the largest of its neighbourhoods' ("nbh"), or the
        grade of its row dE/dtheta / N ("cfg")."""
        return float(self.atom_grades(atoms).max())
