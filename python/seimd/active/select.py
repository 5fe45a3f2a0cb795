"""`seimd select` and `seimd grade`: MaxVol selection and grading of .cfg files.

    select: grow an active set (from an .als state, or built from a training set) with
            the candidate configurations that raise |det A| the most; write the updated
            .als and the selected configurations (to label with the oracle).
    grade:  the extrapolation grade of every configuration of a .cfg file (MLIP-2's
            calc-grade), written back with a `Feature MV_grade` line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.cfg import read_cfg, to_atoms, write_cfg
from ..mtp.model import MTP
from .als import CFG_WEIGHTS, NBH_WEIGHTS, ALSState, read_als, write_als
from .grades import Grader, active_set_from_configurations, grade_mode, parameter_rows
from .maxvol import DEFAULT_SWAP_THRESHOLD


def select(potential: str | Path, candidates: str | Path, output_als: str | Path,
           selected_cfg: str | Path, als: str | Path | None = None,
           training: str | Path | None = None, mode: str | None = None,
           threshold: float = DEFAULT_SWAP_THRESHOLD) -> list[int]:
    """Indices of the candidate configurations that entered the active set. ``mode`` "nbh"
    (one row per atom) or "cfg" (one row per configuration, MLIP-2's default); growing an
    existing .als keeps that file's mode (None: that mode, or "nbh" without a file), and a
    different ``mode`` is refused."""
    mode = {"neighbourhood": "nbh", "configuration": "cfg"}.get(mode, mode)
    mtp = MTP.read(potential)
    if als is not None:
        state = read_als(als)
        file_mode = grade_mode(state.weights, str(als))
        mode = mode or file_mode
        if file_mode != mode:
            raise ValueError(f"{als} is a {file_mode!r} mode active set, --mode is {mode!r}")
        active = state.active_set()
        known = list(state.configurations)
    elif training is not None:
        mode = mode or "nbh"
        known = read_cfg(training)
        active = active_set_from_configurations(mtp, [to_atoms(c) for c in known], mode,
                                                threshold=threshold)
    else:
        raise ValueError("select needs an active set (--als) or a training set (--training)")
    pool = read_cfg(candidates)
    rows, prov = parameter_rows(mtp, [to_atoms(c) for c in pool], mode)
    prov = prov.copy()
    prov[:, 0] += len(known)                       # candidates after the known configurations
    taken = active.select(rows, prov, threshold)
    chosen = sorted({int(prov[t, 0]) - len(known) for t in np.atleast_1d(taken)
                     if prov[t, 0] >= len(known)})
    weights = CFG_WEIGHTS if mode == "cfg" else NBH_WEIGHTS
    write_als(output_als, ALSState.from_active_set(mtp, active, known + pool, weights))
    write_cfg(selected_cfg, [pool[c] for c in chosen])
    return chosen


def grade(potential: str | Path, als: str | Path, data: str | Path,
          output: str | Path | None = None) -> np.ndarray:
    """Grade of every configuration (max over its atoms in "nbh" mode, of its row
    dE/dtheta / N in "cfg" mode, as the .als weights say); optionally writes them back."""
    mtp = MTP.read(potential)
    state = read_als(als)
    grader = Grader(mtp, state.A_inv, mode=grade_mode(state.weights, str(als)))
    configs = read_cfg(data)
    grades = np.array([grader.grade(to_atoms(c)) for c in configs])
    if output is not None:
        for c, g in zip(configs, grades):
            c.features = [f for f in c.features if f[0] != "MV_grade"] + [("MV_grade", f"{g:.6g}")]
        write_cfg(output, configs)
    return grades
