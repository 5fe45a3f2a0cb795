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

__all__ = ["label_profile", "reduced_thickness_nm", "interface_thickness_nm"]

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


def interface_thickness_nm(profile, lz_A: float) -> np.ndarray:
    """[2] nm: the reduced layer grown from each face of the electrolyte, (first, second).

    The electrolyte is the longest run of slabs with more electrolyte atoms (labels 1-3)
    than Li metal (label 0), found on the periodic ring of slabs; "first" is the face
    where, going up in z, Li metal gives way to electrolyte, "second" the face where the
    electrolyte gives way to Li metal again (for the models of `seimd build`: the bottom and
    the top of the LPSC block, whichever way it wraps around the box). The run is split at
    the centre of its pristine atoms (the middle of the run once nothing is pristine), and
    each side's reduced share (reduced_thickness_nm) is summed over its slabs, a slab cut by
    the split counting in proportion. Both NaN without Li metal or without electrolyte:
    then there is no interface to measure from."""
    p = np.asarray(profile, float)
    n = len(p)
    metal = p[:, 0] >= p[:, 1:].sum(axis=1)
    if metal.all() or not metal.any():
        return np.full(2, np.nan)
    start = int(np.argmax(metal))            # rotate so that slab 0 is metal: runs never wrap
    q = np.roll(p, -start, axis=0)
    is_el = ~np.roll(metal, -start)
    runs, k = [], 0
    while k < n:
        if is_el[k]:
            j = k
            while j < n and is_el[j]:
                j += 1
            runs.append((k, j))
            k = j
        else:
            k += 1
    a, b = max(runs, key=lambda r: r[1] - r[0])
    seg = q[a:b]
    pristine = seg[:, 1]
    centres = np.arange(b - a) + 0.5
    split = (float((pristine * centres).sum() / pristine.sum()) if pristine.sum() > 0
             else (b - a) / 2.0)
    electrolyte = seg[:, 1:].sum(axis=1)
    share = np.divide(seg[:, 2] + seg[:, 3], electrolyte, out=np.zeros(len(seg)),
                      where=electrolyte > 0)
    below = np.clip(split - np.arange(b - a), 0.0, 1.0)   # part of each slab before the split
    width_nm = lz_A / n / 10.0
    return np.array([(share * below).sum(), (share * (1.0 - below)).sum()]) * width_nm
