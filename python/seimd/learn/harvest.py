"""Candidates from what the exploration MD saved (``grade_save``).

* ``configuration`` mode: the MD saved whole periodic cells (``pair_style mtp ... grade_save
  X FILE configuration``); each is a candidate as it is.
* ``neighbourhood`` mode (systems larger than the oracle takes): the MD saved the
  neighbourhood of every atom above the save threshold (central atom first, relative
  positions, all atoms within the cutoff); each becomes a cluster in a cubic box with
  ``vacuum`` Angstrom between periodic images (:func:`seimd.active.environments.neighbourhood_to_cell`),
  so the central atom keeps exactly the neighbourhood (and grade) it had in the MD.

Each candidate keeps the features LAMMPS wrote (``MV_grade``, ``lammps_step``,
``seimd_kind``, ``lammps_atom_id``) and gets ``seimd_run`` (the run's name). When there
are more than ``max_candidates``, the highest graded are kept (ties: earlier first), in
their original order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seimd.io.cfg import Configuration, from_atoms, read_cfg

__all__ = ["harvest", "candidate_grade", "harvest_mode"]


def candidate_grade(config: Configuration) -> float:
    value = config.feature("MV_grade")
    try:
        return float(value) if value is not None else float("nan")
    except ValueError:
        return float("nan")


def harvest_mode(setting: str, natoms: int, max_atoms: int) -> str:
    """configuration or neighbourhood for a run of ``natoms`` atoms (md.harvest = auto)."""
    if setting != "auto":
        return setting
    return "neighbourhood" if natoms > max_atoms else "configuration"


def harvest(saved: list[tuple[str, Path, str]], species: list[str], vacuum: float,
            max_candidates: int) -> list[Configuration]:
    """Candidates of ``(run name, extrapolative .cfg, mode)`` triples, in run order."""
    from seimd.active.environments import neighbourhood_to_cell

    candidates: list[Configuration] = []
    for name, path, mode in saved:
        path = Path(path)
        if not path.exists() or path.stat().st_size == 0:
            continue
        for cfg in read_cfg(path):
            kind = cfg.feature("seimd_kind") or ("configuration" if cfg.cell is not None
                                                 else "neighbourhood")
            if kind == "neighbourhood":
                atoms = neighbourhood_to_cell(cfg, species, vacuum=vacuum)
                out = from_atoms(atoms, species)
                out.features = list(cfg.features)
            else:
                out = Configuration(types=cfg.types, positions=cfg.positions, cell=cfg.cell,
                                    features=list(cfg.features))
            out.features = [f for f in out.features if f[0] != "seimd_run"] + [("seimd_run", name)]
            if mode == "neighbourhood" and kind != "neighbourhood":
                raise ValueError(f"run {name}: expected neighbourhoods in {path}, found a whole "
                                 f"configuration")
            candidates.append(out)
    if len(candidates) > max_candidates:
        grades = np.array([candidate_grade(c) for c in candidates])
        grades = np.where(np.isfinite(grades), grades, -np.inf)
        order = np.argsort(-grades, kind="stable")[:max_candidates]
        candidates = [candidates[i] for i in sorted(order.tolist())]
    return candidates
