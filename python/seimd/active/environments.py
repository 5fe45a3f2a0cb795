"""Cut the environment of an extrapolative atom out of a large configuration.

A 30 000-atom configuration cannot go to DFT; the neighbourhood of the atom whose grade
is high can. seimd cuts every atom within `radius` of the central atom (periodic images
included) and places them in a cubic box with at least `vacuum` Angstrom of empty space
between periodic copies: a cluster in a periodic box, which plane-wave DFT (GPAW, CP2K)
and the universal potentials take as is. With radius >= the MTP cutoff and
vacuum >= the cutoff, the central atom sees exactly the neighbourhood it had in the
large system, so its site energy and grade are reproduced (tested). The surface atoms
of the cluster see truncated environments: the trainer should weight the configuration
by the central atom (MLIP-3 uses the same idea); seimd records the central atom's index
in `atoms.info['seimd_centre']`.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import primitive_neighbor_list

from ..io.cfg import Configuration


def environment_cell(atoms: Atoms, centre: int, radius: float, vacuum: float = 5.0) -> Atoms:
    """Atoms within `radius` (A) of atom `centre`, centred in a cubic box with `vacuum` (A)."""
    if radius <= 0 or vacuum < 0:
        raise ValueError(f"need radius > 0 and vacuum >= 0, got {radius}, {vacuum}")
    i, j, d = primitive_neighbor_list("ijD", atoms.pbc, atoms.cell.array, atoms.positions,
                                      radius, self_interaction=False)
    mine = (i == centre) & (np.linalg.norm(d, axis=1) < radius)
    offsets = np.vstack([np.zeros(3), d[mine]])
    members = np.concatenate([[centre], j[mine]])
    return _boxed(atoms.get_chemical_symbols(), members, offsets, radius, vacuum, atoms, centre)


def neighbourhood_to_cell(cfg: Configuration, symbols: list[str] | None = None,
                          vacuum: float = 5.0) -> Atoms:
    """A neighbourhood that `pair_style mtp ... grade_save` wrote (central atom first, at the
    origin) as a cluster in a cubic box. `symbols[t]` names MTP species t (else 'X')."""
    positions = np.asarray(cfg.positions, float)
    radius = float(np.linalg.norm(positions, axis=1).max()) + 1e-6
    names = [symbols[t] if symbols else "X" for t in cfg.types]
    out = _boxed(names, np.arange(len(names)), positions - positions[0], radius, vacuum, None, 0)
    out.arrays["mtp_type"] = np.asarray(cfg.types, dtype=np.int64)
    for key, value in cfg.features:
        out.info[key] = value
    return out


def _boxed(symbols, members, offsets, radius, vacuum, source, centre) -> Atoms:
    side = 2.0 * radius + vacuum
    cell = Atoms([symbols[m] for m in members], positions=offsets + side / 2.0,
                 cell=np.eye(3) * side, pbc=True)
    if source is not None:
        for name, values in source.arrays.items():
            if name not in ("numbers", "positions"):
                cell.arrays[name] = np.asarray(values)[members].copy()
    cell.info["seimd_centre"] = 0
    cell.info["seimd_source_atom"] = int(members[0]) if source is not None else int(centre)
    return cell
