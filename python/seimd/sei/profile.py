"""Phase-label profiles along the interface normal z and the reduced-layer thickness.

The interface models of `seimd build` stack Li | Li6PS5Cl | (periodic) Li along z, so a
histogram of the per-atom phase labels (0 Li metal, 1 pristine, 2 amorphous reduced,
3 crystalline reduced) in slabs of z shows where the SEI is and how thick it is. Bins are
fractions of the box length: the barostat changes Lz, and fractional bins keep row k of
every analysis the same slab of material. Counts are integers so that MPI ranks sum them
exactly (Allreduce, as the monitor's other counts).
"""

from __future__ import annotations

import numpy as np

__all__ = ["label_profile", "reduced_thickness_nm"]

N_LABELS = 4


def label_profile(z, labels, zlo: float, zhi: float, bins: int) -> np.ndarray:
    """int64 [bins, 4]: atoms of each label in each of `bins` equal slabs of [zlo, zhi)
    (A); z outside the box is wrapped back (local atoms may sit just outside)."""
    z = np.asarray(z, float)
    labels = np.asarray(labels, int)
    lz = zhi - zlo
    frac = np.mod((z - zlo) / lz, 1.0)
    k = np.minimum((frac * bins).astype(int), bins - 1)
    out = np.zeros((bins, N_LABELS), np.int64)
    np.add.at(out, (k, labels), 1)
    return out


def reduced_thickness_nm(profile, lz_A: float) -> float:
    """Thickness of the reduced layer in nm: the reduced share (labels 2 + 3 over 1 + 2 +
    3, the electrolyte's atoms) of each slab times the slab width, summed over slabs.
    A slab of pristine electrolyte counts 0, a fully reduced one its width, so the sum is
    the total over all interfaces in the cell (2 for the periodic Li | LPSC | Li stack:
    halve it for one interface). Slabs without electrolyte (Li metal) count 0."""
    p = np.asarray(profile, float)
    electrolyte = p[:, 1:].sum(axis=1)
    share = np.divide(p[:, 2] + p[:, 3], electrolyte, out=np.zeros(len(p)), where=electrolyte > 0)
    return float(share.sum() * lz_A / len(p) / 10.0)
