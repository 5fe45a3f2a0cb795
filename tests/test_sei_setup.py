"""inputs/sei.in setup checks and file handling (issue 14): H5MD names and reuse, broken
H5MD files, dump frames after a continuation, species given as indices, species vs masses,
too-close atom pairs, bad parameters, and the default potential from any folder."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import ELEMENTS, SAMPLE_MTP, lmp_executable, single_thread_env
from test_sei_input import POTENTIAL, SEI_IN, run_sei, thermo_rows, write_stack

QUICK = dict(run_ps=0.02, thermo_every=10, monitor_every=10, restart_every=10, dump_every=10)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("setup")
    write_stack(d / "stack.data")
    return d


def errors(proc, log) -> list[str]:
    return sorted({line for line in (proc.stdout + log).splitlines() if line.startswith("SEI ERROR:")})


def refused(work, prefix, **var) -> str:
    proc, log = run_sei(work, prefix, check=False, **{**QUICK, **var})
    assert proc.returncode == 2, (proc.stdout[-2000:], log[-2000:])
    lines = errors(proc, log)
    assert len(lines) == 1, lines
    assert "Traceback" not in proc.stdout + proc.stderr + log
    return lines[0]


def frames(path: Path) -> list[int]:
    return [int(x) for x in re.findall(r"ITEM: TIMESTEP\n(\d+)", path.read_text())]


def test_h5_names_with_dots_slashes_and_dashes(work):
    from seimd.sei.h5md import read_observables

    (work / "sub-dir").mkdir(exist_ok=True)
    for name in ("run.h5", "./x-1.h5", "sub-dir/a.b-c.h5"):
        proc, log = run_sei(work, "named", h5=name, **QUICK, overwrite="yes")
        assert read_observables(work / name)["reduced"].step.tolist() == [0, 10, 20]
        assert not (work / "named.h5").exists()


def test_fresh_start_refuses_an_existing_h5_file(work):
    from seimd.sei.h5md import read_parameters

    run_sei(work, "again", **QUICK)
    log = (work / "again.log").read_text()
    line = refused(work, "again", seed=7)               # the log first: never overwritten
    assert "again.log exists" in line and "-var prefix" in line and "overwrite yes" in line
    assert (work / "again.log").read_text().startswith(log)
    # another prefix, the same monitor file
    line = refused(work, "again2", seed=7, h5="again.h5")
    assert "again.h5 exists" in line and "-var prefix" in line and "overwrite yes" in line
    assert len(read_parameters(work / "again.h5")) == 1
    assert read_parameters(work / "again.h5")[0]["seed"] != "7"
    run_sei(work, "again", seed=7, overwrite="yes", **QUICK)
    params = read_parameters(work / "again.h5")
    assert len(params) == 1 and str(params[0]["seed"]) == "7"    # metadata of this run only


@pytest.mark.parametrize("content", ["empty", "garbage", "foreign", "truncated"])
def test_continuation_with_a_broken_h5_file(work, content):
    import h5py

    prefix = f"broken-{content}"
    run_sei(work, prefix, **QUICK)
    h5 = work / f"{prefix}.h5"
    good = h5.read_bytes()
    if content == "empty":
        h5.write_bytes(b"")
    elif content == "garbage":
        h5.write_bytes(b"not an hdf5 file\n" * 100)
    elif content == "foreign":
        h5.unlink()
        with h5py.File(h5, "w") as f:
            f["something"] = np.arange(3)
    else:
        h5.write_bytes(good[: len(good) // 2])
    line = refused(work, prefix, restart=f"{prefix}.restart.1", run_ps=0.03)
    assert f"{prefix}.h5" in line and "-var h5" in line


def test_dump_holds_each_step_once_after_continuations(work):
    run_sei(work, "dumped", **{**QUICK, "run_ps": 0.04, "restart_every": 20})
    assert frames(work / "dumped.lammpstrj") == [0, 10, 20, 30, 40]
    # dumped.restart.2 is step 20 (.1: 0, then 40): frames 30 and 40 in the file belong to a
    # trajectory the continuation replaces; step 20 is written once
    proc, log = run_sei(work, "dumped", **{**QUICK, "run_ps": 0.05, "restart_every": 20},
                        restart="dumped.restart.2")
    assert "setup from dumped.restart.2 at step 20" in log
    assert frames(work / "dumped.lammpstrj") == [0, 10, 20, 30, 40, 50]


def test_species_indices_with_a_potential_without_element_names(work):
    from seimd.mtp.model import MTP

    assert MTP.read(SAMPLE_MTP).elements is None
    # the same coefficients with element names declared (potentials/) and without (tests/data)
    _, named = run_sei(work, "named-sp", potential=POTENTIAL, species="Li P S Cl", **QUICK)
    _, index = run_sei(work, "index-sp", potential=SAMPLE_MTP, species="0 1 2 3", **QUICK)
    sei = lambda log: re.findall(r"^SEI \d+ .*$", log, re.M)
    assert sei(index) and sei(index) == sei(named)


def test_species_order_is_checked_against_the_masses(work):
    line = refused(work, "order", species="Cl S P Li")
    assert "type 1 is Cl" in line and "mass 6.94" in line


def test_pairs_closer_than_min_dist_stop_the_setup(work):
    from seimd.lmp import write_data
    from seimd.structures import A_LPSC, bcc_li, lpsc_ordered

    li = bcc_li(repeat=(3, 3, 8))
    lpsc = lpsc_ordered()
    lpsc.positions[:, 2] += li.cell[2, 2] + 2.0
    stack = li + lpsc
    stack.set_cell([A_LPSC, A_LPSC, li.cell[2, 2] + 4.0 + lpsc.cell[2, 2]])
    stack.pbc = True
    stack.positions[1] = stack.positions[0] + [0.3, 0.0, 0.0]
    write_data(work / "close.data", stack, ELEMENTS)
    line = refused(work, "close", data="close.data")
    assert "closer than the min_dist" in line and "Li1-Li2 0.300 A" in line
    assert "close_pairs allow" in line
    proc, log = run_sei(work, "close-ok", check=False, data="close.data", close_pairs="allow",
                        **{**QUICK, "run_ps": 0.001})
    assert not errors(proc, log)


@pytest.mark.parametrize("var,expect", [
    ({"temperature": -5}, "temperature -5 K must be above 0"),
    ({"temperature": 0}, "temperature 0 K must be above 0"),
    ({"run_ps": 0}, "run_ps 0 ps must be above 0"),
    ({"run_ps": -1}, "run_ps -1 ps must be above 0"),
    ({"active_set": "potentials/lipscl-l08-7net0-al-s.asl"}, "is not a file"),
    ({"potential": "nope.mtp"}, "potential nope.mtp is not a file"),
    ({"data": "nope.data"}, "nope.data (data or restart file) is not a file"),
])
def test_bad_parameters_are_one_line_errors(work, var, expect):
    prefix = "bad-" + "-".join(f"{k}{v}" for k, v in var.items()).replace("/", "_")
    assert expect in refused(work, prefix, **var)


def test_default_potential_from_any_folder(tmp_path):
    """sei.in copied out of the installed package runs with its default potential in a folder
    that holds nothing but a data file."""
    out = subprocess.run(["seimd", "data"], capture_output=True, text=True, check=True)
    data_dir = Path(out.stdout.strip())
    assert (data_dir / "inputs" / "sei.in").is_file()
    assert (data_dir / "potentials" / "lipscl-l08-7net0-al-s.mtp").is_file()
    shutil.copy(data_dir / "inputs" / "sei.in", tmp_path / "my.in")
    write_stack(tmp_path / "model.data")
    cmd = [lmp_executable(), "-in", "my.in", "-log", "none", "-screen", "none"]
    for k, v in {**QUICK, "run_ps": 0.002, "thermo_every": 1, "monitor_every": 1}.items():
        cmd += ["-var", k, str(v)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=single_thread_env(), capture_output=True,
                          text=True, timeout=120)
    log = (tmp_path / "sei.log").read_text()
    assert proc.returncode == 0, log[-2000:]
    assert "potentials/lipscl-l08-7net0-al-s.mtp" in log and "SEI: done at step 2" in log
