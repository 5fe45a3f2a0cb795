"""MaxVol active set, extrapolation grades and the MLIP-2 .als state file (seimd.active)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import random_potential
from seimd.active.als import (
    CFG_WEIGHTS,
    NBH_WEIGHTS,
    ALSFormatError,
    ALSState,
    read_als,
    write_als,
)
from seimd.active.maxvol import (
    DEFAULT_SWAP_THRESHOLD,
    ActiveSet,
    candidate_rows,
    maxvol,
)
from seimd.io.cfg import from_atoms
from structures_for_tests import li_slab_cluster, triclinic_lpsc

THR = DEFAULT_SWAP_THRESHOLD


# --------------------------------------------------------------------------- MaxVol on matrices


@pytest.mark.parametrize("seed", range(4))
def test_maxvol_is_locally_optimal(seed):
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(12, 40)), int(rng.integers(2, 8))
    # rows of very different sizes, and a few near-duplicates
    B = rng.normal(size=(m, n)) * rng.uniform(0.05, 20.0, size=(m, 1))
    B[-3:] = B[:3] + 1e-3 * rng.normal(size=(3, n))
    idx = maxvol(B)
    assert idx.shape == (n,) and np.all(idx >= 0) and len(set(idx.tolist())) == n
    A = B[idx]
    logdet = np.linalg.slogdet(A)[1]
    worst = -np.inf
    for i in range(m):
        for j in range(n):
            swapped = A.copy()
            swapped[j] = B[i]
            worst = max(worst, np.linalg.slogdet(swapped)[1] - logdet)
    assert worst <= np.log(THR) + 1e-9, f"a single swap grows |det| by {np.exp(worst)}"
    grades = np.abs(B @ np.linalg.inv(A)).max(axis=1)
    assert grades.max() <= THR + 1e-9
    np.testing.assert_allclose(grades[idx], 1.0, rtol=0, atol=1e-9)


def test_active_set_grades_and_swap_threshold():
    rng = np.random.default_rng(1)
    B = rng.normal(size=(60, 10))
    loose = ActiveSet.from_training_set(B, threshold=1.5)
    tight = ActiveSet.from_training_set(B, threshold=1.0001)
    assert loose.grades(B).max() <= 1.5 + 1e-9
    assert tight.grades(B).max() <= 1.0001 + 1e-9
    assert tight.log_abs_det() >= loose.log_abs_det() - 1e-9
    assert tight.n_filled == 10 and np.all(tight.filled)
    np.testing.assert_allclose(tight.A, B[tight.provenance[:, 0]], rtol=0, atol=0)
    np.testing.assert_allclose(tight.A_inv @ tight.A, np.eye(10), atol=1e-10)
    for bad in (1.0, 0.5, np.nan):
        with pytest.raises(ValueError):
            tight.select(B, threshold=bad)


def test_rank_deficient_rows_keep_placeholders():
    rng = np.random.default_rng(2)
    basis = rng.normal(size=(3, 8))
    B = rng.normal(size=(50, 3)) @ basis  # rank 3 in 8 dimensions
    active = ActiveSet.from_training_set(B)
    assert active.n_filled == 3
    assert np.all(active.provenance[~active.filled] == -1)
    assert np.all(np.isfinite(active.A_inv))
    np.testing.assert_allclose(active.A_inv @ active.A, np.eye(8), atol=1e-8)
    assert active.grades(B).max() <= THR + 1e-9
    # a row off the span grades ~ |off-span component| / threshold_init
    outside = rng.normal(size=(1, 8))
    assert active.grades(outside)[0] > 1e3
    # rows in the span interpolate
    inside = rng.normal(size=(5, 3)) @ basis * 0.1
    assert active.grades(inside).max() < 10.0
    # an all-zero candidate block selects nothing
    assert ActiveSet(8).select(np.zeros((4, 8))).size == 0


def test_incremental_selection_grows_det():
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=(30, 6)), 3.0 * rng.normal(size=(20, 6))
    active = ActiveSet.from_training_set(first, np.stack([np.zeros(30), np.arange(30)], 1))
    before = active.log_abs_det()
    high = active.grades(second) > THR
    taken = active.select(second, np.stack([np.ones(20), np.arange(20)], 1))
    assert taken.size > 0 and np.all(high[taken])
    assert active.log_abs_det() > before
    assert active.grades(second).max() <= THR + 1e-9
    # provenance of the taken rows: configuration 1, atom = candidate index
    from_second = active.provenance[:, 0] == 1
    assert sorted(active.provenance[from_second, 1].tolist()) == taken.tolist()


# --------------------------------------------------------------------------- a real MTP


@pytest.fixture(scope="module")
def trained_active():
    """Level-08, 2-species random MTP; active set from 4 rattled LPSC-like cells."""
    rng = np.random.default_rng(20261121)
    mtp = random_potential(8, 2, seed=11)
    cells = [triclinic_lpsc(rng, 2) for _ in range(4)]
    blocks = [candidate_rows(mtp, atoms) for atoms in cells]
    prov = np.vstack([np.stack([np.full(len(a), c), np.arange(len(a))], 1)
                      for c, a in enumerate(cells)])
    rows = np.vstack(blocks)
    active = ActiveSet.from_training_set(rows, prov)
    return mtp, cells, rows, prov, active


def test_training_neighbourhoods_interpolate(trained_active):
    mtp, cells, rows, prov, active = trained_active
    assert rows.shape == (4 * 52, mtp.n_parameters)
    grades = active.grades(rows)
    print(f"\nn = {active.n}, filled {active.n_filled}, swaps {active.n_swaps}, "
          f"max training grade {grades.max():.12f}")
    assert grades.max() <= THR + 1e-9
    # the selected rows are the training rows their provenance names
    filled = active.filled
    lookup = {tuple(p): k for k, p in enumerate(prov.tolist())}
    for slot in np.flatnonzero(filled):
        k = lookup[tuple(active.provenance[slot].tolist())]
        np.testing.assert_array_equal(active.A[slot], rows[k])


def test_new_environments_extrapolate(trained_active):
    mtp, cells, rows, prov, active = trained_active
    compressed = cells[0].copy()
    compressed.set_cell(compressed.cell.array * 0.7 ** (1 / 3), scale_atoms=True)
    cluster = li_slab_cluster(np.random.default_rng(4))
    cluster.set_chemical_symbols(["Li" if n % 3 else "P" for n in range(len(cluster))])
    g_compressed = active.grades(candidate_rows(mtp, compressed)).max()
    g_cluster = active.grades(candidate_rows(mtp, cluster)).max()
    print(f"\ngrade of the 0.7x volume cell {g_compressed:.3f}, of the Li/P cluster "
          f"{g_cluster:.3f}")
    assert g_compressed > 2.0
    assert g_cluster > 2.0
    # selecting the compressed cell makes its neighbourhoods interpolate
    new = candidate_rows(mtp, compressed)
    taken = active.copy().select(new)
    assert taken.size > 0


def test_grade_from_inverse_equals_grade_from_solve(trained_active):
    mtp, cells, rows, prov, active = trained_active
    probe = candidate_rows(mtp, triclinic_lpsc(np.random.default_rng(9), 2))
    np.testing.assert_allclose(active.grades(probe, "inverse"), active.grades(probe, "solve"),
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(active.coefficients(probe, "inverse"),
                               active.coefficients(probe, "solve"), rtol=1e-6, atol=1e-8)


def test_cfg_mode_rows(trained_active):
    mtp, cells, rows, prov, active = trained_active
    cfg_rows = np.vstack([candidate_rows(mtp, a, mode="cfg") for a in cells])
    np.testing.assert_allclose(cfg_rows, rows.reshape(4, 52, -1).mean(axis=1), atol=1e-13)
    cfg_active = ActiveSet.from_training_set(cfg_rows, np.arange(4))
    assert cfg_active.n_filled == 4  # 4 rows cannot fill n = 75 slots: placeholders stay
    assert np.all(cfg_active.provenance[cfg_active.filled, 1] == -1)
    assert cfg_active.grades(cfg_rows).max() <= THR + 1e-9


# --------------------------------------------------------------------------- .als files


def test_als_round_trip_is_byte_exact(trained_active, tmp_path):
    mtp, cells, rows, prov, active = trained_active
    configs = [from_atoms(a, ["Li", "P"]) for a in cells]
    state = ALSState.from_active_set(mtp, active, configs)
    np.testing.assert_array_equal(state.weights, NBH_WEIGHTS)
    first = tmp_path / "state.als"
    write_als(first, state)
    data = first.read_bytes()

    # layout
    n = mtp.n_parameters
    head = mtp.to_text().encode() + b"\n^"
    assert data.startswith(head)
    pos = len(head)
    np.testing.assert_array_equal(np.frombuffer(data, "<f8", 4, pos), NBH_WEIGHTS)
    pos += 32
    assert data[pos:pos + 2] == b"\n#"
    pos += 2
    np.testing.assert_array_equal(np.frombuffer(data, "<f8", n * n, pos).reshape(n, n), active.A)
    pos += 8 * n * n
    np.testing.assert_array_equal(np.frombuffer(data, "<f8", n * n, pos).reshape(n, n),
                                  active.A_inv.T)
    pos += 8 * n * n
    lines = data[pos + 1:].decode().split("\n")
    assert data[pos:pos + 1] == b"\n" and lines[n].startswith("BEGIN_CFG")
    assert len(lines[0].split()) == 2

    back = read_als(first)
    assert back.mtp == mtp
    np.testing.assert_array_equal(back.A, active.A)
    np.testing.assert_array_equal(back.A_inv, active.A_inv)
    np.testing.assert_array_equal(back.rows, np.where(active.filled, active.provenance[:, 1], -1))
    used = sorted(set(active.provenance[active.filled, 0].tolist()))
    assert len(back.configurations) == len(used)
    for k in np.flatnonzero(active.filled):
        cfg = back.configurations[back.cfg_indices[k]]
        original = cells[active.provenance[k, 0]]
        np.testing.assert_allclose(cfg.positions, original.positions, atol=1e-6)
    assert np.all(back.cfg_indices[~active.filled] == -1)

    second = tmp_path / "again.als"
    write_als(second, back)
    assert second.read_bytes() == data
    # the active set read back grades like the original
    probe = rows[::17]
    np.testing.assert_allclose(back.active_set().grades(probe), active.grades(probe),
                               rtol=1e-12, atol=0)

    # cfg-mode weights, and errors on broken files
    cfg_mode = ALSState.from_active_set(
        mtp, ActiveSet.from_training_set(rows.reshape(4, 52, -1).mean(axis=1), np.arange(4)),
        configs)
    np.testing.assert_array_equal(cfg_mode.weights, CFG_WEIGHTS)
    assert ALSState.from_bytes(cfg_mode.to_bytes()).to_bytes() == cfg_mode.to_bytes()
    with pytest.raises(ALSFormatError):
        ALSState.from_bytes(data[: len(head) + 100])
    with pytest.raises(ALSFormatError):
        ALSState.from_bytes(data.replace(b"\n^", b"\n~", 1))
