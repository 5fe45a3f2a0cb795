"""Dump frames with per-atom phase labels: when does the crystalline layer seal the anode?

A run with `fix sei ... labels=yes` and `dump ... id type x y z f_sei` writes, per frame,
each atom's phase label (0 Li metal, 1 pristine, 2 amorphous, 3 crystalline). Frames are
read with ASE's LAMMPS dump reader (it keeps the extra column as a per-atom array and the
step as info["timestep"]); stage 4 of the SEI is the first frame in which
seimd.analysis.percolation.separation finds no non-crystalline path from Li metal to
pristine electrolyte.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .percolation import separation

__all__ = ["LabelFrame", "read_label_frames", "percolation_series"]

STANDARD = {"id", "type", "numbers", "positions", "x", "y", "z", "xs", "ys", "zs", "element"}


@dataclass
class LabelFrame:
    step: int
    positions: np.ndarray      # [N, 3] A, relative to the box origin
    labels: np.ndarray         # [N] 0..3
    cell: np.ndarray           # [3] A (orthogonal box)
    periodic: np.ndarray       # [3] bool


def _label_column(arrays: dict, column: str | None, path: str) -> str:
    if column is not None:
        if column not in arrays:
            raise ValueError(f"{path}: no per-atom column {column!r} (has {', '.join(sorted(arrays))})")
        return column
    extra = sorted(k for k in arrays if k not in STANDARD and k.startswith(("f_", "c_", "v_", "i_", "d_")))
    if len(extra) != 1:
        raise ValueError(f"{path}: cannot tell which column holds the phase labels "
                         f"({', '.join(extra) or 'no f_/c_/v_ column'}); give --label-column")
    return extra[0]


def read_label_frames(path: str | Path, column: str | None = None, every: int = 1):
    """The frames of a LAMMPS text dump (every `every`-th), as LabelFrame objects."""
    from ase.io import read

    path = str(path)
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    try:
        frames = read(path, index=f"::{every}", format="lammps-dump-text")
    except Exception as exc:  # ASE raises several types on malformed dumps
        raise ValueError(f"{path}: not a LAMMPS text dump ({' '.join(str(exc).split())[:120]})") from None
    out = []
    for atoms in frames:
        name = _label_column(atoms.arrays, column, path)
        cell = atoms.cell.array
        if np.abs(cell - np.diag(np.diag(cell))).max() > 1e-8:
            raise ValueError(f"{path}: step {atoms.info.get('timestep')}: triclinic box; "
                             f"the percolation check needs an orthogonal one")
        labels = np.asarray(atoms.arrays[name]).reshape(-1)
        if not np.all(np.isin(labels, (0, 1, 2, 3))):
            raise ValueError(f"{path}: column {name} is not a phase label (0..3)")
        out.append(LabelFrame(int(atoms.info.get("timestep", 0)),
                              atoms.positions - atoms.get_celldisp().reshape(3),
                              labels.astype(int), np.diag(cell).copy(), np.asarray(atoms.pbc, bool)))
    if not out:
        raise ValueError(f"{path}: not a LAMMPS text dump (no ITEM: TIMESTEP frames)")
    return out


def percolation_series(frames: list[LabelFrame], timestep_ps: float, *, cutoff: float = 3.0,
                       progress=sys.stderr) -> dict:
    """Per frame: separated (the crystalline layer seals Li metal off the pristine
    electrolyte: both present, crystalline atoms present, no non-crystalline path between
    them) and the leaking components; state says which (sealed, leaking, no Li metal, no
    pristine electrolyte, no crystalline atoms). first_separated_ps is the earliest sealed
    frame (None if none). A progress line with an ETA goes to `progress` (None: quiet)."""
    series, t_start = [], time.time()
    last = t_start
    for k, fr in enumerate(frames):
        n_metal, n_pristine, n_cryst = (int((fr.labels == k).sum()) for k in (0, 1, 3))
        row = {"step": fr.step, "time_ps": fr.step * timestep_ps, "crystalline_atoms": n_cryst}
        if n_metal == 0 or n_pristine == 0 or n_cryst == 0:
            # nothing left to seal off, or nothing to seal with: not stage 4
            state = ("no Li metal" if n_metal == 0 else "no pristine electrolyte"
                     if n_pristine == 0 else "no crystalline atoms")
            row.update(separated=False, state=state, leaking_paths=None, leaking_atoms=None)
        else:
            s = separation(fr.positions, fr.labels, fr.cell, periodic=fr.periodic, cutoff=cutoff)
            row.update(separated=s.separated, state="sealed" if s.separated else "leaking",
                       leaking_paths=s.n_paths, leaking_atoms=int(len(s.path_atoms)))
        series.append(row)
        if progress is not None and (k + 1 == len(frames) or time.time() - last > 2):
            last = time.time()
            left = (time.time() - t_start) / (k + 1) * (len(frames) - k - 1)
            print(f"\rpercolation: frame {k + 1}/{len(frames)}, {left:.0f} s left", end="",
                  file=progress, flush=True)
    if progress is not None and len(frames) > 1:
        print(file=progress)
    first = next((r["time_ps"] for r in series if r["separated"]), None)
    states = {}
    for r in series:
        states[r["state"]] = states.get(r["state"], 0) + 1
    return {"cutoff_A": cutoff, "n_frames": len(series), "first_separated_ps": first,
            "frames_by_state": states, "series": series}
