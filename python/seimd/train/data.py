"""Labelled configurations as a training set for an MTP.

A :class:`TrainingConfiguration` holds what the loss needs: the MTP species of
every atom (0-based), positions and cell (Angstrom), periodicity, and the
labels that are present: total energy (eV), forces (eV/A) and the virial
(3x3, eV, MLIP convention ``W_ab = -sum_ij (dV_i/dr_ij)_a (r_ij)_b``, i.e.
what a ``.cfg`` stores as ``PlusStress``; ASE stress = -W / V). Missing labels
are None and simply contribute nothing to the loss.

Sources (:func:`load_training_set`, :func:`to_training_set`):

* MLIP ``.cfg`` files: the ``type`` column *is* the MTP species; PlusStress
  (xx yy zz yz xz xy) is the virial.
* extended XYZ (or anything ``ase.io.read`` understands): species from
  ``atoms.arrays['mtp_type']`` when present, else from the chemical symbols
  through a species map (``["Li", "P", "S", "Cl"]`` = species 0, 1, 2, 3, or a
  dict symbol -> species), else through the elements the potential declares.
  Labels come from ``atoms.calc`` (energy, forces, ASE stress -> W = -stress V).
* :class:`seimd.io.cfg.Configuration`, ``ase.Atoms`` or
  :class:`TrainingConfiguration` objects.

Configuration weights w_c (default 1) can be set on the objects, for ``ase.Atoms`` by
``atoms.info['weight']``, and in a ``.cfg`` file by a feature line ``Feature weight W``
(MLIP's .cfg carries free-form features; seimd reads this one).

Splits are reproducible: :func:`split_holdout` and :func:`kfold_splits` draw
with ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..io.cfg import Configuration, read_cfg
from ..mtp.reference import resolve_types

__all__ = [
    "TrainingConfiguration",
    "load_training_set",
    "to_training_set",
    "split_holdout",
    "kfold_splits",
    "species_map_from_string",
]

_VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


@dataclass(eq=False)
class TrainingConfiguration:
    """One labelled configuration (units: Angstrom, eV, eV/A; virial in eV)."""

    species: np.ndarray
    """(N,) int, MTP species 0..C-1."""
    positions: np.ndarray
    """(N, 3) Cartesian positions, Angstrom."""
    cell: np.ndarray
    """(3, 3) lattice vectors as rows (zero rows along non-periodic directions)."""
    pbc: np.ndarray
    """(3,) bool, periodic along each lattice vector."""
    energy: float | None = None
    """Total energy, eV."""
    forces: np.ndarray | None = None
    """(N, 3) eV/A."""
    virial: np.ndarray | None = None
    """(3, 3) symmetric virial W in eV (MLIP ``PlusStress``; ASE stress = -W / V)."""
    weight: float = 1.0
    """Weight w_c of the whole configuration in the loss."""
    source: str = ""
    """Where it came from, e.g. ``train.cfg:12`` (0-based index in the file)."""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.species = np.asarray(self.species, dtype=np.int64).reshape(-1)
        n = self.species.size
        self.positions = np.array(self.positions, dtype=np.float64).reshape(n, 3)
        self.cell = np.array(self.cell, dtype=np.float64).reshape(3, 3)
        self.pbc = np.array(self.pbc, dtype=bool).reshape(3)
        if self.energy is not None:
            self.energy = float(self.energy)
            if not np.isfinite(self.energy):
                raise ValueError(f"{self.source}: non-finite energy")
        if self.forces is not None:
            self.forces = np.array(self.forces, dtype=np.float64).reshape(n, 3)
        if self.virial is not None:
            w = np.array(self.virial, dtype=np.float64)
            if w.shape == (6,):
                w = voigt_to_matrix(w)
            self.virial = 0.5 * (w.reshape(3, 3) + w.reshape(3, 3).T)
        self.weight = float(self.weight)
        if not self.weight >= 0.0:
            raise ValueError(f"{self.source}: configuration weight must be >= 0, got {self.weight}")

    @property
    def n_atoms(self) -> int:
        return int(self.species.size)

    @property
    def volume(self) -> float | None:
        """Cell volume (A^3) when periodic in 3 directions, else None."""
        if not self.pbc.all():
            return None
        return float(abs(np.linalg.det(self.cell)))

    def to_atoms(self, symbols: Sequence[str] | None = None):
        """An ``ase.Atoms`` (species in ``arrays['mtp_type']``), without labels."""
        from ase import Atoms

        names = ([symbols[t] for t in self.species] if symbols is not None
                 else ["X"] * self.n_atoms)
        atoms = Atoms(symbols=names, positions=self.positions, cell=self.cell, pbc=self.pbc)
        atoms.arrays["mtp_type"] = self.species.copy()
        return atoms


def voigt_to_matrix(v6: np.ndarray) -> np.ndarray:
    """(6,) xx yy zz yz xz xy -> symmetric (3, 3)."""
    m = np.empty((3, 3))
    for value, (a, b) in zip(np.asarray(v6, dtype=np.float64), _VOIGT):
        m[a, b] = m[b, a] = value
    return m


def matrix_to_voigt(m: np.ndarray) -> np.ndarray:
    """Symmetric part of (3, 3) -> (6,) xx yy zz yz xz xy."""
    s = 0.5 * (np.asarray(m) + np.asarray(m).T)
    return np.array([s[a, b] for a, b in _VOIGT])


def species_map_from_string(text: str | None) -> list[str] | None:
    """``"Li,P,S,Cl"`` -> ``["Li", "P", "S", "Cl"]`` (None or empty -> None)."""
    if text is None or not text.strip():
        return None
    symbols = [s.strip() for s in text.split(",")]
    if any(not s for s in symbols):
        raise ValueError(f"malformed species map {text!r}: expected e.g. 'Li,P,S,Cl'")
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"species map {text!r} repeats a symbol")
    return symbols


# --------------------------------------------------------------------------- conversion


def _from_cfg(config: Configuration, source: str) -> TrainingConfiguration:
    cell = np.zeros((3, 3))
    rows = 0 if config.cell is None else config.cell.shape[0]
    if rows:
        cell[:rows] = config.cell
    pbc = np.array([rows > 0, rows > 1, rows > 2])
    virial = None
    if config.plus_stress is not None:
        virial = voigt_to_matrix(config.plus_stress)
    weight = 1.0
    for key, value in config.features:
        if key == "weight":
            try:
                weight = float(value)
            except ValueError:
                raise ValueError(f"{source}: Feature weight {value!r} is not a number") from None
    return TrainingConfiguration(
        species=config.types, positions=config.positions, cell=cell, pbc=pbc,
        energy=config.energy, forces=config.forces, virial=virial, source=source,
        info={"features": list(config.features)}, weight=weight,
    )


def _from_atoms(atoms, type_map, species_count, elements, source: str) -> TrainingConfiguration:
    count = species_count if species_count is not None else 1 << 30
    species = resolve_types(atoms, count, type_map, elements)
    results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
    energy = results.get("energy", results.get("free_energy"))
    forces = results.get("forces")
    virial = None
    stress = results.get("stress")
    if stress is not None:
        stress = np.asarray(stress, dtype=np.float64)
        if stress.shape == (6,):
            stress = voigt_to_matrix(stress)
        if not np.all(atoms.pbc):
            raise ValueError(f"{source}: a stress label needs a cell periodic in 3 directions")
        virial = -stress * abs(atoms.get_volume())
    return TrainingConfiguration(
        species=species, positions=atoms.positions, cell=atoms.cell.array,
        pbc=np.asarray(atoms.pbc, dtype=bool), energy=energy, forces=forces, virial=virial,
        weight=float(atoms.info.get("weight", 1.0)) if isinstance(atoms.info, dict) else 1.0,
        source=source,
    )


def to_training_set(
    items: Iterable,
    type_map: Mapping[str, int] | Sequence[str] | None = None,
    species_count: int | None = None,
    elements: Sequence[str] | None = None,
    source: str = "<memory>",
) -> list[TrainingConfiguration]:
    """Training configurations from Configuration / ase.Atoms / TrainingConfiguration objects.

    ``type_map`` (list of symbols of species 0, 1, ... or dict symbol -> species) and
    ``elements`` (the potential's declared symbols, used when there is no type map)
    give the species of ``ase.Atoms`` without ``arrays['mtp_type']``.
    """
    out = []
    for n, item in enumerate(items):
        where = f"{source}:{n}"
        if isinstance(item, TrainingConfiguration):
            out.append(item)
        elif isinstance(item, Configuration):
            out.append(_from_cfg(item, where))
        elif hasattr(item, "get_chemical_symbols"):
            out.append(_from_atoms(item, type_map, species_count, elements, where))
        else:
            raise TypeError(f"{where}: cannot train on a {type(item).__name__}")
    if species_count is not None:
        for c in out:
            if c.n_atoms and c.species.max() >= species_count:
                raise ValueError(
                    f"{c.source}: species {int(c.species.max())} but the potential has "
                    f"{species_count} species (0..{species_count - 1})"
                )
    return out


def load_training_set(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    type_map: Mapping[str, int] | Sequence[str] | None = None,
    species_count: int | None = None,
    elements: Sequence[str] | None = None,
) -> list[TrainingConfiguration]:
    """All configurations of one or more ``.cfg`` / extended-XYZ files, in order.

    Files ending in ``.cfg`` or ``.cfg.gz`` are read with :func:`seimd.io.cfg.read_cfg`
    (which decompresses); anything else with ``ase.io.read(path, index=':')``.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[TrainingConfiguration] = []
    for path in paths:
        p = Path(path)
        if p.name.lower().endswith((".cfg", ".cfg.gz")):
            configs = read_cfg(p)
            out.extend(to_training_set(configs, source=str(p), species_count=species_count))
        else:
            import ase.io

            if not p.is_file():
                raise FileNotFoundError(f"{p}: file not found")
            images = ase.io.read(str(p), index=":")
            out.extend(to_training_set(images, type_map, species_count, elements, str(p)))
    if not out:
        raise ValueError(f"no configurations in {', '.join(map(str, paths))}")
    return out


# --------------------------------------------------------------------------- splits


def split_holdout(n: int, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random (train, held-out) index arrays; round(fraction * n) held out (>= 1 if fraction > 0).

    Both arrays are sorted. Reproducible for a given ``seed``.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"hold-out fraction must be in [0, 1), got {fraction}")
    n_out = int(round(fraction * n))
    if fraction > 0.0:
        n_out = max(n_out, 1)
    if n_out >= n:
        raise ValueError(f"hold-out of {n_out} of {n} configurations leaves none to train on")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])


def kfold_splits(n: int, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (train, held-out) index pairs of a random partition into k near-equal folds."""
    if not 2 <= k <= n:
        raise ValueError(f"k-fold needs 2 <= k <= {n} (the number of configurations), got {k}")
    perm = np.random.default_rng(seed).permutation(n)
    folds = np.array_split(perm, k)
    return [(np.sort(np.concatenate(folds[:f] + folds[f + 1:])), np.sort(folds[f]))
            for f in range(k)]
