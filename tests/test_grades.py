"""Extrapolation grades: the C++ kernel against NumPy MaxVol, and inside LAMMPS
(`pair_style mtp ... active_set`, `fix pair`, save and break thresholds) on 1 and 2 ranks."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from conftest import ELEMENTS, lmp_executable, mpiexec_executable, random_potential, single_thread_env
from seimd import _kernel
from seimd.active.als import ALSState, write_als
from seimd.active.grades import Grader, active_set_from_configurations, parameter_rows
from seimd.io.cfg import from_atoms, read_cfg
from seimd.lmp import lammps_frame, write_data
from structures_for_tests import triclinic_lpsc

SPECIES = ELEMENTS[:2]


@pytest.fixture(scope="module")
def trained_set(tmp_path_factory):
    """A level-08, 2-species potential, its training cells and their MaxVol active set (.als)."""
    rng = np.random.default_rng(5)
    mtp = random_potential(8, 2, seed=21)
    training = [triclinic_lpsc(rng, 2) for _ in range(6)]
    active = active_set_from_configurations(mtp, training)
    folder = tmp_path_factory.mktemp("als")
    pot, als = folder / "pot.mtp", folder / "pot.als"
    mtp.write(pot)
    write_als(als, ALSState.from_active_set(mtp, active, [from_atoms(a, SPECIES) for a in training]))
    return {"mtp": mtp, "training": training, "active": active, "pot": pot, "als": als,
            "rng": rng, "folder": folder}


def test_cpp_reads_the_als_python_writes(trained_set):
    als = _kernel.read_als(str(trained_set["als"]))
    active = trained_set["active"]
    assert np.array_equal(als["active"], active.A)
    assert np.array_equal(als["inverse"], active.A_inv)
    assert als["model"].parameter_count == trained_set["mtp"].n_parameters


def test_training_set_grades_at_most_the_swap_threshold(trained_set):
    grader = Grader.from_active_set(trained_set["mtp"], trained_set["active"])
    worst = max(grader.grade(a) for a in trained_set["training"])
    assert worst <= 1.001 + 1e-9


def test_new_environments_grade_well_above_one(trained_set):
    grader = Grader.from_active_set(trained_set["mtp"], trained_set["active"])
    compressed = trained_set["training"][0].copy()
    compressed.set_cell(compressed.cell.array * 0.85, scale_atoms=True)
    assert grader.grade(compressed) > 2.0


def test_cpp_grades_match_numpy_maxvol(trained_set):
    """Same numbers from the C++ grader and from A^-1 applied by NumPy to the NumPy
    reference rows (an independent implementation of dV_i/dtheta)."""
    from seimd.mtp.reference_gradients import site_parameter_gradients

    atoms = triclinic_lpsc(trained_set["rng"], 2)
    cpp = Grader.from_active_set(trained_set["mtp"], trained_set["active"]).atom_grades(atoms)
    rows = site_parameter_gradients(trained_set["mtp"], atoms)
    numpy = trained_set["active"].grades(rows)
    assert np.allclose(cpp, numpy, rtol=1e-8, atol=1e-10)
    assert np.allclose(parameter_rows(trained_set["mtp"], [atoms])[0], rows, rtol=1e-9, atol=1e-11)


def run_lmp(workdir, data, pot, als, extra_pair="", extra="", ranks=1, steps=0, name="run"):
    dump = workdir / f"{name}.dump"
    script = workdir / f"in.{name}"
    script.write_text(f"""
units metal
atom_style atomic
read_data {data}
pair_style mtp {pot} active_set {als} {extra_pair}
pair_coeff * * {' '.join(SPECIES)}
neighbor 1.0 bin
fix grades all pair 1 mtp grade 1
compute maxgrade all reduce max f_grades
thermo_style custom step pe c_maxgrade
thermo_modify format float %.15g
dump d all custom 1 {dump} id f_grades
dump_modify d format float %.17g sort id
velocity all create 600 1234 loop geom
fix nve all nve
{extra}
run {steps}
print "AFTER RUN step $(step)"
""")
    cmd = [lmp_executable(), "-in", str(script), "-log", "none"]
    if ranks > 1:
        cmd = [mpiexec_executable(), "-n", str(ranks)] + cmd
    proc = subprocess.run(cmd, cwd=workdir, env=single_thread_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc.stdout, dump


def first_frame(dump) -> np.ndarray:
    lines = dump.read_text().splitlines()
    n = int(lines[3])
    return np.array([float(l.split()[1]) for l in lines[9:9 + n]])


@pytest.mark.parametrize("ranks", [1, 2])
def test_lammps_grades_equal_python_grades(trained_set, tmp_path, ranks):
    atoms = triclinic_lpsc(trained_set["rng"], 2).repeat((2, 1, 1))
    frame = lammps_frame(atoms)
    data = tmp_path / "cell.data"
    write_data(data, frame, SPECIES)
    out, dump = run_lmp(tmp_path, data, trained_set["pot"], trained_set["als"], ranks=ranks)
    lammps = first_frame(dump)
    python = Grader.from_active_set(trained_set["mtp"], trained_set["active"]).atom_grades(frame)
    assert np.allclose(lammps, python, rtol=1e-12, atol=1e-12)
    thermo_max = float(re.search(r"^\s+0\s+\S+\s+(\S+)\s*$", out, re.M).group(1))
    assert thermo_max == pytest.approx(python.max(), rel=1e-12)
    assert python.max() > 1.0  # a new cell: something to grade


def test_save_threshold_writes_extrapolative_neighbourhoods(trained_set, tmp_path):
    atoms = triclinic_lpsc(trained_set["rng"], 2)
    frame = lammps_frame(atoms)
    data = tmp_path / "cell.data"
    write_data(data, frame, SPECIES)
    saved = tmp_path / "extrapolative.cfg"
    grades = Grader.from_active_set(trained_set["mtp"], trained_set["active"]).atom_grades(frame)
    threshold = float(np.quantile(grades, 0.8))
    run_lmp(tmp_path, data, trained_set["pot"], trained_set["als"],
            extra_pair=f"grade_every 1000 grade_save {threshold} {saved}")
    cfgs = read_cfg(saved)
    assert len(cfgs) == int((grades > threshold).sum()) > 0
    mv = sorted(float(c.feature("MV_grade")) for c in cfgs)
    assert np.allclose(mv, sorted(grades[grades > threshold]), rtol=1e-10)
    assert all(c.cell is None for c in cfgs)          # neighbourhoods are clusters
    whole = tmp_path / "whole.cfg"
    run_lmp(tmp_path, data, trained_set["pot"], trained_set["als"], name="whole",
            extra_pair=f"grade_every 1000 grade_save {threshold} {whole} configuration")
    (cfg,) = read_cfg(whole)
    assert cfg.n_atoms == len(frame)
    assert float(cfg.feature("MV_grade")) == pytest.approx(grades.max(), rel=1e-10)


def test_break_threshold_stops_the_run_cleanly(trained_set, tmp_path):
    atoms = triclinic_lpsc(trained_set["rng"], 2)
    atoms.set_cell(atoms.cell.array * 0.9, scale_atoms=True)
    frame = lammps_frame(atoms)
    data = tmp_path / "cell.data"
    write_data(data, frame, SPECIES)
    out, _ = run_lmp(tmp_path, data, trained_set["pot"], trained_set["als"],
                     extra_pair="grade_every 5 grade_break 1.5", steps=200)
    assert "exceeds grade_break 1.5" in out
    stopped = int(re.search(r"^AFTER RUN step (\d+)", out, re.M).group(1))
    assert stopped < 200        # the run ended early, and the input went on after it
    # a mild threshold lets the same run finish
    out, _ = run_lmp(tmp_path, data, trained_set["pot"], trained_set["als"], name="mild",
                     extra_pair="grade_every 5 grade_break 1e9", steps=20)
    assert "AFTER RUN step 20" in out


def test_grades_without_active_set_are_refused(trained_set, tmp_path):
    from test_pair_mtp import lammps_error, small_box

    err = lammps_error(tmp_path, small_box() + f"pair_style mtp {trained_set['pot']} grade_every 10")
    assert "grades need 'active_set FILE.als'" in err
    err = lammps_error(tmp_path, small_box() + f"pair_style mtp {trained_set['pot']} active_set "
                       f"{trained_set['folder'] / 'missing.als'}")
    assert "cannot open" in err


def test_active_set_of_another_potential_is_refused(trained_set, tmp_path):
    from test_pair_mtp import lammps_error, small_box

    other = tmp_path / "other.mtp"
    random_potential(8, 2, seed=99).write(other)
    err = lammps_error(tmp_path, small_box() + f"pair_style mtp {other} active_set {trained_set['als']}")
    assert "was built for a different potential" in err
