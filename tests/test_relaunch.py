"""seimd relaunch: LAMMPS dies within one step (the guard cannot act), the run goes on from
the last restart with half the timestep; exit codes of sei.in are passed on."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, lmp_executable, single_thread_env
from test_sei_input import thermo_rows, write_stack

from seimd.relaunch import (EXIT_GUARD_GAVE_UP, EXIT_NO_RESTART, EXIT_RELAUNCHES_EXHAUSTED,
                            _without, read_state, relaunch)

SEI_IN = REPO / "inputs" / "sei.in"
POTENTIAL = REPO / "potentials" / "lipscl-l08-sample.mtp"


def seimd_relaunch(cwd: Path, *lmp_args: str, max_relaunches: int = 4):
    cmd = [sys.executable, "-m", "seimd.cli", "relaunch", "--lmp", lmp_executable(),
           "--max-relaunches", str(max_relaunches), "--", *lmp_args]
    return subprocess.run(cmd, cwd=cwd, env=single_thread_env(), capture_output=True, text=True,
                          timeout=300)


def test_crash_within_one_step_is_continued_with_half_the_timestep(tmp_path):
    """50 fs: LAMMPS stops with 'Non-numeric pressure' on the first steps, before the guard
    (checked only every 100000 steps here) can see anything."""
    write_stack(tmp_path / "stack.data")
    args = ["-in", str(SEI_IN), "-screen", "none", "-var", "data", "stack.data",
            "-var", "potential", str(POTENTIAL), "-var", "temperature", "300",
            "-var", "run_ps", "1.0", "-var", "restart_every", "40", "-var", "thermo_every", "20",
            "-var", "monitor_every", "20", "-var", "dump_every", "0", "-var", "dt", "0.05",
            "-var", "guard_every", "100000", "-var", "prefix", "crash"]
    proc = seimd_relaunch(tmp_path, *args)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    relaunches = [l for l in out.splitlines() if l.startswith("seimd relaunch: lmp exited")]
    assert relaunches, out[-4000:]
    assert "relaunch 1/4 from crash.restart.1 (step 0) with timestep 0.025 ps" in relaunches[0]
    log = (tmp_path / "crash.log").read_text()
    assert "Non-numeric" in log or "ERROR" in out
    _, rows = thermo_rows(log)
    assert rows[-1]["Time"] == pytest.approx(1.0)
    assert rows[-1]["Dt"] <= 0.025
    assert "SEI: done at step" in log
    # the H5MD file of the monitor went on from the restart each time: no step twice
    from seimd.sei.h5md import read_observables

    steps = read_observables(tmp_path / "crash.h5")["reduced"].step
    assert steps[0] == 0 and np.all(np.diff(steps) > 0) and steps[-1] == rows[-1]["Step"]


def fake_lmp(path: Path, script: str) -> str:
    """An executable standing in for lmp: `script` is Python run with the arguments."""
    path.write_text(f"#!{sys.executable}\nimport sys, pathlib\nargs = sys.argv[1:]\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_exit_codes_and_give_up(tmp_path, capsys):
    log_lines = ("SEI: setup from x.data at step 0, time 0.000000 ps, timestep 0.001 ps\n"
                 "SEI: step 0 time 0.000000 ps: restart run.restart.1\n"
                 "SEI: step 500 time 0.500000 ps: restart run.restart.2\n"
                 "SEI GUARD: step 730: temperature(2000.0K>3.0x400K) -> retry 1/3 from "
                 "run.restart.2 with timestep 0.0005 ps\n")
    (tmp_path / "run.log").write_text(log_lines)
    state = read_state(tmp_path / "run.log")
    assert (state.restart, state.restart_step, state.timestep_ps) == ("run.restart.2", 500, 0.0005)

    calls = tmp_path / "calls.txt"
    crash = fake_lmp(tmp_path / "crash", f"open({str(calls)!r}, 'a').write(' '.join(args) + '\\n')"
                     "\nsys.exit(1)")
    rc = relaunch(["-in", "sei.in", "-var", "prefix", "run", "-var", "dt", "0.001"], [], lmp=crash,
                  max_relaunches=2, workdir=tmp_path)
    assert rc == EXIT_RELAUNCHES_EXHAUSTED
    runs = calls.read_text().splitlines()
    assert len(runs) == 3
    # the fake never writes a log: each relaunch halves the same logged 0.0005 ps
    assert runs[1].endswith("-var restart run.restart.2 -var dt 0.00025")
    assert runs[1].count("-var dt") == 1

    guard = fake_lmp(tmp_path / "guard", "sys.exit(3)")
    assert relaunch(["-var", "prefix", "run"], [], lmp=guard, workdir=tmp_path) == EXIT_GUARD_GAVE_UP
    ok = fake_lmp(tmp_path / "ok", "sys.exit(0)")
    assert relaunch(["-var", "prefix", "run"], [], lmp=ok, workdir=tmp_path) == 0
    # a crash before any restart: nothing to continue from
    assert relaunch(["-var", "prefix", "other"], [], lmp=crash, workdir=tmp_path) == EXIT_NO_RESTART
    assert "nothing to continue from" in capsys.readouterr().out


def test_var_replacement():
    args = ["-in", "a.in", "-var", "dt", "0.001", "-v", "restart", "r.1", "-var", "data", "d"]
    assert _without(args, {"dt", "restart"}) == ["-in", "a.in", "-var", "data", "d"]


def test_help_and_bad_usage():
    out = subprocess.run([sys.executable, "-m", "seimd.cli", "relaunch", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "half the timestep" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "seimd.cli", "relaunch"], capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "give the lmp arguments" in bad.stderr
