"""Labelling tasks spread over MPI ranks (or groups of ranks), results recorded by rank 0.

A process that dies inside the oracle (segfault, out of memory, kill) leaves its tasks
noted as in flight in the manifest; the loop counts that as a failed attempt when it
resumes, so a configuration that crashes the oracle every time is skipped after
``oracle.retries`` retries instead of crashing every resumed run.

The ranks form ``size // ranks_per_task`` groups. Tasks go round-robin in rounds: in each
round group g labels the g-th pending task; the group roots send their outcomes to rank 0,
which hands them, in task order, to ``record`` (append + fsync to the training set, then
the manifest). A kill therefore loses at most the round in flight, and the order of the
training set does not depend on how many ranks labelled it or when the run was killed.

Only GPAW uses a group of more than one rank (a GPAW communicator over the group); for the
other oracles the group root labels and the other members of its group wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from seimd.io.cfg import Configuration, from_atoms, to_atoms

from .oracles import LabelOutcome, label_with_retries, make_oracle
from .store import TASK_FEATURE

__all__ = ["Task", "label_tasks", "labelled_configuration"]


@dataclass
class Task:
    id: str
    """``<iteration>:<k>`` or ``init:<k>``"""
    config: Configuration
    """the configuration to label (types = MTP species, Angstrom)"""
    stress: bool = True
    """ask for the stress (periodic cells; never for cut environments)"""


def labelled_configuration(task: Task, labels: dict, species: list[str],
                           oracle: str) -> Configuration:
    """The task's configuration with the oracle's energy, forces (and stress) and the
    features ``seimd_task`` and ``seimd_oracle``."""
    atoms = to_atoms(task.config, species)
    results = {"energy": labels["energy"], "free_energy": labels["energy"],
               "forces": np.asarray(labels["forces"])}
    if task.stress and "stress" in labels:
        results["stress"] = np.asarray(labels["stress"])
    atoms.calc = SinglePointCalculator(atoms, **results)
    atoms.info.pop("cfg_columns", None)        # the unlabelled columns would drop the forces
    out = from_atoms(atoms, species)
    if out.forces is None or out.energy is None:
        raise AssertionError(f"task {task.id}: labels lost on the way to the .cfg")
    out.features = [f for f in out.features if f[0] not in (TASK_FEATURE, "seimd_oracle")] + [
        (TASK_FEATURE, task.id), ("seimd_oracle", oracle)]
    return out


def _groups(size: int, per: int) -> int:
    return max(size // max(per, 1), 1)


def label_tasks(tasks: list[Task], *, species: list[str], oracle_cfg, comm=None,
                logdir: Path | None = None,
                record: Callable[[list[tuple[Task, LabelOutcome, int]]], None],
                starting: Callable[[list[Task]], None] | None = None) -> None:
    """Label ``tasks`` (all ranks call this with the same list); ``starting`` runs on rank 0
    before every round with its tasks (to note them as in flight), ``record`` after it with
    ``(task, outcome, rank)`` in task order."""
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
    per = min(max(int(oracle_cfg.ranks_per_task), 1), size)
    n_groups = _groups(size, per)
    group = rank // per if rank < n_groups * per else -1
    group_rank = rank - group * per if group >= 0 else -1
    oracle_comm = None
    if oracle_cfg.kind == "gpaw" and per > 1 and size > 1:
        from .oracles import gpaw_mpi_backend

        gpaw_mpi_backend()
        from gpaw.mpi import world as gpaw_world

        comms = [gpaw_world.new_communicator(np.arange(g * per, (g + 1) * per))
                 for g in range(n_groups)]
        oracle_comm = comms[group] if group >= 0 else None
    oracle = make_oracle(oracle_cfg.kind, oracle_cfg.settings, threads=oracle_cfg.threads,
                         comm=oracle_comm, logdir=logdir)
    labels_here = oracle_cfg.kind == "gpaw" and per > 1   # every group member calls GPAW
    for start in range(0, len(tasks), n_groups):
        batch = tasks[start:start + n_groups]
        if rank == 0 and starting is not None:
            starting(batch)
        if comm is not None and size > 1:
            comm.Barrier()                       # nobody labels before it is noted
        mine = batch[group] if 0 <= group < len(batch) else None
        outcome = None
        if mine is not None and (group_rank == 0 or labels_here):
            atoms = to_atoms(mine.config, species)
            outcome = label_with_retries(oracle, atoms, stress=mine.stress,
                                         retries=oracle_cfg.retries, timeout=oracle_cfg.timeout,
                                         max_force=oracle_cfg.max_force, task=mine.id)
        send = (mine.id, outcome, rank) if (mine is not None and group_rank == 0) else None
        gathered = comm.gather(send, root=0) if comm is not None and size > 1 else [send]
        if rank == 0:
            by_id = {g[0]: g for g in gathered if g is not None}
            record([(t, by_id[t.id][1], by_id[t.id][2]) for t in batch])
        if comm is not None and size > 1:
            comm.Barrier()
    oracle.reset()
