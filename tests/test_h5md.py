"""seimd.sei.h5md: layout, appending, continuation, restart truncation and crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from seimd.sei.h5md import H5MDLayoutError, H5MDObservables, read_observables, read_parameters

REPO = Path(__file__).resolve().parents[1]
OBSERVABLES = {
    "reduced": (None, (), "float64"),
    "potential_energy": ("eV", (), np.float64),
    "n_ps": (None, (5,), "int64"),  # N(PS_k), k = 0..4
    "stress": ("bar", (3, 3), "float64"),
}
PARAMETERS = {"temperature_K": 300.0, "pressure_bar": 1.0, "seed": 7, "timestep_ps": 0.001,
              "potential": Path("potentials/lipscl-l08-sample.mtp"), "ps_cutoff_A": 2.6}
VERSION = "0.1.0-test"


def row(step: int) -> dict:
    """Values of one row that depend on the step, so rows can be told apart."""
    return {"reduced": 0.5 * step, "potential_energy": -1000.0 + step,
            "n_ps": np.arange(5) + step, "stress": np.full((3, 3), float(step))}


def writer(path: Path, mode: str = "append", parameters: dict | None = None, **kw) -> H5MDObservables:
    return H5MDObservables.open(path, OBSERVABLES, PARAMETERS if parameters is None else parameters,
                                creator_version=VERSION, author="A. Tester", mode=mode, **kw)


def write_steps(path: Path, steps, **kw) -> None:
    with writer(path, **kw) as h5:
        for step in steps:
            h5.append(step, step * 0.001, row(step))


def steps_in(path: Path) -> list[int]:
    return read_observables(path)["reduced"].step.tolist()


def child_env() -> dict:
    """Environment for a child Python that imports this checkout's seimd."""
    path = os.pathsep.join(p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def test_create_append_read(tmp_path):
    path = tmp_path / "obs.h5"
    write_steps(path, [0, 10, 20])
    data = read_observables(path)
    assert set(data) == set(OBSERVABLES)
    for name, series in data.items():
        np.testing.assert_array_equal(series.step, [0, 10, 20])
        np.testing.assert_allclose(series.time, [0.0, 0.01, 0.02])
        np.testing.assert_array_equal(series.value, np.stack([row(s)[name] for s in (0, 10, 20)]))
    assert data["n_ps"].value.dtype == np.int64 and data["n_ps"].value.shape == (3, 5)
    step, time, value = data["reduced"]  # a plain tuple too
    assert value.shape == (3,)


def test_file_layout(tmp_path):
    path = tmp_path / "obs.h5"
    write_steps(path, [0, 5])
    with h5py.File(path, "r") as f:
        h5md = f["h5md"]
        assert h5md.attrs["version"].tolist() == [1, 1] and h5md.attrs["version"].dtype.kind == "i"
        assert h5md["author"].attrs["name"] == b"A. Tester"
        assert h5md["creator"].attrs["name"] == b"seimd"
        assert h5md["creator"].attrs["version"] == VERSION.encode()
        # H5MD wants fixed-length strings here
        assert h5py.check_string_dtype(h5md["creator"].attrs.get_id("name").dtype).length is not None
        for name, (unit, shape, dtype) in OBSERVABLES.items():
            element = f["observables"][name]
            step, time, value = element["step"], element["time"], element["value"]
            assert step.dtype == np.int64 and step.shape == (2,)
            assert time.dtype == np.float64 and time.attrs["unit"] == "ps"
            assert value.dtype == np.dtype(dtype) and value.shape == (2, *shape)
            assert value.attrs.get("unit") == unit
            for dataset in (step, time, value):
                assert dataset.chunks is not None and dataset.maxshape[0] is None
            assert step == f["observables/reduced/step"]  # one hard-linked step dataset
        print(f["observables/reduced/value"][:])  # the README's one-liner
        segment = f["parameters/segment_0"]
        assert segment.attrs["temperature_K"] == 300.0 and segment.attrs["seed"] == 7
        assert segment.attrs["potential"] == "potentials/lipscl-l08-sample.mtp"
        assert segment.attrs["first_row"] == 0 and segment.attrs["first_step"] == 0
        assert segment.attrs["creator_version"] == VERSION


def test_continuation_keeps_rows_and_adds_segment(tmp_path):
    path = tmp_path / "obs.h5"
    write_steps(path, [0, 10, 20])
    write_steps(path, [30, 40], parameters={**PARAMETERS, "temperature_K": 350.0, "note": "hotter"})
    assert steps_in(path) == [0, 10, 20, 30, 40]
    first, second = read_parameters(path)
    assert first["temperature_K"] == 300.0 and "note" not in first  # not overwritten
    assert second["temperature_K"] == 350.0 and second["note"] == "hotter"
    assert (second["first_row"], second["first_step"], second["dropped_rows"]) == (3, 30, 0)
    assert second["changed_parameters"] == "note, temperature_K"
    assert "restart_step" not in second


def test_continuation_must_continue_after_last_step(tmp_path):
    path = tmp_path / "obs.h5"
    write_steps(path, [0, 10, 20])
    with writer(path) as h5, pytest.raises(ValueError, match="restart_step"):
        h5.append(20, 0.02, row(20))
    assert steps_in(path) == [0, 10, 20]


@pytest.mark.parametrize("restart_step, kept", [
    (30, [0, 10, 20]), (25, [0, 10, 20]), (0, []), (99, [0, 10, 20, 30, 40, 50])])
def test_restart_step_drops_later_rows(tmp_path, restart_step, kept):
    path = tmp_path / "obs.h5"
    write_steps(path, range(0, 60, 10))
    with writer(path, restart_step=restart_step) as h5:
        assert h5.rows == len(kept) and h5.segment == 1
        h5.append(restart_step, restart_step * 0.001, row(restart_step))  # the continuation repeats S
    assert steps_in(path) == kept + [restart_step]
    segment = read_parameters(path)[1]
    assert segment["restart_step"] == restart_step and segment["dropped_rows"] == 6 - len(kept)
    if len(kept) < 6:
        assert segment["dropped_step_range"].tolist() == [len(kept) * 10, 50]
    np.testing.assert_array_equal(read_observables(path)["n_ps"].value[-1], row(restart_step)["n_ps"])


def test_interrupted_append_is_truncated_on_reopen(tmp_path):
    path = tmp_path / "obs.h5"
    write_steps(path, [0, 10, 20])
    with h5py.File(path, "a") as f:  # as if killed after growing one dataset
        f["observables/stress/value"].resize(5, axis=0)
    assert steps_in(path) == [0, 10, 20]  # readers ignore the extra rows already
    with writer(path) as h5:
        assert h5.rows == 3
    with h5py.File(path, "r") as f:
        lengths = {f[f"observables/{n}/{p}"].shape[0]
                   for n in OBSERVABLES for p in ("step", "time", "value")}
        assert lengths == {3}
    assert read_parameters(path)[1]["incomplete_rows_removed"] == 2
    write_steps(path, [30])
    assert steps_in(path) == [0, 10, 20, 30]


def test_step_grown_but_not_written_is_dropped(tmp_path):
    path = tmp_path / "obs.h5"
    write_steps(path, [0, 10, 20])
    with h5py.File(path, "a") as f:  # killed between resizing `step` (written last) and writing it
        for name in OBSERVABLES:
            for part in ("step", "time", "value"):
                f[f"observables/{name}/{part}"].resize(4, axis=0)
    assert steps_in(path) == [0, 10, 20]
    write_steps(path, [30])
    assert steps_in(path) == [0, 10, 20, 30]


KILLED_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from seimd.sei.h5md import H5MDObservables
    spec = {f"obs{i}": ("eV", (4,), "float64") for i in range(8)}
    h5 = H5MDObservables.open(sys.argv[1], spec, {"seed": 1}, creator_version="test")
    step = 0
    while True:
        h5.append(step, step * 0.001, {name: np.full(4, float(step)) for name in spec})
        print(step, flush=True)  # this row is in the file
        step += 1
""")


def test_killed_writer_loses_at_most_one_row(tmp_path):
    path = tmp_path / "killed.h5"
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE,
                             env=child_env(), text=True)
    try:
        for _ in range(200):  # let it write a few hundred rows, then kill it mid-loop
            child.stdout.readline()
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    completed = int(rest.split()[-1]) if rest.split() else 199  # last row known to be flushed
    data = read_observables(path)
    n = len(data["obs0"].step)
    assert completed + 1 <= n <= completed + 2  # every flushed row, plus perhaps the one in flight
    for series in data.values():
        np.testing.assert_array_equal(series.step, np.arange(n))
        np.testing.assert_array_equal(series.value, np.repeat(np.arange(n, dtype=float)[:, None], 4, 1))
    spec = {f"obs{i}": ("eV", (4,), "float64") for i in range(8)}
    with H5MDObservables.open(path, spec, {"seed": 1}, creator_version="test") as h5:  # reopens
        assert h5.rows == n
        h5.append(n, n * 0.001, {name: np.full(4, float(n)) for name in spec})
    assert len(read_observables(path)["obs0"].step) == n + 1


def test_read_a_file_being_written(tmp_path):
    path = tmp_path / "obs.h5"
    peek = ("from seimd.sei.h5md import read_observables\n"
            f"print(read_observables({str(path)!r}, locking=False)['reduced'].step.tolist())")
    with writer(path) as h5:
        for step in (0, 10):
            h5.append(step, step * 0.001, row(step))
        out = subprocess.run([sys.executable, "-c", peek], env=child_env(),
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "[0, 10]"


@pytest.mark.parametrize("change, message", [
    ({"reduced": (None, (), "float32")}, "'reduced': dtype float64 in the file, float32 declared"),
    ({"potential_energy": ("kcal", (), "float64")}, "unit 'eV' in the file, 'kcal' declared"),
    ({"n_ps": (None, (6,), "int64")}, "value shape (5,) in the file, (6,) declared"),
    ({"extra": (None, (), "float64")}, "'extra' is declared but not in the file"),
    ({"stress": None}, "'stress' is in the file but not declared"),
])
def test_mismatching_declaration_is_refused(tmp_path, change, message):
    path = tmp_path / "obs.h5"
    write_steps(path, [0, 10])
    declared = {name: spec for name, spec in {**OBSERVABLES, **change}.items() if spec is not None}
    with pytest.raises(H5MDLayoutError) as error:
        H5MDObservables.open(path, declared, PARAMETERS, creator_version=VERSION)
    assert message in str(error.value)
    assert len(read_parameters(path)) == 1 and steps_in(path) == [0, 10]  # untouched


def test_bad_rows_are_refused_before_writing(tmp_path):
    path = tmp_path / "obs.h5"
    with writer(path) as h5:
        h5.append(0, 0.0, row(0))
        with pytest.raises(ValueError, match="shape"):
            h5.append(1, 0.001, {**row(1), "n_ps": np.arange(4)})
        with pytest.raises(TypeError, match="float64 value for a int64"):
            h5.append(1, 0.001, {**row(1), "n_ps": np.arange(5) + 0.5})
        with pytest.raises(KeyError, match="missing \\['stress'\\]"):
            h5.append(1, 0.001, {k: v for k, v in row(1).items() if k != "stress"})
        h5.append(1, 0.001, row(1))
    assert steps_in(path) == [0, 1]


def test_parameter_types_round_trip(tmp_path):
    path = tmp_path / "obs.h5"
    script = "run 1000\n" * 2000  # long: stored as a dataset
    parameters = {"seed": 3, "fixed": True, "note": None, "cell_A": [10.0, 10.0, 30.0],
                  "elements": ["Li", "P", "S", "Cl"], "thermostat": {"damp_ps": 0.1, "chain": 3},
                  "input_script": script}
    write_steps(path, [0], parameters=parameters)
    segment = read_parameters(path)[0]
    assert segment["seed"] == 3 and segment["fixed"] is True and segment["note"] is None
    np.testing.assert_array_equal(segment["cell_A"], [10.0, 10.0, 30.0])
    assert segment["elements"].tolist() == ["Li", "P", "S", "Cl"]
    assert segment["thermostat"] == {"damp_ps": 0.1, "chain": 3}
    assert segment["input_script"] == script
    with h5py.File(path, "r") as f:
        assert isinstance(f["parameters/segment_0/input_script"], h5py.Dataset)
    other = tmp_path / "other.h5"
    with pytest.raises(ValueError, match="reserved"):
        writer(other, parameters={"first_row": 1})
    with pytest.raises(TypeError, match="'thermostat/bad'"):
        writer(other, parameters={"thermostat": {"bad": object()}})
    assert not other.exists()  # refused before the file was created


def test_modes(tmp_path):
    path = tmp_path / "obs.h5"
    write_steps(path, [0, 10])
    with pytest.raises(FileExistsError):
        writer(path, mode="create")
    write_steps(path, [5], mode="overwrite")
    assert steps_in(path) == [5] and len(read_parameters(path)) == 1
