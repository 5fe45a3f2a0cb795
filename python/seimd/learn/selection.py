"""MaxVol selection of candidates against the current active set, rows computed on all ranks.

Rows are MLIP's "nbh" rows, dV_i/dtheta of every atomic neighbourhood (the rows the
LAMMPS grades use), by :func:`seimd.active.grades.parameter_rows`. The candidates whose
rows MaxVol swaps into the active set are selected; when more than ``max_select`` enter,
those holding the most rows of the grown active set are kept (ties: higher MD grade,
then earlier).
"""

from __future__ import annotations

import numpy as np

from seimd.active.als import read_als
from seimd.active.grades import parameter_rows
from seimd.io.cfg import Configuration, to_atoms
from seimd.mtp.model import MTP

from .harvest import candidate_grade

__all__ = ["distributed_rows", "select_candidates"]


def distributed_rows(mtp: MTP, configs: list[Configuration], species: list[str],
                     comm=None) -> tuple[np.ndarray, np.ndarray] | None:
    """nbh rows (m, n) and provenance (m, 2) = [config index, atom] of ``configs``, computed
    round-robin over the ranks of ``comm``; the full arrays on rank 0, None elsewhere."""
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
    mine = list(range(rank, len(configs), size))
    rows, prov = [], []
    for c in mine:
        r, p = parameter_rows(mtp, [to_atoms(configs[c], species)], "nbh", type_map=species)
        p = p.copy()
        p[:, 0] = c
        rows.append(r)
        prov.append(p)
    n = mtp.n_parameters
    local = (np.concatenate(rows) if rows else np.zeros((0, n)),
             np.concatenate(prov) if prov else np.zeros((0, 2), dtype=np.int64))
    if comm is None or size == 1:
        return local
    parts = comm.gather(local, root=0)
    if rank != 0:
        return None
    R = np.concatenate([p[0] for p in parts])
    P = np.concatenate([p[1] for p in parts]).astype(np.int64)
    order = np.lexsort((P[:, 1], P[:, 0]))          # back to configuration, atom order
    return R[order], P[order]


def select_candidates(potential: str, als: str, candidates: list[Configuration],
                      species: list[str], max_select: int, swap_threshold: float,
                      comm=None) -> dict | None:
    """Indices (into ``candidates``, ascending) of the selected ones, with statistics; on
    rank 0 (None elsewhere)."""
    mtp = MTP.read(potential)
    got = distributed_rows(mtp, candidates, species, comm)
    if got is None:
        return None
    rows, prov = got
    if not candidates:
        return {"selected": [], "entered": 0, "candidate_max_grade": float("nan")}
    active = read_als(als).active_set()
    grades = np.abs(rows @ active.A_inv).max(axis=1)
    offset = 1 << 40                                  # candidate rows vs the stored ones
    p = prov.copy()
    p[:, 0] += offset
    active.select(rows, p, swap_threshold)
    new = active.provenance[:, 0] >= offset
    slots = np.bincount(active.provenance[new, 0] - offset, minlength=len(candidates))
    entered = np.flatnonzero(slots > 0)
    md_grades = np.array([candidate_grade(c) for c in candidates])
    md_grades = np.where(np.isfinite(md_grades), md_grades, -np.inf)
    if len(entered) > max_select:
        rank = sorted(entered.tolist(), key=lambda c: (-slots[c], -md_grades[c], c))
        chosen = sorted(rank[:max_select])
    else:
        chosen = entered.tolist()
    return {"selected": [int(c) for c in chosen], "entered": int(len(entered)),
            "candidate_max_grade": float(grades.max()) if grades.size else float("nan")}
