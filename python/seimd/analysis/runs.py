"""Reading SEI monitor H5MD files (seimd.sei.monitor) and grouping runs.

A run is identified by what the monitor recorded in parameters/segment_0 of its file
(temperature_K, pressure_bar, potential, seed, as inputs/sei.in passes them); flags of
`seimd analyze` override them for files written without.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Run", "load_run", "group_runs"]

REQUIRED = ("reduced", "crystalline", "amorphous")


@dataclass
class Run:
    """One monitor file: time (ps) and the fractions (% of the electrolyte)."""

    path: str
    time_ps: np.ndarray
    reduced: np.ndarray
    crystalline: np.ndarray
    amorphous: np.ndarray
    temperature_K: float | None = None
    pressure_bar: float | None = None
    model: str | None = None
    seed: int | None = None
    thickness_nm: np.ndarray | None = None  # monitor profile_bins > 0: reduced layer, nm
    interface_thickness_nm: np.ndarray | None = None  # [n, 2] nm: from each interface
    profile: np.ndarray | None = None       # [n, bins, 4] atoms per label and z slab
    lz_A: np.ndarray | None = None          # [n] box length along z, A
    extra: dict = field(default_factory=dict)

    @property
    def condition(self) -> tuple:
        """What seeds of one condition share: (temperature, pressure, model)."""
        return (self.temperature_K, self.pressure_bar, self.model)

    @property
    def label(self) -> str:
        parts = []
        if self.temperature_K is not None:
            parts.append(f"{self.temperature_K:g} K")
        if self.pressure_bar is not None:
            parts.append(f"{self.pressure_bar:g} bar")
        if self.model:
            parts.append(self.model)
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return ", ".join(parts) or Path(self.path).name


def _number(value, kind=float):
    if value is None:
        return None
    try:
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        return None


def load_run(path: str | os.PathLike, *, temperature=None, pressure=None, model=None,
             seed=None) -> Run:
    """Reads one monitor file; keyword arguments override the recorded parameters.
    A file that is not a monitor file raises ValueError with a one-line reason."""
    from ..sei.h5md import read_observables, read_parameters

    path = str(path)
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    try:
        obs = read_observables(path, locking=False)
        segments = read_parameters(path, locking=False)
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not an SEI monitor H5MD file ({' '.join(str(exc).split())})") from None
    missing = [name for name in REQUIRED if name not in obs]
    if missing:
        raise ValueError(f"{path}: no observable {', '.join(missing)} (not an SEI monitor file)")
    if len(obs["reduced"].time) < 3:
        raise ValueError(f"{path}: only {len(obs['reduced'].time)} samples, need at least 3")
    par = segments[0] if segments else {}
    model = model or par.get("potential")
    if model:
        model = Path(str(model)).stem  # the .mtp file name says which model
    profile = np.asarray(obs["profile"].value) if "profile" in obs else None
    lz = np.asarray(obs["lz"].value, float) if "lz" in obs else None
    if "interface_thickness" in obs:
        per_interface = np.asarray(obs["interface_thickness"].value, float)
    elif profile is not None and lz is not None:   # files written before it was recorded
        from ..sei.profile import interface_thickness_nm
        per_interface = np.array([interface_thickness_nm(p, z) for p, z in zip(profile, lz)])
    else:
        per_interface = None
    return Run(path, np.asarray(obs["reduced"].time, float),
               *(np.asarray(obs[n].value, float) for n in REQUIRED),
               temperature_K=_number(temperature if temperature is not None else par.get("temperature_K")),
               pressure_bar=_number(pressure if pressure is not None else par.get("pressure_bar")),
               model=model,
               seed=_number(seed if seed is not None else par.get("seed"), int),
               thickness_nm=(np.asarray(obs["reduced_thickness"].value, float)
                             if "reduced_thickness" in obs else None),
               interface_thickness_nm=per_interface, profile=profile, lz_A=lz,
               extra={"segments": len(segments),
                      "steps": np.asarray(obs["reduced"].step, np.int64)})


def group_runs(runs: list[Run]) -> dict[tuple, list[Run]]:
    """Runs by condition (temperature, pressure, model), conditions sorted, seeds in order."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.condition, []).append(run)
    def order(c):  # numbers numerically; unknown (None) last
        t, p, m = c
        return (t is None, t or 0.0, p is None, p or 0.0, m or "")
    return {c: sorted(groups[c], key=lambda r: (r.seed is None, r.seed or 0))
            for c in sorted(groups, key=order)}
