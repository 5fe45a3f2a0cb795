"""The SEI monitor inside LAMMPS (fix seimd/python + seimd.sei.monitor) against the
offline analysis (seimd.sei.analyse) of the same configurations, on 1 and 2 MPI ranks;
its thermo values, log lines, per-atom labels in dumps, and its H5MD file across a
restart. Structures with known observables come from seimd.sei.reference_structures;
the MD is ballistic (pair_style zero), so 1 and 2 ranks follow the same trajectory."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import ELEMENTS, lmp_executable, mpiexec_executable, single_thread_env

NAMES = ["time_ps", "reduced", "crystalline", "amorphous", "crystallinity",
         "nPS0", "nPS1", "nPS2", "nPS3", "nPS4"]


def system(name: str):
    from seimd.sei.reference_structures import partly_reduced_lpsc_slab, reduced_antifluorite

    if name == "crystal":    # a reduced antifluorite solid solution: crystalline
        atoms = reduced_antifluorite((7, 2, 2), sigma=0.15, seed=3)
    else:                    # an LPSC slab with known N(PS_k), in a periodic box
        atoms, _ = partly_reduced_lpsc_slab(vacuum=12.0)
        atoms.pbc = True
    return atoms


@pytest.fixture(scope="module")
def data_files(tmp_path_factory) -> dict[str, Path]:
    from seimd.lmp import write_data

    d = tmp_path_factory.mktemp("monitor")
    files = {}
    for name in ("crystal", "slab"):
        write_data(d / f"{name}.data", system(name), ELEMENTS)
        files[name] = d / f"{name}.data"
    return files


def lmp(cwd: Path, body: str, ranks: int = 1, check: bool = True) -> subprocess.CompletedProcess:
    script = cwd / f"in.monitor{ranks}"
    script.write_text(body)
    cmd = [lmp_executable(), "-in", str(script), "-log", "log.lammps"]
    if ranks > 1:
        cmd = [mpiexec_executable(), "-n", str(ranks)] + cmd
    proc = subprocess.run(cmd, cwd=cwd, env=single_thread_env(), capture_output=True, text=True,
                          timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"lmp failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}")
    return proc


def setup(data: Path, restart: Path | None = None) -> str:
    read = f"read_restart {restart}" if restart else f"read_data {data}"
    return f"""
units metal
atom_style atomic
atom_modify map array
boundary p p p
{read}
pair_style zero 6.0
pair_coeff * *
neighbor 1.0 bin
fix nve all nve
"""


def monitor_run(cwd: Path, data: Path, ranks: int, labels: bool,
                matcher: str) -> tuple[np.ndarray, str]:
    body = setup(data) + f"""
velocity all create 900 11 loop geom
fix sei all seimd/python 20 seimd.sei.monitor:Monitor args h5=sei.h5 labels={'yes' if labels else 'no'} fcc_matcher={matcher} Li P S Cl
thermo_style custom step {' '.join(f'f_sei[{i}]' for i in range(1, 11))}
thermo_modify format float %.17g
thermo 20
dump d all custom 20 atoms.dump id type x y z{' f_sei' if labels else ''}
dump_modify d sort id format float %.17g
run 40
"""
    proc = lmp(cwd, body, ranks)
    rows = [l.split() for l in proc.stdout.splitlines()]
    table = np.array([r for r in rows if len(r) == 11 and re.fullmatch(r"\d+", r[0])], dtype=float)
    assert table[:, 0].tolist() == [0, 20, 40]
    return table, proc.stdout


def dump_frames(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(box (3, 2), table sorted by id) of every frame of a LAMMPS custom dump."""
    frames = []
    for chunk in path.read_text().split("ITEM: TIMESTEP")[1:]:
        lines = chunk.strip().splitlines()
        box = np.array([l.split()[:2] for l in lines[4:7]], dtype=float)
        frames.append((box, np.loadtxt(lines[8:], ndmin=2)))
    return frames


def offline(box: np.ndarray, table: np.ndarray, labels: bool, matcher: str):
    from seimd.sei import SEIParams, analyse

    cell = np.diag(box[:, 1] - box[:, 0])
    return analyse((table[:, 2:5], table[:, 1].astype(int), cell, np.ones(3, bool)), labels=labels,
                   params=SEIParams(fcc_matcher=matcher))


@pytest.mark.parametrize("name, labels, matcher", [("crystal", True, "template"),
                                                   ("slab", False, "template"),
                                                   ("crystal", False, "ovito-ptm")])
def test_monitor_equals_offline_analysis_on_one_and_two_ranks(tmp_path, data_files, name, labels,
                                                              matcher):
    results = {}
    for ranks in (1, 2):
        cwd = tmp_path / str(ranks)
        cwd.mkdir()
        table, stdout = monitor_run(cwd, data_files[name], ranks, labels, matcher)
        assert f"({matcher})" in stdout
        frames = dump_frames(cwd / "atoms.dump")
        assert len(frames) == 3
        for row, (box, atoms) in zip(table, frames):
            ref = offline(box, atoms, labels, matcher)
            f = ref.fractions
            assert row[6:11].tolist() == list(ref.counts.n_ps)
            np.testing.assert_allclose(row[2:6], 100 * np.array([f.alpha, f.crystalline, f.amorphous,
                                                                 f.crystallinity]), atol=1e-12)
            if labels:
                assert np.array_equal(atoms[:, 5].astype(int), ref.labels)
        # the log line of the last step repeats the thermo values
        last = re.findall(r"^SEI 40 (.*)$", stdout, re.M)
        assert len(last) == 1 and [float(v) for v in last[0].split()] == pytest.approx(
            table[-1, 1:].tolist(), abs=0.006)
        results[ranks] = table
    assert np.array_equal(results[1][:, 6:], results[2][:, 6:])    # counts identical
    np.testing.assert_allclose(results[1], results[2], atol=1e-12)
    if name == "crystal":
        assert results[1][0, 2] == 100.0 and results[1][0, 3] >= 95.0
    else:
        from seimd.sei.reference_structures import partly_reduced_lpsc_slab

        _, expected = partly_reduced_lpsc_slab(vacuum=12.0)
        assert results[1][0, 6:].tolist() == list(expected)


def test_h5md_file_is_readable_and_survives_a_restart(tmp_path, data_files):
    """A run writes steps 0..60 and a restart at 30; its continuation from that restart
    replaces rows 30..60 (the same ballistic trajectory, so the same values)."""
    from seimd.sei.h5md import read_observables, read_parameters

    data = data_files["slab"]
    monitor = "fix sei all seimd/python 10 seimd.sei.monitor:Monitor args h5=sei.h5 seed=11 Li P S Cl\n"
    lmp(tmp_path, setup(data) + "velocity all create 900 11 loop geom\n" + monitor
        + "run 30\nwrite_restart at30.restart\nrun 30\n")
    first = read_observables(tmp_path / "sei.h5")
    assert first["reduced"].step.tolist() == [0, 10, 20, 30, 40, 50, 60]
    assert first["reduced"].time == pytest.approx(np.arange(7) * 0.01)

    lmp(tmp_path, setup(data, tmp_path / "at30.restart") + monitor + "run 30\n", ranks=2)
    second = read_observables(tmp_path / "sei.h5")
    for key in ("reduced", "crystalline", "amorphous", "n_PS", "z"):
        assert second[key].step.tolist() == [0, 10, 20, 30, 40, 50, 60]
        np.testing.assert_allclose(second[key].value, first[key].value, atol=1e-12)
    segments = read_parameters(tmp_path / "sei.h5")
    assert len(segments) == 2
    assert segments[1]["restart_step"] == 30 and segments[1]["dropped_rows"] == 4
    assert segments[0]["seed"] == "11" and segments[0]["ps_cutoff_A"] == 3.0

    import h5py    # plain h5py reads it as the README shows

    with h5py.File(tmp_path / "sei.h5", "r") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        assert f["observables/n_PS/value"].shape == (7, 5)
        assert f["observables/reduced/value"].attrs["unit"] == "%"


def test_monitor_rejects_unmapped_types(tmp_path, data_files):
    proc = lmp(tmp_path, setup(data_files["slab"])
               + "fix sei all seimd/python 10 seimd.sei.monitor:Monitor args h5=none Li P\nrun 0\n",
               check=False)
    assert proc.returncode != 0
    assert "atom type 4 has no element in types= (2 given)" in proc.stdout + proc.stderr
