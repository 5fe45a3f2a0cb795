"""fix seimd/python: a Python callback inside LAMMPS (lmp executable and `import lammps`).

The callbacks live in tests/fix_callbacks.py; the embedded interpreter finds them through
PYTHONPATH. Checks: thermo access to the fix's vector, 1 and 2 ranks, the context's
arrays (views, owned then ghost atoms, complete neighbourhoods within ghost_cutoff),
arguments, per-atom output in dumps, stop requests, errors with the Python traceback on
every rank and through the Python module, and clear errors for bad fix commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import lmp_executable, mpiexec_executable, single_thread_env

TESTS = Path(__file__).resolve().parent

SYSTEM = """
units metal
atom_modify map array
lattice bcc 3.51
region b block 0 4 0 4 0 5
create_box 2 b
create_atoms 1 box
set type 1 type/fraction 2 0.25 7
mass * 6.94
pair_style lj/cut 5.0
pair_coeff * * 0.01 2.5
neighbor 1.0 bin
velocity all create 5 1 loop geom    # cold: bcc neighbour shells stay apart
fix nve all nve
group two type 2
"""
NATOMS = 2 * 4 * 4 * 5


def env() -> dict:
    e = single_thread_env()
    e["PYTHONPATH"] = os.pathsep.join([str(TESTS)] + [p for p in [e.get("PYTHONPATH")] if p])
    return e


def run_lmp(tmp_path: Path, body: str, ranks: int = 1, check: bool = True):
    script = tmp_path / f"in.fix{ranks}"
    script.write_text(SYSTEM + body)
    cmd = [lmp_executable(), "-in", str(script), "-log", "none"]
    if ranks > 1:
        cmd = [mpiexec_executable(), "-n", str(ranks)] + cmd
    proc = subprocess.run(cmd, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"lmp failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def thermo_rows(stdout: str, ncols: int) -> np.ndarray:
    rows = [line.split() for line in stdout.splitlines()]
    rows = [r for r in rows if len(r) == ncols and all(re.fullmatch(r"-?[\d.eE+-]+", v) for v in r)]
    return np.array(rows, dtype=float)


def counts_thermo(tmp_path: Path, ranks: int) -> np.ndarray:
    proc = run_lmp(tmp_path, """
fix cb all seimd/python 5 fix_callbacks:counts nvalues 3
thermo_style custom step f_cb[1] f_cb[2] f_cb[3]
thermo_modify format float %.15g
thermo 5
run 20
""", ranks)
    rows = thermo_rows(proc.stdout, 4)
    assert rows[:, 0].tolist() == [0, 5, 10, 15, 20]
    assert np.all(rows[:, 1] == NATOMS)
    assert np.array_equal(rows[:, 2], rows[:, 0])    # the callback saw the right step
    return rows


def test_thermo_reads_the_fix_vector_on_one_and_two_ranks(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    one, two = counts_thermo(tmp_path / "1", 1), counts_thermo(tmp_path / "2", 2)
    np.testing.assert_allclose(one[:, 3], two[:, 3], rtol=1e-10)    # same trajectory


def records(directory: Path) -> dict[int, list[dict]]:
    return {int(p.stem[4:]): [json.loads(line) for line in p.read_text().splitlines()]
            for p in sorted(directory.glob("rank*.jsonl"))}


@pytest.mark.parametrize("ranks", [1, 2])
def test_context_arrays_arguments_and_ghosts(tmp_path, ranks):
    out = tmp_path / "rec"
    out.mkdir()
    run_lmp(tmp_path, f"""
fix rec two seimd/python 4 fix_callbacks:Recorder args first dir={out} second
thermo_style custom step f_rec[1] f_rec[2]
thermo 4
run 8
run 4
""", ranks)
    recs = records(out)
    assert sorted(recs) == list(range(ranks))
    for rank, rows in recs.items():
        init, calls, closed = rows[0], rows[1:-1], rows[-1]
        assert init["args"] == ["first", "second"] and init["kwargs"] == {"dir": str(out)}
        assert init["fix_id"] == "rec" and init["group"] == "two" and init["nevery"] == 4
        assert closed == {"closed": True}
        # steps 0, 4, 8 in the first run; the second run starts at 8 (not repeated) and ends at 12
        assert [c["step"] for c in calls] == [0, 4, 8, 12]
        assert [c["time"] for c in calls] == pytest.approx([0.0, 0.004, 0.008, 0.012])
        for c in calls:
            assert all(c["views"]), "ctx arrays must be views of LAMMPS memory"
            assert c["nghost"] > 0
            # bcc 3.51 A: within 7.5 A every atom has the same number of neighbours; only a
            # complete ghost shell (raised from 6 A by the callable's ghost_cutoff) gives it
            assert set(c["neighbours_within"]) == {set(calls[0]["neighbours_within"]).pop()}
    total = sorted(i for rows in recs.values() for i in rows[1]["ids"])
    assert total == list(range(1, NATOMS + 1))
    in_group = sum(rows[1]["in_group"] for rows in recs.values())
    assert 0 < in_group < NATOMS


def test_ghost_cutoff_gives_complete_neighbourhoods(tmp_path):
    """The same 7.5 A count as a periodic reference computed offline."""
    out = tmp_path / "rec"
    out.mkdir()
    run_lmp(tmp_path, f"fix rec all seimd/python 1 fix_callbacks:Recorder args dir={out}\nrun 0\n", 2)
    from ase.build import bulk
    from ase.neighborlist import neighbor_list

    ref = bulk("Li", "bcc", a=3.51, cubic=True).repeat((4, 4, 5))
    n_ref = np.bincount(neighbor_list("i", ref, 7.5), minlength=len(ref)) + 1    # + itself
    got = [n for rows in records(out).values() for n in rows[1]["neighbours_within"]]
    assert sorted(got) == sorted(n_ref.tolist())


def test_peratom_values_in_a_dump(tmp_path):
    run_lmp(tmp_path, """
fix lab all seimd/python 5 fix_callbacks:AtomIdTimesTwo
dump d all custom 5 ids.dump id f_lab
dump_modify d sort id
run 10
""", 2)
    frames = (tmp_path / "ids.dump").read_text().split("ITEM: TIMESTEP")[1:]
    assert len(frames) == 3
    for frame in frames:
        table = np.loadtxt(frame.split("ITEM: ATOMS id f_lab")[1].strip().splitlines())
        assert np.array_equal(table[:, 1], 2 * table[:, 0])


def test_stop_request_ends_the_run_softly(tmp_path):
    proc = run_lmp(tmp_path, """
fix stop all seimd/python 3 fix_callbacks:StopAt args at=6
thermo_style custom step f_stop
thermo 3
run 30
print "AFTER $(step)"
unfix stop
thermo_style one
run 3
print "AFTER2 $(step)"
""", 2)
    assert "asked to stop at step 6: reached step 6" in proc.stdout
    assert "AFTER 6" in proc.stdout
    assert "AFTER2 9" in proc.stdout    # the next run is not stopped


@pytest.mark.parametrize("ranks", [1, 2])
def test_exception_stops_lmp_with_the_traceback(tmp_path, ranks):
    proc = run_lmp(tmp_path, """
fix bad all seimd/python 2 fix_callbacks:FailAt args at=4
thermo 2
run 10
print "NOT REACHED"
""", ranks, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "NOT REACHED" not in text
    assert f"fix seimd/python bad: calling fix_callbacks:FailAt at step 4 failed on rank {ranks - 1}" in text
    assert "Traceback (most recent call last)" in text
    assert f"ZeroDivisionError: deliberate failure at step 4 on rank {ranks - 1}" in text


def test_exception_through_the_python_module(tmp_path):
    """LAMMPS inside Python: the running interpreter is used and the error is an exception."""
    script = tmp_path / "host.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from seimd.lmp import open_lammps
lmp = open_lammps()
lmp.commands_string('''{SYSTEM}''')
lmp.command("fix cb all seimd/python 2 fix_callbacks:counts nvalues 3")
lmp.command("run 4")
print("VALUE", lmp.extract_fix("cb", 0, 1, 0), lmp.extract_fix("cb", 0, 1, 1))
lmp.command("unfix cb")
lmp.command("fix bad all seimd/python 2 fix_callbacks:FailAt args at=4")
try:
    lmp.command("run 4")
except Exception as exc:
    print("CAUGHT", str(exc).replace(chr(10), " | "))
""")
    proc = subprocess.run(["python", str(script)], cwd=tmp_path, env=env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"VALUE {float(NATOMS)} 4.0" in proc.stdout
    caught = re.search(r"^CAUGHT (.*)$", proc.stdout, re.M).group(1)
    assert "ZeroDivisionError: deliberate failure at step 4 on rank 0" in caught
    assert "Traceback" in caught


@pytest.mark.parametrize("command, message", [
    ("fix x all seimd/python 5 no_colon", "is not module:callable"),
    ("fix x all seimd/python 0 fix_callbacks:counts", "N must be a positive"),
    ("fix x all seimd/python 5 fix_callbacks:counts nvalues", "needs a value"),
    ("fix x all seimd/python 5 fix_callbacks:counts colour red", "unknown keyword 'colour'"),
    ("fix x all seimd/python 5 no_such_module_xyz:f", "ModuleNotFoundError: No module named 'no_such_module_xyz'"),
    ("fix x all seimd/python 5 fix_callbacks:no_such_function", "AttributeError"),
])
def test_bad_fix_commands(tmp_path, command, message):
    proc = run_lmp(tmp_path, command + "\nrun 0\n", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_wrong_number_of_values(tmp_path):
    proc = run_lmp(tmp_path, "fix x all seimd/python 5 fix_callbacks:wrong_length nvalues 2\nrun 0\n",
                   check=False)
    assert proc.returncode != 0
    assert "returned 3 values, the fix expects 2" in proc.stdout + proc.stderr


def test_log_lines_reach_screen_and_log_file(tmp_path):
    proc = run_lmp(tmp_path, "log fix.log\nfix x all seimd/python 5 fix_callbacks:logger\nrun 10\n", 2)
    expected = [f"LOGLINE step {s} rank 0 {{braces}} kept" for s in (0, 5, 10)]
    for text in (proc.stdout, (tmp_path / "fix.log").read_text()):
        assert [l for l in text.splitlines() if l.startswith("LOGLINE")] == expected


def test_embedding_without_the_launcher(tmp_path):
    """The wheel's LAMMPS binary started directly (as a cluster job script might): no
    SEIMD_PYTHON from the launcher; the plugin finds the virtualenv's Python from its own
    location in site-packages."""
    import importlib.metadata as md

    import lammps
    from seimd.plugin import plugin_directory

    binary = Path(lammps.__file__).parent / "lmp"
    mpi_lib = next(Path(f.locate()).parent for f in md.files("mpich") if "libmpi.so" in str(f))
    e = env()
    for key in ("SEIMD_PYTHON", "SEIMD_LIBPYTHON"):
        e.pop(key, None)
    e["LD_LIBRARY_PATH"] = str(mpi_lib)
    e["LAMMPS_PLUGIN_PATH"] = plugin_directory()
    script = tmp_path / "in.raw"
    script.write_text(SYSTEM + "fix cb all seimd/python 5 fix_callbacks:counts nvalues 3\n"
                      "run 5\nprint \"NATOMS $(f_cb[1])\"\n")
    proc = subprocess.run([str(binary), "-in", str(script), "-log", "none"], cwd=tmp_path, env=e,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"NATOMS {NATOMS}" in proc.stdout


def test_callback_without_values(tmp_path):
    proc = run_lmp(tmp_path, "fix x all seimd/python 5 fix_callbacks:nothing\nrun 10\nprint DONE\n")
    assert "DONE" in proc.stdout
