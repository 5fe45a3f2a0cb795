"""Retraining and the active set of the retrained potential.

:func:`retrain` calls :func:`seimd.train.train` on every rank of the communicator
(configurations split over the ranks; the same potential comes out everywhere) with a warm
start from the current potential. :func:`rebuild_active_set` computes the nbh rows of the
whole training set on all ranks and runs MaxVol on rank 0 from the regularised start
(MLIP-2's ``select-add`` from scratch), so the active set always belongs to the potential
that grades the next MD.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from seimd.active.als import ALSState, write_als
from seimd.active.maxvol import ActiveSet
from seimd.io.cfg import Configuration
from seimd.mtp.model import MTP
from seimd.train import LossWeights, train
from seimd.train.trainer import prepare_template

from .selection import distributed_rows

__all__ = ["prepare_potential", "retrain", "rebuild_active_set", "untrained_copy"]


def prepare_potential(mtp: MTP, species: list[str]) -> MTP:
    """``mtp`` with ``species`` declared as its elements (an untrained template is resized)."""
    if mtp.is_trained and mtp.species_count != len(species):
        raise ValueError(f"the potential has {mtp.species_count} species, run.species lists "
                         f"{len(species)}: {species}")
    return prepare_template(mtp, None if mtp.is_trained else len(species), species)


def untrained_copy(mtp: MTP) -> MTP:
    """The template of a trained potential (same basis, no coefficients)."""
    return dataclasses.replace(mtp, radial_coeffs=None, species_coeffs=None, moment_coeffs=None)


class _FileLog:
    """Training log lines to a file (rank 0 only)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "w", encoding="utf-8")

    def __call__(self, line: str) -> None:
        self.handle.write(line + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def retrain(mtp: MTP, configs: list[Configuration], species: list[str], *, max_iter: int,
            tol: float, tol_window: int, weights: dict, seed: int, warm_start: bool,
            threads: int, comm=None, log_path: Path | None = None,
            on_iteration: Callable[[int], None] | None = None):
    """Train on ``configs`` (collective); returns (trained MTP with ``species`` declared, report)."""
    rank = comm.Get_rank() if comm is not None else 0
    start = mtp if (warm_start and mtp.is_trained) else untrained_copy(mtp) if mtp.is_trained else mtp
    start = prepare_potential(start, species)
    log = _FileLog(log_path) if (log_path is not None and rank == 0) else None

    def callback(iteration, theta, value):
        if on_iteration is not None:
            on_iteration(iteration)
        return False

    try:
        trained, report = train(start, configs, weights=LossWeights(**weights), max_iter=max_iter,
                                tol=tol, tol_window=tol_window, seed=seed, comm=comm,
                                callback=callback, log=log, threads=threads)
    finally:
        if log is not None:
            log.close()
    return trained.with_elements(species), report


def rebuild_active_set(mtp: MTP, configs: list[Configuration], species: list[str],
                       swap_threshold: float, output: Path, comm=None) -> dict | None:
    """MaxVol active set of ``mtp`` over ``configs``, written to ``output`` (.als) by rank 0.

    Returns {filled, n, log_abs_det} on rank 0, None elsewhere."""
    got = distributed_rows(mtp, configs, species, comm)
    if got is None:
        return None
    rows, prov = got
    active = ActiveSet.from_training_set(rows, prov, threshold=swap_threshold)
    output = Path(output)
    tmp = output.with_name(output.name + ".tmp")
    write_als(tmp, ALSState.from_active_set(mtp, active, configs))
    tmp.replace(output)
    return {"filled": active.n_filled, "n": active.n, "log_abs_det": active.log_abs_det()}
