"""Stage 4 of the SEI: does the crystalline layer seal Li metal off the electrolyte?

From per-atom phase labels (the monitor's ``labels=yes``: 0 Li metal, 1 pristine
electrolyte, 2 amorphous reduced, 3 crystalline reduced) and positions in an orthogonal
periodic cell, the non-crystalline atoms are joined into a graph by neighbour pairs
closer than `cutoff`; the crystalline layer separates the anode from the pristine
electrolyte when no connected component holds both a Li-metal and a pristine atom.
Through an amorphous (or pristine) channel Li keeps reducing fresh electrolyte; once
every such channel is closed, growth can only go on by transport through the crystal.

Lengths in A. The cutoff should be about the first-neighbour distance (~3 A): much
larger and atoms jump across a thin but complete crystalline layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = ["LI_METAL", "PRISTINE", "AMORPHOUS", "CRYSTALLINE", "Separation", "separation"]

LI_METAL, PRISTINE, AMORPHOUS, CRYSTALLINE = 0, 1, 2, 3


@dataclass(frozen=True)
class Separation:
    """separated: no non-crystalline path joins Li metal and pristine electrolyte;
    n_paths: connected components touching both; path_atoms: atom indices of those
    components (where the layer leaks)."""

    separated: bool
    n_components: int
    n_paths: int
    path_atoms: np.ndarray


def separation(positions, labels, cell, *, periodic=(True, True, True),
               cutoff: float = 3.0) -> Separation:
    """positions [N, 3] (A), labels [N] (0..3), cell lengths (Lx, Ly, Lz) in A of an
    orthogonal box with its origin at 0; periodic: which directions wrap around."""
    pos = np.asarray(positions, float)
    labels = np.asarray(labels).astype(int)
    cell = np.asarray(cell, float).reshape(3)
    periodic = np.asarray(periodic, bool).reshape(3)
    if pos.ndim != 2 or pos.shape[1] != 3 or len(pos) != len(labels):
        raise ValueError(f"positions must be [N, 3] with N = len(labels), got {pos.shape}, {labels.shape}")
    if np.any(cell <= 0):
        raise ValueError(f"cell lengths must be positive, got {cell}")
    if cutoff <= 0 or np.any(periodic & (cutoff >= cell / 2)):
        raise ValueError(f"cutoff {cutoff} A must be positive and below half the periodic cell lengths")
    keep = np.nonzero(labels != CRYSTALLINE)[0]
    empty = Separation(True, 0, 0, np.empty(0, int))
    if len(keep) == 0:
        return empty
    p = pos[keep].copy()
    # cKDTree's boxsize wraps every direction: a non-periodic one gets a box so large
    # (3x its extent plus the cutoff) that nothing wraps
    lo = p.min(axis=0)
    box = cell.copy()
    for d in range(3):
        if periodic[d]:
            p[:, d] = np.mod(p[:, d], cell[d])
        else:
            p[:, d] -= lo[d]
            box[d] = 3 * (np.ptp(p[:, d]) + cutoff) + 1.0
    p = np.minimum(p, np.nextafter(box, 0))  # mod can return exactly L
    pairs = cKDTree(p, boxsize=box).query_pairs(cutoff, output_type="ndarray")
    n = len(keep)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    n_comp, comp = connected_components(graph, directed=False)
    lab = labels[keep]
    with_li = set(np.unique(comp[lab == LI_METAL]))
    with_pristine = set(np.unique(comp[lab == PRISTINE]))
    leaking = sorted(with_li & with_pristine)
    atoms = keep[np.isin(comp, leaking)] if leaking else np.empty(0, int)
    return Separation(not leaking, int(n_comp), len(leaking), atoms)
