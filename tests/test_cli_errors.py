"""`seimd` commands: user errors are one line and exit code 2 (no traceback), `.cfg.gz`
is read wherever `.cfg` is, `seimd info` takes several files; `seimd relaunch` tells input
errors from instabilities and never loses an earlier run's log."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLE_CFG, SAMPLE_MTP, lmp_executable, single_thread_env


def seimd(*args, cwd=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "seimd.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=single_thread_env(), timeout=timeout)


@pytest.fixture(scope="module")
def gz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gz") / "sample.cfg.gz"
    with gzip.open(path, "wb") as f:
        f.write(SAMPLE_CFG.read_bytes())
    return path


BAD = [
    ("info", "/nonexistent.mtp"),
    ("info",),
    ("info", SAMPLE_CFG),                              # not an .mtp file
    ("basis", "40"),
    ("basis", "eight"),
    ("evaluate", SAMPLE_MTP, "/nonexistent.cfg"),
    ("evaluate", SAMPLE_MTP, SAMPLE_MTP),              # not a .cfg file
    ("select", "/nonexistent.mtp", SAMPLE_CFG, "-o", "x.als"),
    ("grade", SAMPLE_MTP, "/nonexistent.als", SAMPLE_CFG),
    ("build", "ZZ"),
    ("build", "XS", "--lpsc-blocks", "0"),
    ("build", "XS", "--li-layers", "0"),
    ("build", "XS", "--lateral", "0", "1"),
    ("train", "/nonexistent.mtp", SAMPLE_CFG, "-o", "x.mtp"),
    ("train", SAMPLE_MTP, "/nonexistent.cfg", "-o", "x.mtp"),
    ("learn", "/nonexistent.toml"),
    ("relaunch",),
    ("frobnicate",),
    ("--no-such-option",),
]


@pytest.mark.parametrize("args", BAD, ids=lambda a: " ".join(map(str, a))[:60])
def test_user_errors_are_one_line_and_exit_2(tmp_path, args):
    proc = seimd(*args, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "error:" in lines[0], proc.stderr
    assert not list(tmp_path.glob("*.data")), "nothing built on an error"


def test_debug_shows_the_traceback(tmp_path):
    proc = seimd("--debug", "info", "/nonexistent.mtp", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_info_takes_several_files():
    proc = seimd("info", SAMPLE_MTP, SAMPLE_MTP)
    assert proc.returncode == 0
    assert proc.stdout.count(f"file            {SAMPLE_MTP}") == 2


def test_evaluate_reads_cfg_gz_and_several_files(gz):
    plain = seimd("evaluate", SAMPLE_MTP, SAMPLE_CFG)
    packed = seimd("evaluate", SAMPLE_MTP, gz)
    assert plain.returncode == 0 and packed.returncode == 0, packed.stderr
    assert plain.stdout.splitlines()[1:] == packed.stdout.splitlines()[1:]
    both = seimd("evaluate", SAMPLE_MTP, SAMPLE_CFG, gz)
    n = int(plain.stdout.split(": ")[1].split()[0])
    assert f": {2 * n} configurations" in both.stdout


def test_read_cfg_reads_gzip(gz):
    from seimd.io.cfg import read_cfg

    assert read_cfg(gz) == read_cfg(SAMPLE_CFG)


def test_train_reads_cfg_gz(tmp_path, gz):
    proc = seimd("train", SAMPLE_MTP, gz, "-o", tmp_path / "out.mtp", "--max-iter", "2",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out.mtp").is_file()


# ------------------------------------------------------------------ seimd relaunch
def fake_lmp(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_relaunch_passes_lammps_input_errors_on_as_exit_2(tmp_path):
    from seimd.relaunch import EXIT_BAD_INPUT, classify, relaunch

    (tmp_path / "run.log").write_text("SEI: setup from x.data at step 0, time 0.000000 ps, "
                                      "timestep 0.001 ps\nSEI: step 0 time 0.000000 ps: restart "
                                      "run.restart.1\n")
    calls = tmp_path / "calls"
    bad = fake_lmp(tmp_path / "bad", f"open({str(calls)!r}, 'a').write('x\\n')\n"
                   "print('ERROR: Cannot open file nope.mtp: No such file or directory')\n"
                   "sys.exit(1)")
    assert relaunch(["-var", "prefix", "run"], [], lmp=bad, workdir=tmp_path) == EXIT_BAD_INPUT
    assert calls.read_text().count("x") == 1                   # not relaunched
    assert classify(["ERROR: Non-numeric pressure - simulation unstable (fix_nh.cpp:1)"])[0] == "unstable"
    assert classify(["ERROR on proc 3: Out of range atoms - cannot compute PPPM"])[0] == "unstable"
    assert classify(["ERROR: Unknown pair_coeff species 'Xx'"])[0] == "input"
    assert classify(["Segmentation fault"])[0] == "crash"


def test_relaunch_with_bad_sei_input_keeps_the_earlier_log(tmp_path):
    from test_sei_input import POTENTIAL, SEI_IN, write_stack

    write_stack(tmp_path / "stack.data")
    common = ["-in", str(SEI_IN), "-screen", "none", "-var", "data", "stack.data",
              "-var", "potential", str(POTENTIAL), "-var", "run_ps", "0.01", "-var", "thermo_every",
              "10", "-var", "monitor_every", "10", "-var", "restart_every", "10", "-var", "prefix", "p"]
    proc = subprocess.run([lmp_executable(), *common], cwd=tmp_path, env=single_thread_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    earlier = (tmp_path / "p.log").read_text()
    for extra in (["-var", "temperature", "-5"], ["-var", "species", "Xx P S Cl"],
                  ["-var", "potential", "nope.mtp"], []):
        proc = seimd("relaunch", "--lmp", lmp_executable(), "--", *common, *extra, cwd=tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2, out[-3000:]
        assert "relaunch 1/" not in out
        assert (tmp_path / "p.log").read_text().startswith(earlier)


@pytest.mark.parametrize("case", ["empty", "unlabelled", "species"])
def test_train_bad_data_is_one_line_error(tmp_path, case):
    """An empty file, configurations without labels and a species the (trained) potential
    lacks: exit 2 with one error line, no traceback, no potential written."""
    import dataclasses

    from seimd.io.cfg import read_cfg, write_cfg

    first = read_cfg(SAMPLE_CFG)[0]
    data = tmp_path / "data.cfg"
    if case == "empty":
        data.write_text("")
    elif case == "unlabelled":
        write_cfg(data, [dataclasses.replace(first, energy=None, forces=None, plus_stress=None)])
    else:
        types = first.types.copy()
        types[0] = 7
        write_cfg(data, [dataclasses.replace(first, types=types)])
    proc = seimd("train", SAMPLE_MTP, data, "-o", tmp_path / "x.mtp", "--max-iter", "2")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "error:" in lines[0], proc.stderr
    assert not (tmp_path / "x.mtp").exists()
