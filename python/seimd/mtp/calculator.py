"""ASE calculator on the C++ MTP kernel, the same code that `pair_style mtp` runs.

Units: energy eV, forces eV/Angstrom, stress eV/Angstrom^3 (ASE Voigt order
xx yy zz yz xz xy, positive = tensile). The virial in the MLIP convention
(``W_ab = -sum (dV_i/dr_ij)_a (r_ij)_b``, what a ``.cfg`` stores as PlusStress, eV)
is in ``calc.results['virial']``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from .. import _kernel
from .model import MTP
from .reference import TypeMap, neighbour_pairs, resolve_types

__all__ = ["MTPCalculator", "load_kernel", "evaluate", "site_parameter_gradients", "neighbour_csr",
           "parameter_gradient_along"]


def load_kernel(potential: MTP | str | os.PathLike) -> "_kernel.Kernel":
    """A C++ kernel for a potential given as a file path or an :class:`MTP`."""
    if isinstance(potential, MTP):
        model = _kernel.Model.parse(potential.to_text(), potential.potential_name or "<MTP>")
    else:
        model = _kernel.Model.read(str(Path(potential)))
    return _kernel.Kernel(model)


def neighbour_csr(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbours closer than `cutoff` as CSR: offsets (N+1,), neighbour index (M,), r_ij (M, 3)."""
    nb = neighbour_pairs(atoms, cutoff)
    order = np.argsort(nb.i, kind="stable")
    offsets = np.zeros(len(atoms) + 1, dtype=np.int64)
    np.cumsum(np.bincount(nb.i[order], minlength=len(atoms)), out=offsets[1:])
    return (offsets, np.ascontiguousarray(nb.j[order], dtype=np.int32),
            np.ascontiguousarray(nb.vectors[order], dtype=np.float64))


def evaluate(kernel: "_kernel.Kernel", atoms: Atoms, species: np.ndarray,
             threads: int = 0) -> dict:
    """Site energies (eV), forces (eV/A), virial (3x3, eV) and per-atom virials of `atoms`."""
    offsets, neighbours, rij = neighbour_csr(atoms, kernel.cutoff)
    return kernel.compute(np.ascontiguousarray(species, dtype=np.int32), offsets, neighbours,
                          rij, threads)


def site_parameter_gradients(kernel: "_kernel.Kernel", atoms: Atoms,
                             species: np.ndarray) -> np.ndarray:
    """dV_i/dtheta of every atom, (N, n_parameters), theta ordered as `MTP.parameters`."""
    offsets, neighbours, rij = neighbour_csr(atoms, kernel.cutoff)
    return kernel.parameter_gradients(np.ascontiguousarray(species, dtype=np.int32), offsets,
                                      neighbours, rij)


def parameter_gradient_along(kernel: "_kernel.Kernel", atoms: Atoms, species: np.ndarray,
                             displacement: np.ndarray | None = None,
                             strain: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """dE/dtheta and its exact derivative along a deformation of the configuration.

    With `displacement` (N, 3, A) lambda: D = sum_k lambda_k . d(dE/dtheta)/dx_k, so that
    sum_k lambda_k . dF_k/dtheta = -D (force matching). With `strain` (3, 3) Lambda
    (x -> (1 + eps Lambda) x): D = d(dE/dtheta)/deps, so that
    sum_ab Lambda_ab dW_ab/dtheta = -D for the MLIP virial W (stress matching).
    """
    offsets, neighbours, rij = neighbour_csr(atoms, kernel.cutoff)
    if (displacement is None) == (strain is None):
        raise ValueError("give exactly one of displacement and strain")
    if displacement is not None:
        lam = np.asarray(displacement, dtype=float).reshape(len(atoms), 3)
        centres = np.repeat(np.arange(len(atoms)), np.diff(offsets))
        drij = lam[neighbours] - lam[centres]
    else:
        drij = rij @ np.asarray(strain, dtype=float).T
    return kernel.parameter_gradient_directional(np.ascontiguousarray(species, dtype=np.int32),
                                                 offsets, neighbours, rij,
                                                 np.ascontiguousarray(drij))


class MTPCalculator(Calculator):
    """Energy, forces, stress and site energies of an MTP, computed by seimd's C++ kernel.

    Species of the atoms come from ``atoms.arrays['mtp_type']`` when present, else from
    their chemical symbols through ``type_map`` (dict symbol -> species or a list of
    symbols), else through the elements the potential file declares.
    ``threads`` = OpenMP threads (0: OMP_NUM_THREADS or all cores).
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, potential: MTP | str | os.PathLike, type_map: TypeMap | None = None,
                 threads: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kernel = load_kernel(potential)
        self.type_map = type_map
        self.threads = threads

    def calculate(self, atoms: Atoms | None = None, properties=("energy",),
                  system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        model = self.kernel.model
        species = resolve_types(atoms, model.species_count, self.type_map,
                                model.elements or None)
        out = evaluate(self.kernel, atoms, species, self.threads)
        energies = out["site_energies"]
        virial = out["virial"]
        self.results = {
            "energies": energies,
            "energy": float(energies.sum()),
            "free_energy": float(energies.sum()),
            "forces": out["forces"],
            "virial": virial,
        }
        if atoms.cell.rank == 3 and all(atoms.pbc):
            stress = -0.5 * (virial + virial.T) / atoms.get_volume()
            self.results["stress"] = stress.flat[[0, 4, 8, 5, 2, 1]].copy()
