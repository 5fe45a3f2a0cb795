"""Configuration-mode active sets (MLIP-2's default `calc-grade`, weights (0, 1, 0, 0)):
one row per configuration, dE/dtheta / N, one grade per configuration, in Python and in
pair_style mtp on 1 and 2 MPI ranks; weights seimd does not grade are refused."""

from __future__ import annotations

import re
import struct
import subprocess

import numpy as np
import pytest

from conftest import ELEMENTS, random_potential
from seimd import _kernel
from seimd.active.als import CFG_WEIGHTS, ALSState, read_als, write_als
from seimd.active.grades import Grader, active_set_from_configurations, grade_mode
from seimd.active.select import grade, select
from seimd.io.cfg import from_atoms, read_cfg, to_atoms, write_cfg
from seimd.lmp import lammps_frame, write_data
from structures_for_tests import triclinic_lpsc
from test_grades import first_frame, run_lmp

SPECIES = ELEMENTS[:2]


@pytest.fixture(scope="module")
def cfg_set(tmp_path_factory):
    """A level-08, 2-species potential and a configuration-mode .als of 6 cells."""
    rng = np.random.default_rng(7)
    mtp = random_potential(8, 2, seed=21)
    training = [triclinic_lpsc(rng, 2) for _ in range(6)]
    active = active_set_from_configurations(mtp, training, mode="cfg")
    folder = tmp_path_factory.mktemp("cfg_als")
    pot, als = folder / "pot.mtp", folder / "pot.als"
    mtp.write(pot)
    state = ALSState.from_active_set(mtp, active, [from_atoms(a, SPECIES) for a in training],
                                     weights=CFG_WEIGHTS)
    write_als(als, state)
    return {"mtp": mtp, "training": training, "active": active, "pot": pot, "als": als,
            "rng": rng, "folder": folder, "state": state}


def numpy_grade(mtp, A_inv, atoms) -> float:
    """Independent: NumPy reference dV_i/dtheta, mean over atoms, times A^-1."""
    from seimd.mtp.reference_gradients import site_parameter_gradients

    row = site_parameter_gradients(mtp, atoms).sum(axis=0) / len(atoms)
    return float(np.abs(row @ A_inv).max())


def test_mlip2_layout_with_configuration_weights_round_trips(cfg_set):
    data = cfg_set["als"].read_bytes()
    cut = data.find(b"\n^")
    assert struct.unpack("<4d", data[cut + 2:cut + 34]) == (0.0, 1.0, 0.0, 0.0)
    assert data[cut + 34:cut + 36] == b"\n#"
    state = read_als(cfg_set["als"])
    assert state.to_bytes() == data
    assert np.array_equal(state.weights, CFG_WEIGHTS)
    assert np.all(state.rows == -1)                  # one row per configuration: no atom
    cpp = _kernel.read_als(str(cfg_set["als"]))
    assert cpp["weights"] == [0.0, 1.0, 0.0, 0.0]
    assert grade_mode(state.weights) == "cfg"
    assert grade_mode((1, 0, 0, 0)) == "nbh"


def test_configuration_grade_matches_numpy(cfg_set):
    atoms = triclinic_lpsc(cfg_set["rng"], 2)
    grader = Grader.from_als(cfg_set["state"])
    expected = numpy_grade(cfg_set["mtp"], cfg_set["active"].A_inv, atoms)
    assert grader.grade(atoms) == pytest.approx(expected, rel=1e-9)
    assert np.all(grader.atom_grades(atoms) == grader.grade(atoms))   # every atom carries it
    # The neighbourhood reading of the same file is a different number: the old silent bug.
    nbh = Grader(cfg_set["mtp"], cfg_set["active"].A_inv, mode="nbh").grade(atoms)
    assert abs(nbh - expected) > 1e-3 * expected


def test_training_configurations_grade_at_most_the_swap_threshold(cfg_set):
    grader = Grader.from_als(cfg_set["state"])
    assert max(grader.grade(a) for a in cfg_set["training"]) <= 1.001 + 1e-9


def test_seimd_grade_uses_the_files_mode(cfg_set, tmp_path):
    atoms = [triclinic_lpsc(cfg_set["rng"], 2) for _ in range(2)]
    data = tmp_path / "new.cfg"
    write_cfg(data, [from_atoms(a, SPECIES) for a in atoms])
    grades = grade(cfg_set["pot"], cfg_set["als"], data)
    written = [to_atoms(c) for c in read_cfg(data)]        # positions as the .cfg rounds them
    expected = [numpy_grade(cfg_set["mtp"], cfg_set["active"].A_inv, a) for a in written]
    assert np.allclose(grades, expected, rtol=1e-9)


def pool_and_training(cfg_set, folder, n_pool: int):
    """(pool.cfg of n_pool new cells, train.cfg of the set's training cells) in folder."""
    pool, train = folder / "pool.cfg", folder / "train.cfg"
    write_cfg(pool, [from_atoms(triclinic_lpsc(cfg_set["rng"], 2), SPECIES) for _ in range(n_pool)])
    write_cfg(train, [from_atoms(a, SPECIES) for a in cfg_set["training"]])
    return pool, train


def test_select_builds_and_keeps_configuration_mode(cfg_set, tmp_path):
    pool, train = pool_and_training(cfg_set, tmp_path, 3)
    out = tmp_path / "new.als"
    select(cfg_set["pot"], pool, out, tmp_path / "sel.cfg", training=train, mode="configuration")
    assert np.array_equal(read_als(out).weights, CFG_WEIGHTS)
    out2 = tmp_path / "grown.als"
    select(cfg_set["pot"], pool, out2, tmp_path / "sel2.cfg", als=out)   # mode from the file
    assert np.array_equal(read_als(out2).weights, CFG_WEIGHTS)
    with pytest.raises(ValueError, match="'cfg' mode active set"):
        select(cfg_set["pot"], pool, tmp_path / "x.als", tmp_path / "x.cfg", als=out, mode="nbh")


@pytest.mark.parametrize("weights", [(0, 1, 1, 0), (1, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1),
                                     (0, 0, 0, 0)])
def test_unsupported_weights_are_refused(cfg_set, tmp_path, weights):
    state = cfg_set["state"]
    bad = ALSState(mtp=state.mtp, weights=weights, A=state.A, A_inv=state.A_inv,
                   rows=state.rows, cfg_indices=state.cfg_indices,
                   configurations=state.configurations)
    path = tmp_path / "bad.als"
    write_als(path, bad)
    data = tmp_path / "one.cfg"
    write_cfg(data, state.configurations[:1])
    with pytest.raises(ValueError, match="are not supported"):
        grade(cfg_set["pot"], path, data)
    cli = subprocess.run(["seimd", "grade", str(cfg_set["pot"]), str(path), str(data)],
                         capture_output=True, text=True)
    assert cli.returncode == 2
    assert "are not supported" in cli.stderr and len(cli.stderr.strip().splitlines()) == 1


def test_lammps_refuses_unsupported_weights(cfg_set, tmp_path):
    from test_pair_mtp import lammps_error, small_box

    state = cfg_set["state"]
    bad = ALSState(mtp=state.mtp, weights=(0, 1, 1, 0), A=state.A, A_inv=state.A_inv,
                   rows=state.rows, cfg_indices=state.cfg_indices,
                   configurations=state.configurations)
    path = tmp_path / "bad.als"
    write_als(path, bad)
    err = lammps_error(tmp_path, small_box() + f"pair_style mtp {cfg_set['pot']} active_set {path}")
    assert "are not supported" in err


@pytest.mark.parametrize("ranks,threads", [(1, 1), (2, 1), (1, 2)])
def test_lammps_configuration_grade_equals_python(cfg_set, tmp_path, monkeypatch, ranks, threads):
    import test_grades
    from conftest import single_thread_env

    def env():                                   # run_lmp's environment, with OpenMP threads
        e = single_thread_env()
        e["OMP_NUM_THREADS"] = str(threads)
        return e

    monkeypatch.setattr(test_grades, "single_thread_env", env)
    atoms = triclinic_lpsc(cfg_set["rng"], 2).repeat((2, 1, 1))
    frame = lammps_frame(atoms)
    data = tmp_path / "cell.data"
    write_data(data, frame, SPECIES)
    out, dump = run_lmp(tmp_path, data, cfg_set["pot"], cfg_set["als"], ranks=ranks)
    python = Grader.from_als(cfg_set["state"]).grade(frame)
    lammps = first_frame(dump)
    # Sums over threads and ranks run in another order than Python's: not bit-identical.
    assert np.allclose(lammps, python, rtol=1e-10, atol=0)
    thermo_max = float(re.search(r"^\s+0\s+\S+\s+(\S+)\s*$", out, re.M).group(1))
    assert thermo_max == pytest.approx(python, rel=1e-10)
    assert "configuration mode" in out
    if threads > 1:
        assert f"x {threads} OpenMP threads" in out


def test_select_cli_mode_configuration(cfg_set, tmp_path):
    pool, train = pool_and_training(cfg_set, tmp_path, 2)
    out = tmp_path / "cli.als"
    proc = subprocess.run(["seimd", "select", str(cfg_set["pot"]), str(pool), "--training",
                           str(train), "-o", str(out), "--selected", str(tmp_path / "s.cfg"),
                           "--mode", "configuration"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(read_als(out).weights, CFG_WEIGHTS)
    graded = subprocess.run(["seimd", "grade", str(cfg_set["pot"]), str(out), str(pool)],
                            capture_output=True, text=True)
    assert graded.returncode == 0, graded.stderr
    assert "max grade" in graded.stdout
