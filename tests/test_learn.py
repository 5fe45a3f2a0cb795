"""`seimd learn`: config, store, the complete teacher-student loop, kill-and-resume, MPI.

The system: bcc Li, 54 atoms, NPT at 300 and 600 K (1 bar). Teacher ("oracle"): the
shipped level-08 MTP potentials/lipscl-l08-7net0.mtp. Student: an untrained level-08,
1-species MTP on the teacher's radial range (so it can represent the teacher's Li-Li
energy exactly), first trained on 2 rattled cells. The loop runs in subprocesses, exactly
as a user runs it (`python -m seimd.cli learn CONFIG`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import mpiexec_executable, single_thread_env
from learn_helpers import (TEACHER, calls, errors_against_teacher, learn_toml, teacher_frames,
                           write_student_setup)
from seimd.io.cfg import read_cfg
from seimd.learn.config import ConfigError, Thresholds, key_reference, parse_config
from seimd.learn.store import Manifest, StoreError, TrainingSet

HELPERS = Path(__file__).resolve().parent / "learn_helpers.py"


def counting_oracle(log: Path, fail_calls=(), nan_calls=(), crash_calls=()) -> str:
    return (f'kind = "ase"\nretries = 1\n'
            f'settings = {{ calculator = "{HELPERS}:counting_teacher", kwargs = {{ '
            f'potential = "{TEACHER}", log = "{log}", fail_calls = {list(fail_calls)}, '
            f'nan_calls = {list(nan_calls)}, crash_calls = {list(crash_calls)} }} }}')


def learn(config: Path, *extra, env_extra: dict | None = None, timeout: int = 600,
          ranks: int = 1) -> subprocess.CompletedProcess:
    env = single_thread_env()
    env.pop("SEIMD_LEARN_TEST_KILL", None)
    env.update(env_extra or {})
    cmd = [sys.executable, "-m", "seimd.cli", "learn", *extra, str(config)]
    if ranks > 1:
        cmd = [mpiexec_executable(), "-n", str(ranks)] + cmd
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=config.parent)


def manifest(folder: Path) -> dict:
    return json.loads((folder / "work" / "manifest.json").read_text())


# --------------------------------------------------------------------------- config


MINIMAL = {"run": {"species": ["Li"]}, "start": {"potential": "p.mtp", "training": ["t.cfg"]},
           "md": {"vars": {"data": "li.data"}}}


def test_config_defaults_schedule_and_errors():
    cfg = parse_config(json.loads(json.dumps(MINIMAL)))
    assert cfg.md.steps == 2000 and cfg.oracle.kind == "sevennet" and cfg.stop.max_iterations == 40
    th = cfg.thresholds
    assert [round(th.break_at(i), 6) for i in (0, 3, 9, 10, 50)] == [5.5, 4.5, 2.5, 2.5, 2.5]
    assert th.save_at(0) == th.save_at(99) == 1.5
    assert th.final() == (1.5, 2.5) and th.final_iteration() == 9
    assert cfg.train.weighting == "structures"   # what learn.toml's weights were tuned with
    raw = json.loads(json.dumps(MINIMAL))
    raw.setdefault("train", {})["weighting"] = "vibrations"
    assert parse_config(raw).train.weighting == "vibrations"
    assert not th.at_final(8) and th.at_final(9)
    geo = Thresholds((1.5,), 5.5, 2.5, 3, "geometric")
    assert np.isclose(geo.break_at(1), np.sqrt(5.5 * 2.5))
    explicit = Thresholds((2.0, 1.5), 5.5, 2.5, 10, "linear", (5.0, 3.0))
    assert (explicit.break_at(0), explicit.break_at(7), explicit.final_iteration()) == (5.0, 3.0, 1)
    for bad, match in [({"md": {"stepz": 3}}, "unknown key"),
                       ({"thresholds": {"save": 3.0}}, "must exceed the save"),
                       ({"oracle": {"kind": "vasp"}}, "oracle.kind"),
                       ({"md": {"vars": {"data": "x", "grade_break": 3}}}, "set by seimd learn"),
                       ({"run": {"species": []}}, "non-empty"),
                       ({"train": {"weighting": "N3"}}, "train.weighting")]:
        raw = json.loads(json.dumps(MINIMAL))
        for section, values in bad.items():
            raw.setdefault(section, {}).update(values)
        with pytest.raises(ConfigError, match=match):
            parse_config(raw)
    ref = key_reference()
    assert "max_per_iteration = 20" in ref and "[oracle]" in ref and "break_final = 2.5" in ref


def test_help_documents_every_key():
    out = subprocess.run([sys.executable, "-m", "seimd.cli", "learn", "--help"],
                         capture_output=True, text=True, check=True).stdout
    from seimd.learn.config import KEYS

    for key in KEYS:
        assert f"  {key.name} = " in out, key.name


# --------------------------------------------------------------------------- store


def test_training_set_append_reconcile_and_manifest(tmp_path):
    from seimd.io.cfg import Configuration

    def cfg(task=None):
        c = Configuration(types=np.zeros(2, int), positions=np.eye(2, 3), cell=np.eye(3) * 5,
                          energy=-1.0, forces=np.zeros((2, 3)))
        if task:
            c.features = [("seimd_task", task)]
        return c

    ts = TrainingSet(tmp_path / "training.cfg")
    n, size = ts.append([cfg(), cfg()])
    assert n == 2 and size == ts.size() and len(ts.read()) == 2
    assert ts.reconcile(2, size) == []
    # appended + fsync'ed, then killed before the manifest: adopted, not lost
    _, size2 = ts.append([cfg("3:0")])
    adopted = ts.reconcile(2, size)
    assert [c.feature("seimd_task") for c in adopted] == ["3:0"] and ts.size() == size2
    # a torn write is cut back to the last complete configuration
    with open(ts.path, "ab") as f:
        f.write(b"BEGIN_CFG\n Size\n    2\n AtomDa")
    assert [c.feature("seimd_task") for c in ts.reconcile(2, size)] == ["3:0"]
    assert ts.size() == size2 and len(ts.read()) == 3
    # unmarked data beyond the manifest is never adopted
    ts.append([cfg()])
    assert ts.reconcile(3, size2) == [] and ts.size() == size2
    with pytest.raises(StoreError, match="truncated"):
        ts.reconcile(9, size2 + 10)
    m = Manifest.create(tmp_path / "manifest.json", {"a": 1})
    m.data["training"]["count"] = 3
    m.save()
    assert Manifest.load(tmp_path / "manifest.json").data["training"]["count"] == 3
    assert not list(tmp_path.glob(".manifest.json.*"))          # no temp file left behind


# --------------------------------------------------------------------------- full loop


@pytest.fixture(scope="module")
def converged_run(tmp_path_factory):
    """The complete loop to convergence (about 20 s on one core)."""
    folder = tmp_path_factory.mktemp("learn_full")
    paths = write_student_setup(folder)
    config = learn_toml(folder, paths, counting_oracle(folder / "calls.log"))
    proc = learn(config)
    return folder, config, paths, proc


@pytest.mark.slow
def test_loop_converges_and_student_matches_teacher(converged_run, tmp_path):
    folder, config, paths, proc = converged_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    d = manifest(folder)
    its = d["iterations"]
    assert d["state"] == "converged", d["message"]
    last = its[-1]
    # converged = an iteration at the final thresholds (save 1.5, break 2.5) selected nothing
    assert (last["save"], last["break"], last["selected"]) == (1.5, 2.5, 0)
    assert all(r["status"] == "finished" for r in last["md"].values())
    assert [round(it["break"], 6) for it in its[:4]] == [5.5, 4.5, 3.5, 2.5]
    assert its[0]["selected"] > 0 and 3 <= len(its) <= 20
    # every label is in the training set, once, and the oracle was called once per label
    training = read_cfg(folder / "work" / "training.cfg")
    tasks = [c.feature("seimd_task") for c in training[2:]]
    assert tasks == sorted(d["labels"], key=lambda t: d["labels"][t]["index"])
    assert len(set(tasks)) == len(tasks) == d["training"]["count"] - 2
    assert calls(folder / "calls.log") == len(tasks)
    # one log line per step, a summary line per iteration
    log = (folder / "work" / "learn.log").read_text()
    phases = [line.split()[4] for line in log.splitlines()
              if len(line.split()) > 4 and line.split()[1].isdigit()]
    assert phases.count("iteration") == len(its) and "converged at iteration" in log
    assert phases.count("md") == len(its) and phases.count("train") == phases.count("label")
    # the student matches the teacher on held-out teacher MD (other seeds), far better than
    # where it started
    frames = teacher_frames(tmp_path)
    final = errors_against_teacher(folder / "work" / "final.mtp", frames)
    start = errors_against_teacher(folder / "work" / "init" / "trained.mtp", frames)
    print(f"\nheld-out (20 teacher NPT frames at 300/600 K): start E {start['energy_meV']:.2f} "
          f"meV/atom F {start['force']:.4f} eV/A; final E {final['energy_meV']:.2f} meV/atom "
          f"F {final['force']:.4f} eV/A (teacher force std {final['force_std']:.3f} eV/A); "
          f"{len(its)} iterations, {len(tasks)} labels")
    assert final["energy_meV"] < 2.0 and final["force"] < 0.01
    assert final["force"] < 0.3 * start["force"] and final["energy_meV"] < 0.5 * start["energy_meV"]
    status = subprocess.run([sys.executable, "-m", "seimd.cli", "learn", "status", str(config)],
                            capture_output=True, text=True, check=True).stdout
    assert "state       converged" in status and f"{len(its) - 1:4d}  1.50  2.50 done" in status
    # running a converged run again does nothing
    again = learn(config)
    assert again.returncode == 0 and calls(folder / "calls.log") == len(tasks)


# --------------------------------------------------------------------------- kill and resume


@pytest.fixture(scope="module")
def short_reference(tmp_path_factory):
    """An uninterrupted 3-iteration run, the reference of the kill-and-resume tests."""
    folder = tmp_path_factory.mktemp("learn_ref")
    paths = write_student_setup(folder)
    config = learn_toml(folder, paths, counting_oracle(folder / "calls.log"), max_iterations=3)
    proc = learn(config)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]   # 3 = stopped
    return folder


def killed_and_resumed(tmp_path: Path, kill: str) -> tuple[Path, dict]:
    folder = tmp_path
    paths = write_student_setup(folder)
    config = learn_toml(folder, paths, counting_oracle(folder / "calls.log"), max_iterations=3)
    first = learn(config, env_extra={"SEIMD_LEARN_TEST_KILL": kill})
    assert first.returncode == -signal.SIGKILL, first.stdout[-2000:] + first.stderr[-2000:]
    at_kill = manifest(folder)
    second = learn(config)
    assert second.returncode == 3, second.stdout[-3000:] + second.stderr[-3000:]
    return folder, at_kill


def assert_same_result(folder: Path, reference: Path) -> None:
    for name in ("training.cfg", "current.mtp", "current.als"):
        assert (folder / "work" / name).read_bytes() == (reference / "work" / name).read_bytes(), name
    a, b = manifest(folder), manifest(reference)
    assert a["training"] == b["training"]
    assert sorted(a["labels"]) == sorted(b["labels"])
    assert [it["selected"] for it in a["iterations"]] == [it["selected"] for it in b["iterations"]]
    # nothing labelled twice: one oracle call per label
    assert calls(folder / "calls.log") == len(a["labels"]) == calls(reference / "calls.log")


@pytest.mark.slow
@pytest.mark.parametrize("kill", ["label:2@1", "label-appended:1@2"])
def test_kill_during_labelling_then_resume(short_reference, tmp_path, kill):
    """label:2@1 = killed right after the 2nd label of iteration 1 was recorded;
    label-appended:1@2 = killed after a label was fsync'ed to training.cfg but before the
    manifest recorded it (the resumed run adopts it instead of labelling it again)."""
    folder, at_kill = killed_and_resumed(tmp_path, kill)
    it = int(kill.split("@")[1])
    assert at_kill["iterations"][it]["phase"] == "label"
    labelled = [t for t in at_kill["labels"] if t.startswith(f"{it}:")]
    assert len(labelled) == (2 if kill.startswith("label:") else 0)
    assert_same_result(folder, short_reference)
    if "appended" in kill:
        assert manifest(folder)["labels"][f"{it}:0"].get("adopted") is True
        assert "adopted 1 label" in (folder / "work" / "learn.log").read_text()


@pytest.mark.slow
def test_kill_during_training_then_resume(short_reference, tmp_path):
    folder, at_kill = killed_and_resumed(tmp_path, "train:20@1")
    assert at_kill["iterations"][1]["phase"] == "train"
    assert_same_result(folder, short_reference)
    training = read_cfg(folder / "work" / "training.cfg")      # parses: not corrupted
    assert len(training) == manifest(folder)["training"]["count"]


# --------------------------------------------------------------------------- failures


@pytest.mark.slow
def test_oracle_failures_are_retried_or_skipped_with_the_reason(tmp_path):
    """Call 1 fails (retried: the retry succeeds); calls 3 and 4 are one task's two attempts
    (SCF failure, then a NaN energy): that task is skipped, the reason recorded."""
    paths = write_student_setup(tmp_path)
    config = learn_toml(tmp_path, paths, counting_oracle(tmp_path / "calls.log", fail_calls=[1, 3],
                                                         nan_calls=[4]), max_iterations=1)
    proc = learn(config)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    d = manifest(tmp_path)
    assert d["labels"]["0:0"]["attempts"] == 2
    assert "SCF not converged" in d["labels"]["0:0"]["errors"][0]
    assert list(d["failed"]) == ["0:1"]
    failed = d["failed"]["0:1"]
    assert failed["attempts"] == 2 and "energy is not finite" in failed["reason"]
    assert "SCF not converged" in failed["errors"][0]
    log = (tmp_path / "work" / "learn.log").read_text()
    assert "label 0:1 skipped after 2 attempt(s): attempt 2: OracleError: energy is not finite" in log
    assert d["training"]["count"] == 2 + len(d["labels"])
    status = subprocess.run([sys.executable, "-m", "seimd.cli", "learn", "status", str(config)],
                            capture_output=True, text=True, check=True).stdout
    assert "skipped labels (1)" in status and "0:1: attempt 2" in status


@pytest.mark.slow
def test_neighbourhood_harvest_labels_cut_environments(tmp_path):
    """md.harvest = neighbourhood (what large systems use): the MD saves the neighbourhoods
    of extrapolative atoms; each becomes a cluster in a box with 6 A of vacuum, whose central
    atom has the grade it had in the MD; they are labelled without stress and trained on."""
    from seimd.active.als import read_als
    from seimd.active.grades import Grader
    from seimd.io.cfg import to_atoms
    from seimd.mtp.model import MTP

    paths = write_student_setup(tmp_path)
    config = learn_toml(tmp_path, paths, counting_oracle(tmp_path / "calls.log"),
                        max_iterations=1)
    config.write_text(config.read_text().replace('restart_every = 500',
                                                 'restart_every = 500\nharvest = "neighbourhood"')
                      .replace('[oracle]', '[oracle]\nvacuum = 6.0'))
    proc = learn(config)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    it = tmp_path / "work" / "iter-000"
    d = manifest(tmp_path)
    assert {r["mode"] for r in d["iterations"][0]["md"].values()} == {"neighbourhood"}
    candidates = read_cfg(it / "candidates.cfg")
    assert candidates and all(c.feature("seimd_kind") == "neighbourhood" for c in candidates)
    grader = Grader(MTP.read(it / "potential.mtp"), read_als(it / "potential.als").A_inv)
    for c in candidates[:10]:
        atoms = to_atoms(c, ["Li"])
        side = atoms.cell.lengths()
        radius = np.linalg.norm(atoms.positions - atoms.positions[0], axis=1).max()
        assert np.allclose(side, side[0]) and side[0] >= 2 * radius + 6.0 - 1e-9
        assert len(atoms) < 54                         # a cut, not the whole cell
        assert np.isclose(grader.atom_grades(atoms)[0], float(c.feature("MV_grade")), rtol=1e-6)
    labelled = read_cfg(tmp_path / "work" / "training.cfg")[2:]
    assert len(labelled) == d["iterations"][0]["selected"] > 0
    assert all(c.plus_stress is None and c.forces is not None for c in labelled)
    assert d["iterations"][0]["train"]["n_train"] == 2 + len(labelled)


@pytest.mark.slow
def test_a_configuration_that_crashes_the_oracle_is_skipped_after_the_retries(tmp_path):
    """The oracle kills the whole process on calls 1 and 2 (task 0:0 both times). The first
    rerun labels 0:0 again (1 death <= retries = 1); after the second death it is skipped
    with the reason, and the run goes on."""
    paths = write_student_setup(tmp_path)
    config = learn_toml(tmp_path, paths, counting_oracle(tmp_path / "calls.log",
                                                         crash_calls=[1, 2]), max_iterations=1)
    for _ in range(2):
        proc = learn(config)
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
        assert manifest(tmp_path)["inflight"] == ["0:0"]
    proc = learn(config)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    d = manifest(tmp_path)
    assert "died while labelling it 2 times" in d["failed"]["0:0"]["reason"]
    assert "0:0" not in d["labels"] and len(d["labels"]) == d["iterations"][0]["selected"] - 1
    assert calls(tmp_path / "calls.log") == 2 + len(d["labels"])
    log = (tmp_path / "work" / "learn.log").read_text()
    assert "label 0:0 was in flight when the process died (1 time(s))" in log


def test_changed_config_is_refused_on_resume(tmp_path):
    paths = write_student_setup(tmp_path)
    config = learn_toml(tmp_path, paths, counting_oracle(tmp_path / "calls.log"),
                        max_iterations=1)
    proc = learn(config, env_extra={"SEIMD_LEARN_TEST_KILL": "harvest@0"})
    assert proc.returncode == -signal.SIGKILL
    config.write_text(config.read_text().replace("max_per_iteration = 5", "max_per_iteration = 6"))
    proc = learn(config)
    assert proc.returncode == 2 and "select.max_per_iteration: 5 -> 6" in proc.stderr
    config.write_text(config.read_text().replace("max_iterations = 1", "max_iterations = 2")
                      .replace("max_per_iteration = 6", "max_per_iteration = 5"))
    proc = learn(config, "--quiet")                               # stop.* may change
    assert proc.returncode in (0, 3), proc.stderr[-2000:]
    assert len(manifest(tmp_path)["iterations"]) == 2


# --------------------------------------------------------------------------- MPI


@pytest.mark.mpi
@pytest.mark.slow
def test_two_ranks_share_md_labelling_and_training(tmp_path):
    paths = write_student_setup(tmp_path)
    config = learn_toml(tmp_path, paths, counting_oracle(tmp_path / "calls.log"),
                        max_iterations=2)
    proc = learn(config, ranks=2)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    d = manifest(tmp_path)
    ranks = {v["rank"] for v in d["labels"].values()}
    assert ranks == {0, 1}                                        # labels from both ranks
    assert calls(tmp_path / "calls.log") == len(d["labels"])
    assert "2 rank(s)" in (tmp_path / "work" / "learn.log").read_text()
    training = read_cfg(tmp_path / "work" / "training.cfg")
    assert [c.feature("seimd_task") for c in training[2:]] == sorted(
        d["labels"], key=lambda t: d["labels"][t]["index"])
    # the MD ran on both ranks (LAMMPS reports its processor grid)
    log = (tmp_path / "work" / "iter-000" / "md" / "T300.log").read_text()
    assert "2 by 1 by 1 MPI processor grid" in log or "1 by 2 by 1" in log or "1 by 1 by 2" in log
