"""inputs/sei.in: the SEI NPT protocol with restarts, continuation and the instability guard.

Runs `lmp -in inputs/sei.in` (and once under `mpiexec -n 2`) on a small periodic stack of
bcc Li layers and one ordered Li6PS5Cl cell (196 atoms) with the repository's sample
potential, for a few hundred steps in all.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import ELEMENTS, REPO, lmp_executable, mpiexec_executable, single_thread_env
from lammps_runs import thermo_rows

SEI_IN = REPO / "inputs" / "sei.in"
POTENTIAL = REPO / "potentials" / "lipscl-l08-sample.mtp"
COLUMNS = ["Step", "Time", "Dt", "Temp", "PotEng", "TotEng", "Press", "Pxx", "Pyy", "Pzz",
           "Lx", "Ly", "Lz", "Volume", "Atoms",
           "v_reduced", "c_nPS[1]", "c_nPS[2]", "c_nPS[3]", "c_nPS[4]", "c_nPS[5]",
           "f_sei[3]", "f_sei[4]"]
SHORT = {"temperature": 300, "pressure": 1, "seed": 1, "run_ps": 0.1, "thermo_every": 20,
         "restart_every": 50, "dump_every": 50, "monitor_every": 20}


def write_stack(path: Path, n_li: int = 8, gap: float = 2.0) -> int:
    """Periodic stack along z: 3x3x`n_li` cubic bcc Li cells, then one 52-atom LPSC cell."""
    from seimd.lmp import write_data
    from seimd.structures import A_LPSC, bcc_li, lpsc_ordered

    li = bcc_li(repeat=(3, 3, n_li))                  # a_Li = a_LPSC / 3: laterally matched
    lpsc = lpsc_ordered()
    z_li = li.cell[2, 2]
    lpsc.positions[:, 2] += z_li + gap
    stack = li + lpsc
    stack.set_cell([A_LPSC, A_LPSC, z_li + gap + lpsc.cell[2, 2] + gap])
    stack.pbc = True
    stack.wrap()
    write_data(path, stack, ELEMENTS)
    return len(stack)


@pytest.fixture(scope="module")
def stack_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sei")
    assert write_stack(d / "stack.data") == 196
    return d


def run_sei(cwd: Path, prefix: str, ranks: int = 1, check: bool = True, **var):
    args = {"data": "stack.data", "potential": str(POTENTIAL), "prefix": prefix, **SHORT, **var}
    cmd = [lmp_executable(), "-in", str(SEI_IN), "-log", "none", "-screen", "none"]
    for k, v in args.items():
        cmd += ["-var", k, str(v)]
    if ranks > 1:
        cmd = [mpiexec_executable(), "-n", str(ranks)] + cmd
    proc = subprocess.run(cmd, cwd=cwd, env=single_thread_env(), capture_output=True,
                          text=True, timeout=120)
    log = (cwd / f"{prefix}.log").read_text() if (cwd / f"{prefix}.log").exists() else ""
    if check and proc.returncode != 0:
        raise AssertionError(f"lmp failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n"
                             f"{log[-3000:]}")
    return proc, log


@pytest.fixture(scope="module")
def fresh(stack_dir):
    proc, log = run_sei(stack_dir, "fresh")
    return log


def test_fresh_run_thermo_restarts_and_final_files(stack_dir, fresh):
    header, rows = thermo_rows(fresh)
    assert header == COLUMNS
    steps = [int(r["Step"]) for r in rows]
    assert steps[0] == 0 and steps[-1] == 100
    assert {0, 20, 40, 50, 60, 80, 100} <= set(steps)
    for r in rows:
        assert all(math.isfinite(v) for v in r.values())
        assert 50.0 < r["Temp"] < 900.0                         # target 300 K
        assert abs(r["Time"] - 0.001 * r["Step"]) < 1e-9 and r["Dt"] == 0.001
        assert r["Atoms"] == 196
        assert abs(r["Press"] - (r["Pxx"] + r["Pyy"] + r["Pzz"]) / 3) < 1e-3 * max(1.0, abs(r["Press"]))
        assert r["Lx"] == pytest.approx(r["Ly"])                # x and y are coupled
    assert rows[0]["Temp"] == pytest.approx(300.0)
    # reduction analysis: N(PS_k) count every P once; alpha follows the paper's formula
    n_p = [r["c_nPS[1]"] + r["c_nPS[2]"] + r["c_nPS[3]"] + r["c_nPS[4]"] + r["c_nPS[5]"] for r in rows]
    assert set(n_p) == {4.0}                                     # the stack holds 4 P (one LPSC cell)
    for r in rows:
        alpha = 100 * (8 * r["c_nPS[1]"] + 6 * r["c_nPS[2]"] + 4 * r["c_nPS[3]"] + 2 * r["c_nPS[4]"]) / 32
        assert r["v_reduced"] == pytest.approx(alpha)
    # the alternating pair: .1 at steps 0 and 100, .2 at step 50; the log names each one
    assert "SEI: step 50 time 0.050000 ps: restart fresh.restart.2" in fresh
    assert "SEI: step 100 time 0.100000 ps: restart fresh.restart.1" in fresh
    assert "SEI: done at step 100" in fresh and "guard retries 0" in fresh
    for name in ("fresh.restart.1", "fresh.restart.2", "fresh.final.restart", "fresh.final.data",
                 "fresh.lammpstrj"):
        assert (stack_dir / name).stat().st_size > 0, name
    frames = (stack_dir / "fresh.lammpstrj").read_text().count("ITEM: TIMESTEP")
    assert frames == 3                                          # steps 0, 50, 100
    # the SEI monitor: a log line per analysis that agrees with the thermo's own count,
    # and its H5MD file
    from seimd.sei.h5md import read_observables

    lines = dict(re.findall(r"^SEI (\d+) \S+ (\S+) ", fresh, re.M))
    # every 20 steps, and at the end of each run (the restart points 50 and 100)
    assert sorted(int(k) for k in lines) == [0, 20, 40, 50, 60, 80, 100]
    for r in rows:
        assert float(lines[str(int(r["Step"]))]) == pytest.approx(r["v_reduced"], abs=0.006)
        assert r["f_sei[3]"] + r["f_sei[4]"] == pytest.approx(r["v_reduced"])
    series = read_observables(stack_dir / "fresh.h5")
    assert series["reduced"].step.tolist() == [0, 20, 40, 50, 60, 80, 100]
    assert series["n_PS"].value.sum(axis=1).tolist() == [4] * 7


def test_continue_from_restart_keeps_step_and_time(stack_dir, fresh):
    from seimd.sei.h5md import read_observables, read_parameters

    (stack_dir / "cont.restart.1").write_bytes((stack_dir / "fresh.restart.1").read_bytes())
    (stack_dir / "cont.h5").write_bytes((stack_dir / "fresh.h5").read_bytes())
    proc, log = run_sei(stack_dir, "cont", restart="cont.restart.1", run_ps=0.15)
    assert "restart=cont.restart.1" in log
    header, rows = thermo_rows(log)
    assert header == COLUMNS
    steps = [int(r["Step"]) for r in rows]
    assert steps[0] == 100 and steps[-1] == 150                 # continues, not from 0
    assert rows[-1]["Time"] == pytest.approx(0.15)
    _, fresh_rows = thermo_rows(fresh)
    assert rows[0]["PotEng"] == pytest.approx(fresh_rows[-1]["PotEng"], rel=1e-10)
    assert "SEI: done at step 150" in log
    assert all(60.0 < r["Temp"] < 900.0 for r in rows)
    # the monitor's H5MD file goes on from the restart step (which it writes again)
    assert read_observables(stack_dir / "cont.h5")["reduced"].step.tolist() == \
        [0, 20, 40, 50, 60, 80, 100, 120, 140, 150]
    assert [s["first_step"] for s in read_parameters(stack_dir / "cont.h5")] == [0, 100]


def test_guard_halves_the_timestep_and_finishes(stack_dir):
    # 20 fs is far too long for Li: the temperature explodes within a few steps
    proc, log = run_sei(stack_dir, "guard", dt=0.02, run_ps=0.3, restart_every=10,
                        thermo_every=5, dump_every=0, monitor_every=5)
    guard = [line for line in log.splitlines() if line.startswith("SEI GUARD:")]
    assert guard, log[-3000:]
    assert "with timestep 0.01 ps" in guard[0] and "retry 1/3" in guard[0]
    assert "temperature(" in guard[0] or "lost-atoms(" in guard[0]
    _, rows = thermo_rows(log)
    assert rows[-1]["Time"] == pytest.approx(0.3)
    assert rows[-1]["Dt"] <= 0.01
    assert "SEI: done at step" in log and f"guard retries {len(guard)}" in log
    assert 50.0 < rows[-1]["Temp"] < 900.0
    # every recovery reopened the monitor's file at its restart step: no step twice
    from seimd.sei.h5md import read_observables

    steps = read_observables(stack_dir / "guard.h5")["reduced"].step
    assert steps[0] == 0 and np.all(np.diff(steps) > 0) and steps[-1] == rows[-1]["Step"]


def test_guard_gives_up_after_max_retries(stack_dir):
    # a threshold that no state passes: every retry trips the guard again
    proc, log = run_sei(stack_dir, "giveup", check=False, temp_factor=0.01, max_retries=2,
                        run_ps=0.02, dump_every=0)
    assert proc.returncode == 3
    guard = [line for line in log.splitlines() if line.startswith("SEI GUARD:")]
    assert len(guard) == 3, guard
    assert "giving up after 2 halvings" in log
    assert "retry 2/2 from giveup.restart.1 with timestep 0.00025 ps" in log


def test_two_ranks_match_one(stack_dir, fresh):
    proc, log = run_sei(stack_dir, "mpi2", ranks=2)
    assert "1 by 1 by 2 MPI processor grid" in log
    _, rows = thermo_rows(log)
    _, ref = thermo_rows(fresh)
    assert [r["Step"] for r in rows] == [r["Step"] for r in ref]
    for a, b in zip(rows, ref):
        for key in ("Temp", "PotEng", "Press", "Lz"):
            assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-6)
    assert "SEI: done at step 100" in log


def test_monitor_off_and_incompatible_cadence(stack_dir):
    proc, log = run_sei(stack_dir, "off", run_ps=0.02, monitor_every=0)
    header, _ = thermo_rows(log)
    assert header == COLUMNS[:-2] and not (stack_dir / "off.h5").exists()
    proc, log = run_sei(stack_dir, "bad", check=False, monitor_every=30)
    assert proc.returncode == 2
    assert "thermo_every (20) must be a multiple of monitor_every (30)" in log + proc.stdout


def test_extrapolation_grades_in_thermo(stack_dir):
    """-var active_set: the max per-atom grade becomes the last thermo column; the
    trajectory is the same as without grades; bad cadences and missing files are reported."""
    shipped = REPO / "potentials" / "lipscl-l08-7net0-al-s.mtp"
    als = shipped.with_suffix(".als")
    common = dict(potential=shipped, run_ps=0.04, restart_every=40, dump_every=0)
    _, log = run_sei(stack_dir, "graded", active_set=als, grade_every=10, **common)
    assert f"SEI: active set {als}: extrapolation grades every 10 steps" in log
    header, rows = thermo_rows(log)
    assert header == COLUMNS + ["c_maxgrade"]
    grades = [r["c_maxgrade"] for r in rows]
    assert all(0.0 < g < 50.0 for g in grades), grades
    _, plain = run_sei(stack_dir, "ungraded", **common)
    assert "extrapolation grades off: active_set = none" in plain
    assert [r["PotEng"] for r in thermo_rows(plain)[1]] == [r["PotEng"] for r in rows]
    proc, log = run_sei(stack_dir, "badgrade", check=False, active_set=als, grade_every=30,
                        **common)
    assert proc.returncode == 2
    assert "thermo_every (20) must be a multiple of grade_every (30)" in log + proc.stdout


def test_builder_model_starts_unreduced(tmp_path):
    """On seimd build's XS model (no PS4 cut) the analysis starts at 0 % reduced, 8 PS4."""
    from seimd.build import named_model, write_interface

    write_interface(named_model("XS"), data=tmp_path / "stack.data", groups=False)
    _, log = run_sei(tmp_path, "xs", run_ps=0.01, thermo_every=10, restart_every=10,
                     monitor_every=10)
    header, rows = thermo_rows(log)
    assert rows[0]["Step"] == 0 and rows[0]["v_reduced"] == 0.0
    assert rows[0]["f_sei[3]"] == 0.0 and rows[0]["f_sei[4]"] == 0.0
    assert rows[0]["c_nPS[5]"] == 8 and rows[0]["c_nPS[1]"] == 0
