"""In-situ active learning inside the production run: ``lmp -in inputs/sei.in -var learn``.

Teacher-student, as tests/test_learn.py: the teacher (oracle kind ``mtp``) is the shipped
level-08 Li-P-S-Cl MTP; the student an untrained level-08 MTP fitted on a few rattled cells
(a bcc Li | LiCl interface, or bcc Li), which extrapolates at once in NPT MD at 600 K. The
production protocol itself (sei.in: NPT, restarts, guard) must then break, label, retrain,
reload and go on until the student no longer extrapolates; killed anywhere and continued,
it must end with the same potential as a run that was never interrupted. On the XS
Li | Li6PS5Cl interface (2 ranks, the SEI monitor on) the H5MD file must tell which
generation produced which stretch.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, lmp_executable, mpiexec_executable, single_thread_env
from lammps_runs import thermo_rows
from learn_helpers import (INTERFACE_TEACHER, SAVE, TEACHER, errors_against_teacher,
                           production_toml, teacher_frames, write_interface_student_setup,
                           write_licl_interface_setup, write_student_setup)

SEI_IN = REPO / "inputs" / "sei.in"
LI_VARS = {"data": "setup/li54.data", "species": "Li", "p_type": 1, "s_type": 1,
           "monitor_every": 0, "dump_every": 0, "temperature": 600, "restart_every": 500,
           "grade_every": 10, "thermo_every": 100}


def run_sei(cwd: Path, ranks: int = 1, env_extra: dict | None = None, timeout: int = 600,
            **var) -> subprocess.CompletedProcess:
    cmd = [lmp_executable(), "-in", str(SEI_IN), "-screen", "none"]
    for k, v in var.items():
        cmd += ["-var", k, str(v)]
    if ranks > 1:
        cmd = [mpiexec_executable(), "-n", str(ranks)] + cmd
    env = single_thread_env()
    env.pop("SEIMD_LEARN_TEST_KILL", None)
    env.update(env_extra or {})
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def newest_restart(cwd: Path, prefix: str = "sei") -> str:
    """The documented continuation: the newest of PREFIX.restart.1 / .2."""
    files = [p for p in cwd.glob(f"{prefix}.restart.[12]")]
    return max(files, key=lambda p: p.stat().st_mtime_ns).name


def learn_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("SEI LEARN gen ")
            and " step " in line]


def li_setup(folder: Path, cap: int) -> Path:
    paths = write_student_setup(folder / "setup")
    production_toml(folder, paths["student"], [paths["training"]], TEACHER, ["Li"], cap)
    return folder


# --------------------------------------------------------------------------- the loop


LICL_VARS = {"data": "setup/stack.data", "species": "Li Cl", "p_type": 1, "s_type": 2,
             "monitor_every": 0, "dump_every": 0, "temperature": 600, "restart_every": 500,
             "grade_every": 10, "thermo_every": 100}


@pytest.fixture(scope="module")
def licl(tmp_path_factory):
    """The Li | LiCl interface set-up (read-only) and held-out frames of the teacher's MD."""
    folder = tmp_path_factory.mktemp("licl")
    paths = write_licl_interface_setup(folder / "setup")
    frames = teacher_frames(folder / "teacher", temperatures=(600.0,), frames=8, every=100,
                            data=paths["data"], species=("Li", "Cl"))
    return paths, frames


@pytest.mark.parametrize("ranks", [1, 2])
def test_in_run_loop_on_an_interface_retrains_and_goes_on(tmp_path, ranks, licl):
    """On a small interface (bcc Li | LiCl, 136 atoms, 600 K NPT) the student breaks, is
    retrained at least twice inside the same lmp call, reloads and goes on to the end of the
    run, quiet (grades below the save threshold) over the last chunk, and closer to the
    teacher on held-out teacher MD than at the start."""
    import shutil

    paths, held_out = licl
    shutil.copytree(paths["data"].parent, tmp_path / "setup")
    production_toml(tmp_path, tmp_path / "setup" / "student.mtp",
                    [tmp_path / "setup" / "start.cfg"], TEACHER, ["Li", "Cl"], cap=40)
    proc = run_sei(tmp_path, ranks=ranks, learn="learn.toml", run_ps=3, **LICL_VARS)
    log = (tmp_path / "sei.log").read_text()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SEI: done at step 3000" in log
    events = learn_lines(log)
    prod = json.loads((tmp_path / "sei.learn" / "production.json").read_text())
    assert len(events) >= 2 and len(events) == len(prod["events"])
    gens = prod["generations"]
    assert [g["generation"] for g in gens] == list(range(len(events) + 1))
    # every generation kept, with the training set it was trained on (growing)
    counts = []
    for g in gens:
        stem = tmp_path / "sei.learn" / f"gen-{g['generation']:03d}"
        for ext in (".mtp", ".als", ".cfg"):
            assert stem.with_suffix(ext).is_file()
        counts.append(stem.with_suffix(".cfg").read_text().count("BEGIN_CFG"))
    assert counts == sorted(counts) and counts[-1] > counts[0]
    assert counts == [g["training"] for g in gens]
    # each event line says what happened: label count and training errors
    for line, e in zip(events, prod["events"]):
        m = re.search(r"labelled (\d+) failed (\d+) train_rmse ([\d.]+) meV/atom", line)
        assert m and int(m.group(1)) == e["labelled"] >= 1 and int(m.group(2)) == 0
    # the last generation ran the last chunk (from its restart, at or before step 2500, to
    # 3000) with every grade (each 10 steps) below the save threshold: nothing it saved
    # (pair_style mtp grade_save, with each configuration's step) is from that chunk
    manifest = json.loads((tmp_path / "sei.learn" / "manifest.json").read_text())
    last_it = manifest["iterations"][-1]
    assert last_it["index"] == gens[-1]["generation"] and last_it["phase"] == "md"
    assert gens[-1]["from_step"] <= 2500
    saved = Path(last_it["folder"]) / "md" / "production.extrapolative.cfg"
    saved_steps = [int(float(m)) for m in re.findall(r"Feature\s+lammps_step\s+(\S+)",
                                                      saved.read_text())] if saved.exists() else []
    assert all(s < 2500 for s in saved_steps), saved_steps
    rows = [r for r in thermo_rows(log)[1] if "c_maxgrade" in r and r["Step"] >= 2500]
    assert rows and rows[-1]["Step"] == 3000 and rows[-1]["c_maxgrade"] < SAVE
    # the thresholds anneal 5.5 -> 2.5 over the first retrainings
    breaks = [float(re.search(r"break ([\d.]+)$", e["reason"]).group(1))
              for e in prod["events"]]
    assert breaks[0] == 5.5 and breaks[-1] == 2.5 and breaks == sorted(breaks, reverse=True)
    # closer to the teacher: held-out frames of the teacher's own MD of the interface
    first = errors_against_teacher(gens[0]["mtp"], held_out, ("Li", "Cl"))
    final = errors_against_teacher(gens[-1]["mtp"], held_out, ("Li", "Cl"))
    assert final["force"] < 0.5 * first["force"], (first, final)
    assert final["energy_meV"] < first["energy_meV"], (first, final)
    # the production run's state reads like seimd learn's
    status = subprocess.run(["seimd", "learn", "status", "sei"], cwd=tmp_path, text=True,
                            capture_output=True, env=single_thread_env())
    assert status.returncode == 0, status.stderr
    assert f"{len(gens)} potential generation(s), {len(events)} retraining event(s)" in \
        status.stdout
    assert events[-1] in status.stdout


KILLS = ["label-appended:1@2", "train:5@3", "done@5"]
"""Kill points (loop.py's test hook): after a label reached training.cfg but not the
manifest; in the 5th L-BFGS iteration of a training; at the end of an iteration, with the
next generation not yet recorded."""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = li_setup(tmp_path_factory.mktemp("whole"), cap=7)
    proc = run_sei(folder, learn="learn.toml", run_ps=1, **LI_VARS)
    assert proc.returncode == 3, proc.stdout[-3000:]          # the cap ends the run
    return folder


def test_killed_anywhere_then_continued_gives_the_same_potential(tmp_path, uninterrupted):
    li_setup(tmp_path, cap=7)
    first = True
    for kill in KILLS:
        extra = {} if first else {"restart": newest_restart(tmp_path)}
        proc = run_sei(tmp_path, env_extra={"SEIMD_LEARN_TEST_KILL": kill},
                       learn="learn.toml", run_ps=1, **LI_VARS, **extra)
        assert proc.returncode < 0 or proc.returncode > 128, (kill, proc.returncode,
                                                              proc.stdout[-2000:])
        first = False
    proc = run_sei(tmp_path, learn="learn.toml", run_ps=1, restart=newest_restart(tmp_path),
                   **LI_VARS)
    assert proc.returncode == 3, proc.stdout[-3000:]
    ref = json.loads((uninterrupted / "sei.learn" / "production.json").read_text())
    got = json.loads((tmp_path / "sei.learn" / "production.json").read_text())
    assert len(got["generations"]) == len(ref["generations"]) == 8
    for a, b in zip(got["events"], ref["events"]):
        for key in ("generation", "step", "saved", "selected", "labelled", "failed",
                    "restart_step"):
            assert a[key] == b[key], (key, a, b)
    last = "gen-007"
    for ext in (".mtp", ".als", ".cfg"):
        assert (tmp_path / "sei.learn" / (last + ext)).read_bytes() == \
            (uninterrupted / "sei.learn" / (last + ext)).read_bytes(), ext
    # no label computed twice: one per selected configuration
    manifest = json.loads((tmp_path / "sei.learn" / "manifest.json").read_text())
    assert len(manifest["labels"]) == sum(e["selected"] for e in got["events"])
    assert manifest["training"]["count"] == manifest["training"]["initial"] + \
        len(manifest["labels"])


# --------------------------------------------------------------------------- bad input


def _config_cases(folder: Path) -> dict:
    base = (folder / "learn.toml").read_text()
    als = REPO / "potentials" / "lipscl-l08-7net0-al-s.als"
    return {
        "unknown oracle": (base.replace('kind = "mtp"', 'kind = "vasp"'), "oracle.kind"),
        "oracle package missing": (base.replace('kind = "mtp"', 'kind = "sevennet"'),
                                   "sevennet"),
        "unreadable config": ("[run\nspecies =", "not valid TOML"),
        "active set of another potential": (
            base.replace("training = ", f'active_set = "{als}"\ntraining = '),
            "belongs to another potential"),
    }


@pytest.mark.parametrize("case", ["unknown oracle", "oracle package missing",
                                  "unreadable config", "active set of another potential",
                                  "no such file"])
def test_bad_learning_setup_is_one_line_and_exit_2(tmp_path, case):
    li_setup(tmp_path, cap=3)
    if case == "no such file":
        name, text, expect = "missing.toml", None, "no such file"
    else:
        text, expect = _config_cases(tmp_path)[case]
        name = "bad.toml"
    if case == "oracle package missing":
        try:
            import sevenn  # noqa: F401
            import torch  # noqa: F401
            pytest.skip("SevenNet-0 is installed here: its absence cannot be tested")
        except ImportError:
            pass
    if text is not None:
        (tmp_path / name).write_text(text)
    proc = run_sei(tmp_path, learn=name, run_ps=0.1, **LI_VARS)
    log = (tmp_path / "sei.log").read_text()
    errors = [line for line in log.splitlines() if line.startswith("SEI ERROR")]
    assert proc.returncode == 2, (case, proc.returncode, log[-2000:])
    assert len(errors) == 1 and expect in errors[0], errors
    assert "Traceback" not in proc.stdout + proc.stderr + log
    assert not list(tmp_path.glob("sei.restart.*"))      # stopped before any MD


# --------------------------------------------------------------------------- interface


def test_interface_run_on_2_ranks_records_generations_in_h5md(tmp_path):
    """The XS interface on 2 ranks with the SEI monitor: the student (fitted on 7 teacher-MD
    snapshots) breaks and is retrained; every reload opens an H5MD segment that names its
    potential generation, the observables stay one time series (every monitor step once,
    none left from a discarded stretch), and the file's learn group holds the events."""
    import h5py

    from seimd.sei.h5md import read_parameters

    paths = write_interface_student_setup(tmp_path / "setup")
    production_toml(tmp_path, paths["student"], [paths["training"]], INTERFACE_TEACHER,
                    ["Li", "P", "S", "Cl"], cap=3, max_iter=400)
    proc = run_sei(tmp_path, ranks=2, learn="learn.toml", data="setup/xs.data", run_ps=0.3,
                   restart_every=100, grade_every=10, thermo_every=20, monitor_every=20,
                   dump_every=0, temperature=400)
    log = (tmp_path / "sei.log").read_text()
    assert proc.returncode in (0, 3), proc.stdout[-3000:] + log[-3000:]
    events = learn_lines(log)
    prod = json.loads((tmp_path / "sei.learn" / "production.json").read_text())
    assert len(events) >= 2 and len(events) == len(prod["events"]), log[-3000:]
    # at least one event went back to a restart after step 0: rows of the discarded stretch
    # existed and had to go
    assert any(e["restart_step"] > 0 for e in prod["events"]), prod["events"]
    with h5py.File(tmp_path / "sei.h5") as f:
        g = f["learn"]
        assert list(g["events/generation"][:]) == [e["generation"] for e in prod["events"]]
        assert list(g["events/step"][:]) == [e["step"] for e in prod["events"]]
        assert list(g["generations/generation"][:]) == list(range(len(prod["generations"])))
        assert list(g["generations/from_step"][1:]) == [e["restart_step"]
                                                        for e in prod["events"]]
        steps = f["observables/reduced/step"][:]
    last_step = int(re.findall(r"SEI: step (\d+) time [\d.]+ ps: restart", log)[-1])
    assert list(steps[steps <= last_step]) == list(range(0, last_step + 1, 20)), steps
    segments = read_parameters(tmp_path / "sei.h5")
    gens = [int(s["learn_generation"]) for s in segments]
    assert gens == sorted(gens) and set(gens) == set(range(len(prod["generations"])))
    for s in segments:
        assert s["potential"].endswith(f"gen-{int(s['learn_generation']):03d}.mtp")


@pytest.mark.parametrize("name", ["learn-sei.toml", "learn-sei-demo.toml"])
def test_shipped_production_configs_load(name, monkeypatch):
    """The shipped -var learn configs are valid production configs with their files present;
    learn-sei.toml (start.potential empty: sei.in's own) is refused by seimd learn, which
    has no potential of its own to fall back on."""
    from seimd.learn.config import ConfigError, load_config
    from seimd.learn.production import load_production_config

    monkeypatch.chdir(REPO)                        # the configs' paths are repository-relative
    cfg = load_production_config(str(REPO / "inputs" / name))
    assert cfg.oracle.kind == "sevennet" and cfg.thresholds.save_at(0) == 1.5
    assert cfg.thresholds.break_at(0) == 5.5 and cfg.thresholds.break_at(10) == 2.5
    assert cfg.start.training and all(Path(p).is_file() for p in cfg.start.training)
    if not cfg.start.potential:
        with pytest.raises(ConfigError, match="start.potential"):
            load_config(str(REPO / "inputs" / name))
