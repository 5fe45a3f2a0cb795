"""Stage 4: crystalline layers that do and do not seal Li metal off the electrolyte."""

import numpy as np
import pytest

from seimd.analysis.percolation import AMORPHOUS, CRYSTALLINE, LI_METAL, PRISTINE, separation

A = 2.0  # A, simple cubic lattice spacing; cutoff 2.1 A joins first neighbours only
CELL = (20.0, 20.0, 40.0)


def lattice():
    g = np.arange(0, 20, A)
    x, y, z = np.meshgrid(g, g, np.arange(0, 40, A), indexing="ij")
    pos = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    z = pos[:, 2]
    labels = np.full(len(pos), PRISTINE)
    labels[(z < 6) | (z >= 34)] = LI_METAL       # the anode wraps around z = 0
    labels[((z >= 6) & (z < 12)) | ((z >= 28) & (z < 34))] = CRYSTALLINE  # both interfaces
    return pos, labels


def test_complete_layers_separate():
    pos, labels = lattice()
    s = separation(pos, labels, CELL, cutoff=2.1)
    assert s.separated and s.n_paths == 0


def test_one_hole_leaks():
    pos, labels = lattice()
    hole = (pos[:, 0] == 10) & (pos[:, 1] == 10) & (pos[:, 2] >= 6) & (pos[:, 2] < 12)
    labels[hole] = AMORPHOUS
    s = separation(pos, labels, CELL, cutoff=2.1)
    assert not s.separated and s.n_paths == 1
    assert set(np.nonzero(hole)[0]) <= set(s.path_atoms)


def test_without_second_layer_the_periodic_image_leaks():
    pos, labels = lattice()
    z = pos[:, 2]
    labels[(z >= 28) & (z < 34)] = PRISTINE
    assert not separation(pos, labels, CELL, cutoff=2.1).separated
    # the same cell cut open along z: the anode below z = 6 is sealed, the slab above
    # z = 34 touches the electrolyte, so still not separated; removing it seals
    keep = z < 34
    assert separation(pos[keep], labels[keep], CELL, periodic=(True, True, False), cutoff=2.1).separated


def test_channel_through_the_periodic_x_boundary():
    """A stair-shaped channel: x = 0 in the lower part of the layer, x = 18 A in the
    upper part; the two halves meet only across the periodic boundary in x."""
    pos, labels = lattice()
    x, y, z = pos.T
    labels[(x == 0) & (y == 10) & (z >= 6) & (z <= 8)] = AMORPHOUS
    labels[(x == 18) & (y == 10) & (z >= 8) & (z < 12)] = AMORPHOUS
    assert not separation(pos, labels, CELL, cutoff=2.1).separated
    assert separation(pos, labels, CELL, periodic=(False, True, True), cutoff=2.1).separated


def test_positions_outside_the_cell_are_wrapped():
    pos, labels = lattice()
    shifted = pos + np.array([20.0, -40.0, 40.0])
    assert separation(shifted, labels, CELL, cutoff=2.1).separated


def test_bad_input():
    pos, labels = lattice()
    with pytest.raises(ValueError, match="half the periodic"):
        separation(pos, labels, CELL, cutoff=15)
    with pytest.raises(ValueError, match="positions"):
        separation(pos[:5], labels, CELL)
