"""The resumable active-learning loop: a state machine whose state is ``manifest.json``.

Run directory (``run.workdir``)::

    manifest.json        the state (store.Manifest), replaced atomically after every step
    training.cfg         the training set, append-only (store.TrainingSet)
    learn.log            one line per step (below)
    config.toml          the config the run started with
    models/NAME.data     data files of md.runs given as `model`
    init/                start.mtp, unlabelled.cfg, trained.mtp/.als (iteration 0's potential)
    iter-NNN/            potential.mtp/.als it explored with (copies), md/RUN.* (LAMMPS
                         log, grades, extrapolative.cfg, restart), candidates.cfg,
                         selected.cfg, oracle/ (oracle logs), train.log, trained.mtp/.als
    current.mtp/.als     the newest potential and its active set
    final.mtp/.als       written when the run converged

Phases: the init steps (copy -> label -> train -> activeset) make iteration 0's potential;
then every iteration goes md -> harvest -> select -> [label -> train -> activeset] -> done
(the bracket is skipped when nothing is selected / labelled). Each phase reads its inputs
from files and writes its outputs to files before the manifest moves on, so a phase that
was killed is simply run again, with the same result: MD from the same restart and seed,
training from the same potential, data and seed. Labels are the exception that makes it
cheap: they are recorded one by one (store.py), and only missing ones are labelled again.

learn.log columns: time, iteration, save and break thresholds, phase, largest grade seen in
the MD, candidates, selected, labelled, failed, training RMSEs (energy meV/atom, force eV/A,
stress GPa), wall seconds of the phase, and a note; a line with phase ``iteration`` sums up
each iteration.

Test hook: ``SEIMD_LEARN_TEST_KILL=POINT[:N][@ITERATION]`` makes the process SIGKILL itself
at POINT (md, harvest, select, label-appended, label, train, trained, activeset, done) —
for label the N-th label recorded in that iteration, for train the N-th L-BFGS iteration.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from seimd.io.cfg import Configuration, format_cfg, read_cfg
from seimd.mtp.model import MTP

from .config import RESUMABLE_CHANGES, LearnConfig, md_runs
from .store import Manifest, StoreError, TrainingSet, atomic_copy, atomic_write_bytes, \
    read_configurations, read_structures, TASK_FEATURE

__all__ = ["Learner", "run_learning", "LearnError"]

PHASES = ("md", "harvest", "select", "label", "train", "activeset", "done")


class LearnError(RuntimeError):
    """The loop cannot go on (the message says why and what to do)."""


# --------------------------------------------------------------------------- helpers


def _kill_point(point: str, iteration, count: int | None = None) -> None:
    """The test hook (module doc): SIGKILL this process at a named point."""
    spec = os.environ.get("SEIMD_LEARN_TEST_KILL", "")
    if not spec:
        return
    where, _, at = spec.partition("@")
    name, _, n = where.partition(":")
    if name != point or (at and at != str(iteration)):
        return
    if n and count is not None and int(n) != count:
        return
    if n and count is None:
        return
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _fmt(value, spec: str, width: int) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-".rjust(width)
    return format(value, spec).rjust(width)


class _Logger:
    """One line per step to WORKDIR/learn.log and stdout (rank 0)."""

    HEADER = (f"{'time':19s} {'iter':>4s} {'save':>5s} {'break':>5s} {'phase':9s} "
              f"{'max_grade':>9s} {'cand':>5s} {'sel':>4s} {'lab':>4s} {'fail':>4s} "
              f"{'E_meV/at':>8s} {'F_eV/A':>7s} {'S_GPa':>6s} {'wall_s':>7s}  note")

    def __init__(self, path: Path, quiet: bool = False) -> None:
        self.path = path
        self.quiet = quiet
        new = not path.exists()
        self.handle = open(path, "a", encoding="utf-8")
        if new:
            self.handle.write(self.HEADER + "\n")
            self.handle.flush()
        if not quiet:
            print(self.HEADER, flush=True)

    def line(self, iteration, save=None, brk=None, phase="", max_grade=None, cand=None,
             sel=None, lab=None, fail=None, rmse=None, wall=None, note="") -> None:
        rmse = rmse or {}
        text = (f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {str(iteration):>4s} "
                f"{_fmt(save, '.2f', 5)} {_fmt(brk, '.2f', 5)} {phase:9s} "
                f"{_fmt(max_grade, '.3f', 9)} {_fmt(cand, 'd', 5)} {_fmt(sel, 'd', 4)} "
                f"{_fmt(lab, 'd', 4)} {_fmt(fail, 'd', 4)} "
                f"{_fmt(rmse.get('energy'), '.3f', 8)} {_fmt(rmse.get('force'), '.4f', 7)} "
                f"{_fmt(rmse.get('stress'), '.3f', 6)} {_fmt(wall, '.1f', 7)}  {note}").rstrip()
        self.handle.write(text + "\n")
        self.handle.flush()
        if not self.quiet:
            print(text, flush=True)

    def note(self, text: str) -> None:
        self.handle.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n")
        self.handle.flush()
        if not self.quiet:
            print(f"# {text}", flush=True)

    def close(self) -> None:
        self.handle.close()


def _data_atoms(path: str) -> int:
    """Number of atoms in a LAMMPS data file's header."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f):
            parts = line.split()
            if len(parts) == 2 and parts[1] == "atoms":
                return int(parts[0])
            if n > 50:
                break
    raise LearnError(f"{path}: no 'N atoms' line in the header of this LAMMPS data file")


def _rmse(report_dict: dict | None) -> dict:
    if not report_dict:
        return {}
    return {"energy": report_dict.get("energy_rmse_meV_per_atom"),
            "force": report_dict.get("force_rmse_eV_per_A"),
            "stress": report_dict.get("stress_rmse_GPa")}


def _write_cfgs(path: Path, configs: list[Configuration]) -> None:
    text = "".join(format_cfg(c, full_precision=True) + "\n\n" for c in configs)
    atomic_write_bytes(path, text.encode("utf-8"))


def _read_cfgs(path: Path) -> list[Configuration]:
    text = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    return read_cfg(text) if text.strip() else []


def _serial_ase_io(gpaw: bool = False) -> None:
    """Make ASE's file I/O per-process. Under MPI, ``ase.io.read``/``write`` broadcast from
    rank 0 to all ranks (a collective call), but here rank 0 alone reads and writes the run's
    files, and each rank labels its own task: ASE's hidden broadcasts would pair up with
    seimd's own and garble both. GPAW keeps its own communicators, but checks when it is
    imported that ASE sees as many ranks as it does: with ``gpaw``, it is imported first."""
    import ase.parallel

    if gpaw:
        from .oracles import gpaw_mpi_backend

        gpaw_mpi_backend()
        try:
            import gpaw.mpi  # noqa: F401
        except ImportError:
            pass                                   # reported when the oracle is built
    ase.parallel.world.comm = ase.parallel.DummyMPI()


# --------------------------------------------------------------------------- the loop


class Learner:
    """One ``seimd learn`` process (one MPI rank of it). Rank 0 owns every file."""

    def __init__(self, cfg: LearnConfig, comm=None, allow_changes: bool = False,
                 quiet: bool = False) -> None:
        self.cfg = cfg
        self.comm = comm if (comm is not None and comm.Get_size() > 1) else None
        if self.comm is not None:
            _serial_ase_io(gpaw=cfg.oracle.kind == "gpaw")
        self.rank = self.comm.Get_rank() if self.comm else 0
        self.size = self.comm.Get_size() if self.comm else 1
        self.wd = cfg.workdir.resolve()
        self.species = list(cfg.run.species)
        self.th = cfg.thresholds
        self.allow_changes = allow_changes
        self.quiet = quiet
        self.training = TrainingSet(self.wd / "training.cfg")
        self.manifest: Manifest | None = None
        self.data: dict = {}
        self.log: _Logger | None = None
        self._lock = None
        self.start_potential = cfg.start.potential
        self.start_active_set = cfg.start.active_set

    # ------------------------------------------------------------ collective helpers

    @property
    def root(self) -> bool:
        return self.rank == 0

    def bcast(self, obj):
        return self.comm.bcast(obj, root=0) if self.comm else obj

    def barrier(self) -> None:
        if self.comm:
            self.comm.Barrier()

    def commit(self) -> None:
        """Rank 0 saves the manifest; every rank gets its data."""
        if self.root:
            self.manifest.save()
        self.data = self.bcast(self.manifest.data if self.root else None)

    def on_root(self, fn, *args, **kwargs):
        """Run ``fn`` on rank 0 only; its result (or exception) reaches every rank."""
        result, error = None, None
        if self.root:
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 (re-raised on every rank below)
                error = exc
                if self.size > 1 and not isinstance(exc, (LearnError, StoreError)):
                    import traceback

                    traceback.print_exc()              # the other ranks get only the message
        error = self.bcast(error if error is None or self.size == 1 else
                           LearnError(f"{type(error).__name__}: {error}"))
        if error is not None:
            if not isinstance(error, BaseException):      # a mismatched broadcast
                raise LearnError(f"MPI ranks out of step: got {type(error).__name__} where "
                                 f"an exception or None was expected")
            raise error
        return self.bcast(result)

    # ------------------------------------------------------------ open / resume

    def open(self) -> None:
        self.on_root(self._open_root)
        self.data = self.bcast(self.manifest.data if self.root else None)

    def _open_root(self) -> None:
        self.wd.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        self.log = _Logger(self.wd / "learn.log", quiet=self.quiet)
        path = self.wd / "manifest.json"
        if path.exists():
            self.manifest = Manifest.load(path)
            self._check_config()
            self._reconcile_training_set()
            self.log.note(f"resuming {self.wd} ({self._where()}), {self.size} rank(s)")
        else:
            if self.training.size():
                raise LearnError(f"{self.wd} has a training.cfg but no manifest.json: not a "
                                 f"seimd learn run directory (or its manifest was deleted)")
            self.manifest = Manifest.create(path, self.cfg.snapshot())
            try:
                shutil.copyfile(self.cfg.source, self.wd / "config.toml")
            except (OSError, shutil.SameFileError):
                pass
            self.manifest.save()
            self.log.note(f"new run in {self.wd}, {self.size} rank(s), oracle "
                          f"{self.cfg.oracle.kind}")

    def _acquire_lock(self) -> None:
        import fcntl

        self._lock = open(self.wd / ".lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise LearnError(f"another seimd learn is running in {self.wd}") from None

    def _check_config(self) -> None:
        changes = self.cfg.changes_from(self.manifest.data["config"])
        blocking = [c for c in changes if (c[0], c[1]) not in RESUMABLE_CHANGES]
        if blocking and not self.allow_changes:
            lines = "; ".join(f"{s}.{k}: {a!r} -> {b!r}" for s, k, a, b in blocking)
            raise LearnError(f"the config differs from the one {self.wd} was started with "
                             f"({lines}). Restore it, use another run.workdir, or pass "
                             f"--allow-changes to go on with the new values")
        if changes:
            for s, k, a, b in changes:
                self.log.note(f"config change on resume: {s}.{k}: {a!r} -> {b!r}")
            self.manifest.data["config"] = self.cfg.snapshot()

    def _reconcile_training_set(self) -> None:
        tr = self.manifest.data["training"]
        adopted = self.training.reconcile(tr["count"], tr["bytes"])
        for c in adopted:
            task = c.feature(TASK_FEATURE)
            self.manifest.data["labels"][task] = {"index": tr["count"], "adopted": True,
                                                  "oracle": c.feature("seimd_oracle")}
            tr["count"] += 1
        tr["bytes"] = self.training.size()
        if adopted:
            self.log.note(f"adopted {len(adopted)} label(s) written before the last stop: "
                          f"{', '.join(c.feature(TASK_FEATURE) for c in adopted)}")
        self.manifest.save()

    def _where(self) -> str:
        d = self.manifest.data
        if d["init"]["phase"] != "done":
            return f"init, phase {d['init']['phase']}"
        it = d["iterations"][-1]
        return f"iteration {it['index']}, phase {it['phase']}, state {d['state']}"

    # ------------------------------------------------------------ run

    def run(self) -> str:
        """Run or resume until converged / stopped / failed; returns that state."""
        try:
            self.open()
            if self.data["state"] in ("stopped", "failed"):
                self.on_root(self._maybe_reopen)
                self.commit()
            while self.data["state"] == "running":
                if self.data["init"]["phase"] != "done":
                    self.init_step()
                else:
                    self.iteration_step()
            if self.root:
                self.log.note(f"state {self.data['state']}: {self.data.get('message', '')}")
            return self.data["state"]
        finally:
            self.close()

    def close(self) -> None:
        """Close the log and release the run directory's lock (what :meth:`open` took)."""
        if self.root and self.log is not None:
            self.log.close()
            self.log = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # ------------------------------------------------------------ init

    def init_step(self) -> None:
        init = self.data["init"]
        phase = init["phase"]
        t0 = time.perf_counter()
        if phase == "copy":
            self.on_root(self._init_copy)
        elif phase == "label":
            configs = _read_cfgs(self.wd / "init" / "unlabelled.cfg")
            tasks = self._tasks("init", configs)
            self._label(tasks, "init", self.wd / "init" / "oracle")
            if self.root:
                self.manifest.data["init"]["phase"] = "train"
        elif phase == "train":
            n_init_labels = self._count_labels("init")
            start = MTP.read(self.wd / "init" / "start.mtp")
            out = self.wd / "init" / "trained.mtp"
            if not start.is_trained or n_init_labels > 0:
                if self.cfg.start.max_iter == 0 and not start.is_trained:
                    raise LearnError("start.potential is an untrained template but start.max_iter "
                                     "= 0: nothing would train it")
                report = self._train(start, self.cfg.start.max_iter, out,
                                     self.wd / "init" / "train.log", "init")
                if self.root:
                    self.manifest.data["init"]["train"] = report
                    self.manifest.data["init"]["trained"] = True
            else:
                self.on_root(atomic_copy, self.wd / "init" / "start.mtp", out)
                if self.root:
                    self.manifest.data["init"]["trained"] = False
            if self.root:
                self.manifest.data["init"]["phase"] = "activeset"
        elif phase == "activeset":
            out = self.wd / "init" / "trained.als"
            given = self.start_active_set
            if given and not self.data["init"].get("trained"):
                self.on_root(self._check_als, given, self.wd / "init" / "trained.mtp")
                self.on_root(atomic_copy, given, out)
                info = {"copied": given}
            else:
                info = self._active_set(MTP.read(self.wd / "init" / "trained.mtp"), out)
            if self.root:
                self.manifest.data["init"]["activeset"] = info
                self.manifest.data["init"]["phase"] = "done"
                self.manifest.data["iterations"].append(self._new_iteration(
                    0, self.wd / "init" / "trained.mtp", out, {}))
                atomic_copy(self.wd / "init" / "trained.mtp", self.wd / "current.mtp")
                atomic_copy(out, self.wd / "current.als")
        wall = time.perf_counter() - t0
        if self.root:
            self.manifest.data["init"].setdefault("seconds", {})[phase] = wall
            d = self.manifest.data
            rm = _rmse(d["init"].get("train", {}).get("train_errors")) if phase == "train" else {}
            self.log.line("init", phase=phase,
                          lab=self._count_labels("init") if phase == "label" else None,
                          fail=self._count_failed("init") if phase == "label" else None,
                          rmse=rm, wall=wall,
                          note=f"training set {d['training']['count']}" if phase in (
                              "copy", "label") else "")
        self.commit()

    def _init_copy(self) -> None:
        (self.wd / "init").mkdir(exist_ok=True)
        # the initial training set (a rerun of this phase starts the file over)
        with open(self.training.path, "wb") as f:
            f.flush()
            os.fsync(f.fileno())
        count = 0
        for path in self.cfg.start.training:
            configs = read_configurations(path)
            for c in configs:
                if c.types.size and c.types.max() >= len(self.species):
                    raise LearnError(f"{path}: type {c.types.max()} but run.species has "
                                     f"{len(self.species)} elements")
                if c.energy is None and c.forces is None:
                    raise LearnError(f"{path}: a configuration without energy and forces; put "
                                     f"unlabelled structures in start.unlabelled")
            n, _ = self.training.append(configs)
            count += n
        unlabelled = []
        for path in self.cfg.start.unlabelled:
            for atoms in read_structures(path, self.species):
                atoms.calc = None
                from seimd.io.cfg import from_atoms

                c = from_atoms(atoms, self.species)
                c.features = [("seimd_source", Path(path).name)]
                unlabelled.append(c)
        _write_cfgs(self.wd / "init" / "unlabelled.cfg", unlabelled)
        mtp = MTP.read(self.start_potential)
        from .fitting import prepare_potential

        prepare_potential(mtp, self.species).write(self.wd / "init" / "start.mtp")
        d = self.manifest.data
        d["runs"] = self._runs_table()
        d["training"].update(count=count, bytes=self.training.size(), initial=count)
        d["init"]["unlabelled"] = len(unlabelled)
        d["init"]["phase"] = "label" if unlabelled else "train"

    def _runs_table(self) -> dict:
        """The exploration runs of md.runs: data file (built models), atoms, -vars."""
        runs = {}
        for r, run in enumerate(md_runs(self.cfg)):
            data = run["data"]
            if run["model"]:
                from seimd.build import named_model, write_interface

                (self.wd / "models").mkdir(exist_ok=True)
                data = str(self.wd / "models" / f"{run['model'].upper()}.data")
                if not Path(data).exists():
                    write_interface(named_model(run["model"]), data=data, groups=False)
            if not Path(data).exists():
                raise LearnError(f"md run {run['name']}: data file {data} not found")
            default_species = ("Li P S Cl" if run["model"] else " ".join(self.species))
            runs[run["name"]] = {"index": r, "data": data, "natoms": _data_atoms(data),
                                 "vars": {"species": default_species, **run["vars"]}}
        return runs

    def _check_als(self, als: str, mtp_path: Path) -> None:
        from seimd.active.als import read_als

        state = read_als(als)
        mtp = MTP.read(mtp_path)
        if state.mtp.n_parameters != mtp.n_parameters or not state.mtp.is_trained or \
                not all(abs(a - b) <= 1e-12 * max(1.0, abs(b)) for a, b in
                        zip(state.mtp.parameters, mtp.parameters)):
            raise LearnError(f"start.active_set {als} belongs to another potential than "
                             f"start.potential (parameters differ); leave it empty to build one")

    # ------------------------------------------------------------ iterations

    def _new_iteration(self, i: int, potential: Path, als: Path, restarts: dict) -> dict:
        folder = self.wd / f"iter-{i:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        atomic_copy(potential, folder / "potential.mtp")
        atomic_copy(als, folder / "potential.als")
        return {"index": i, "save": self.th.save_at(i), "break": self.th.break_at(i),
                "phase": "md", "folder": str(folder), "restarts_in": dict(restarts),
                "md": {}, "seconds": {}}

    def iteration_step(self) -> None:
        it = self.data["iterations"][-1]
        i, phase = it["index"], it["phase"]
        folder = Path(it["folder"])
        t0 = time.perf_counter()
        line: dict = {}
        if phase == "md":
            line = self._md(it, folder)
            _kill_point("md", i)
            self._set(i, phase="harvest")
        elif phase == "harvest":
            line = self.on_root(self._harvest, it, folder)
            _kill_point("harvest", i)
            self._set(i, phase="select")
        elif phase == "select":
            line = self._select(it, folder)
            _kill_point("select", i)
        elif phase == "label":
            tasks = self._tasks(i, _read_cfgs(folder / "selected.cfg"))
            self._label(tasks, i, folder / "oracle")
            lab, fail = self._count_labels(i), self._count_failed(i)
            line = {"sel": len(tasks), "lab": lab, "fail": fail}
            self._set(i, phase="train" if lab else "done")
        elif phase == "train":
            report = self._train(MTP.read(folder / "potential.mtp"), self.cfg.train.max_iter,
                                 folder / "trained.mtp", folder / "train.log", i)
            line = {"rmse": _rmse(report.get("train_errors")),
                    "note": f"{report['iterations']} L-BFGS iterations, {report['n_train']} "
                            f"configurations: {report['message']}"}
            self._set(i, phase="activeset", train=report)
        elif phase == "activeset":
            info = self._active_set(MTP.read(folder / "trained.mtp"), folder / "trained.als")
            _kill_point("activeset", i)
            line = {"note": f"active set {info['filled']}/{info['n']} rows from the training "
                            f"set" if info else ""}
            self._set(i, phase="done", activeset=info)
        elif phase == "done":
            line = self.on_root(self._finish_iteration, it, folder) or {}
        else:
            raise StoreError(f"iteration {i}: unknown phase {phase!r} in the manifest")
        wall = time.perf_counter() - t0
        if self.root:
            rec = self.manifest.data["iterations"][i]
            rec["seconds"][phase] = wall
            if phase != "done":
                self.log.line(i, it["save"], it["break"], phase, wall=wall, **line)
        self.commit()

    def _set(self, i: int, **values) -> None:
        if self.root:
            self.manifest.data["iterations"][i].update(values)

    # ---- md

    def _md(self, it: dict, folder: Path) -> dict:
        from .harvest import harvest_mode
        from .md import run_md

        i = it["index"]
        results, restarts_out, notes = {}, {}, []
        for run in md_runs(self.cfg):
            name = run["name"]
            meta = self.data["runs"][name]
            going_on = getattr(self.cfg.md, "continue")        # `continue` is a keyword
            restart = it["restarts_in"].get(name, "") if going_on else ""
            seed = self.cfg.run.seed + meta["index"] + 1 + (0 if going_on else 1000 * i)
            mode = harvest_mode(self.cfg.md.harvest, meta["natoms"], self.cfg.oracle.max_atoms)
            res = run_md(name=name, input_path=self.cfg.md.input, prefix=folder / "md" / name,
                         data=meta["data"], restart=restart,
                         potential=str(folder / "potential.mtp"),
                         als=str(folder / "potential.als"), species=meta["vars"]["species"],
                         steps=self.cfg.md.steps, grade_every=self.cfg.md.grade_every,
                         grade_save=it["save"], grade_break=it["break"], save_mode=mode,
                         restart_every=self.cfg.md.restart_every, seed=seed,
                         extra_vars={k: v for k, v in meta["vars"].items() if k != "species"},
                         threads=self.cfg.md.threads, comm=self.comm)
            d = res.as_dict()
            d["mode"] = mode
            results[name] = d
            restarts_out[name] = res.restart or it["restarts_in"].get(name, "")
            what = {"finished": "finished", "break": "broke", "guard": "guard stopped it",
                    "error": "FAILED"}[res.status]
            notes.append(f"{name}: {what} at step {res.last_step}" + (
                f" ({res.error})" if res.error else "") + f", {res.saved} saved")
        grades = [r["max_grade"] for r in results.values() if r["max_grade"] == r["max_grade"]]
        if self.root:
            rec = self.manifest.data["iterations"][i]
            rec["md"] = results
            rec["restarts_out"] = restarts_out
            rec["max_grade"] = max(grades) if grades else float("nan")
            rec["md_failed"] = all(r["status"] == "error" for r in results.values())
        return {"max_grade": max(grades) if grades else None, "note": "; ".join(notes)}

    # ---- harvest

    def _harvest(self, it: dict, folder: Path) -> dict:
        from .harvest import harvest

        saved = [(name, folder / "md" / f"{name}.extrapolative.cfg", r["mode"])
                 for name, r in it["md"].items()]
        candidates = harvest(saved, self.species, self.cfg.oracle.vacuum,
                             self.cfg.select.max_candidates)
        _write_cfgs(folder / "candidates.cfg", candidates)
        total = sum(r["saved"] for r in it["md"].values())
        self._set(it["index"], candidates=len(candidates), saved=total)
        modes = sorted({r["mode"] for r in it["md"].values()})
        return {"cand": len(candidates), "max_grade": it.get("max_grade"),
                "note": f"{total} saved by the MD ({', '.join(modes)})"}

    # ---- select

    def _select(self, it: dict, folder: Path) -> dict:
        from .selection import select_candidates

        i = it["index"]
        candidates = _read_cfgs(folder / "candidates.cfg")
        result = select_candidates(str(folder / "potential.mtp"), str(folder / "potential.als"),
                                   candidates, self.species, self.cfg.select.max_per_iteration,
                                   self.cfg.select.swap_threshold, self.comm)
        line = {}
        if self.root:
            chosen = result["selected"]
            _write_cfgs(folder / "selected.cfg", [candidates[k] for k in chosen])
            self._set(i, selected=len(chosen), selected_candidates=chosen,
                      entered=result["entered"], phase="label" if chosen else "done")
            line = {"cand": len(candidates), "sel": len(chosen),
                    "note": f"{result['entered']} entered the active set" + (
                        f", the {len(chosen)} holding most rows kept" if result["entered"] >
                        len(chosen) else "")}
        return line

    # ---- labelling

    def _tasks(self, iteration, configs: list[Configuration]):
        from .labelling import Task

        out = []
        for k, c in enumerate(configs):
            env = c.feature("seimd_kind") == "neighbourhood"
            out.append(Task(f"{iteration}:{k}", c, stress=self.cfg.oracle.stress and not env))
        return out

    def _count_labels(self, iteration) -> int:
        prefix = f"{iteration}:"
        return sum(1 for t in self.data["labels"] if t.startswith(prefix)) if self.data else 0

    def _count_failed(self, iteration) -> int:
        prefix = f"{iteration}:"
        return sum(1 for t in self.data["failed"] if t.startswith(prefix)) if self.data else 0

    def _label(self, tasks, iteration, logdir: Path) -> None:
        from .labelling import label_tasks, labelled_configuration
        from .oracles import make_oracle

        if self.root:
            self._account_crashes()
        self.data = self.bcast(self.manifest.data if self.root else None)
        done = set(self.data["labels"]) | set(self.data["failed"])
        pending = [t for t in tasks if t.id not in done]
        oracle_name = make_oracle(self.cfg.oracle.kind, self.cfg.oracle.settings).describe()
        recorded = [self._count_labels(iteration)]

        def record(results) -> None:              # rank 0, after each round, in task order
            d = self.manifest.data
            good = [(t, o, r) for t, o, r in results if o is not None and o.ok]
            configs = [labelled_configuration(t, o.labels, self.species, oracle_name)
                       for t, o, _ in good]
            first = d["training"]["count"]
            n, size = self.training.append(configs)
            for k in range(len(good)):
                _kill_point("label-appended", iteration, recorded[0] + k + 1)
            for k, (t, o, r) in enumerate(good):
                d["labels"][t.id] = {"index": first + k, "oracle": oracle_name,
                                     "seconds": round(o.seconds, 3), "attempts": o.attempts,
                                     "rank": r}
                if o.errors:
                    d["labels"][t.id]["errors"] = o.errors
            for t, o, r in results:
                if o is None or not o.ok:
                    reason = o.reason if o is not None else "no result from its rank"
                    d["failed"][t.id] = {"reason": reason,
                                         "errors": o.errors if o is not None else [],
                                         "attempts": o.attempts if o is not None else 0,
                                         "rank": r}
                    self.log.note(f"label {t.id} skipped after {d['failed'][t.id]['attempts']} "
                                  f"attempt(s): {reason}")
            d["training"]["count"] = first + n
            d["training"]["bytes"] = size
            self.manifest.save()
            for _ in good:
                recorded[0] += 1
                _kill_point("label", iteration, recorded[0])

        def starting(batch) -> None:                # rank 0, before each round
            self.manifest.data["inflight"] = [t.id for t in batch]
            self.manifest.save()

        label_tasks(pending, species=self.species, oracle_cfg=self.cfg.oracle, comm=self.comm,
                    logdir=logdir, record=record, starting=starting)
        if self.root:
            self.manifest.data["inflight"] = []
        self.data = self.bcast(self.manifest.data if self.root else None)

    def _account_crashes(self) -> None:
        """Tasks noted in flight by a process that died count as a failed attempt each; after
        1 + oracle.retries such deaths a task is skipped (rank 0)."""
        d = self.manifest.data
        crashes = d.setdefault("crashes", {})
        for task in d.get("inflight", []):
            if task in d["labels"] or task in d["failed"]:
                continue
            crashes[task] = crashes.get(task, 0) + 1
            if crashes[task] > self.cfg.oracle.retries:
                d["failed"][task] = {
                    "reason": f"the process died while labelling it {crashes[task]} times "
                              f"(oracle crash, out of memory or kill)",
                    "errors": [], "attempts": crashes[task], "rank": -1}
                self.log.note(f"label {task} skipped: {d['failed'][task]['reason']}")
            else:
                self.log.note(f"label {task} was in flight when the process died "
                              f"({crashes[task]} time(s)); labelling it again")
        d["inflight"] = []
        self.manifest.save()

    # ---- training

    def _training_configs(self) -> list[Configuration]:
        return self.training.read(self.data["training"]["bytes"])

    def _train(self, start: MTP, max_iter: int, out: Path, log_path: Path, iteration) -> dict:
        from .fitting import retrain

        configs = self._training_configs()
        t = self.cfg.train
        trained, report = retrain(
            start, configs, self.species, max_iter=max_iter, tol=t.tol, tol_window=t.tol_window,
            # train.weighting defaults to "structures" (N^2), not `seimd train`'s
            # "vibrations": learn's energy_weight values (inputs/learn.toml: 20) were tuned
            # with it, and a changed default would silently reweigh resumed runs
            weights={"energy": t.energy_weight, "forces": t.force_weight,
                     "stress": t.stress_weight, "weighting": t.weighting},
            seed=self.cfg.run.seed, warm_start=t.warm_start, threads=t.threads, comm=self.comm,
            log_path=log_path, on_iteration=lambda n: _kill_point("train", iteration, n))
        summary = {"train_errors": report.train_errors.as_dict(), "iterations": report.iterations,
                   "n_train": report.n_train, "message": report.message,
                   "loss_initial": report.loss_initial, "loss_final": report.loss_final,
                   "seconds": report.seconds}
        if self.root:
            atomic_write_bytes(out, trained.to_text().encode("utf-8"))
            _kill_point("trained", iteration)
        self.barrier()
        return summary

    def _active_set(self, mtp: MTP, out: Path) -> dict | None:
        from .fitting import rebuild_active_set

        info = rebuild_active_set(mtp, self._training_configs(), self.species,
                                  self.cfg.select.swap_threshold, out, self.comm)
        return self.bcast(info)

    # ---- end of an iteration

    def _finish_iteration(self, it: dict, folder: Path) -> dict:
        d = self.manifest.data
        i = it["index"]
        trained = folder / "trained.mtp"
        retrained = it.get("train") is not None and trained.exists() and \
            (folder / "trained.als").exists()
        pot = trained if retrained else folder / "potential.mtp"
        als = folder / "trained.als" if retrained else folder / "potential.als"
        atomic_copy(pot, self.wd / "current.mtp")
        atomic_copy(als, self.wd / "current.als")
        selected = it.get("selected", 0)
        # converged = at the final thresholds, every run went through all its steps, and
        # nothing was selected
        finished = all(r["status"] == "finished" for r in it["md"].values())
        quiet_now = self.th.at_final(i) and selected == 0 and finished
        d["quiet"] = d.get("quiet", 0) + 1 if quiet_now else 0
        d["md_failures"] = d.get("md_failures", 0) + 1 if it.get("md_failed") else 0
        rec = d["iterations"][i]
        rec["next_potential"], rec["next_als"] = str(pot), str(als)
        rec["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        lab, fail = self._count_labels(i), self._count_failed(i)
        wall = sum(rec["seconds"].values())
        note = ""
        if d["quiet"] >= self.cfg.stop.converge_after:
            d["state"] = "converged"
            d["message"] = (f"converged at iteration {i}: nothing selected at the final "
                            f"thresholds (save {it['save']:g}, break {it['break']:g})")
            atomic_copy(pot, self.wd / "final.mtp")
            atomic_copy(als, self.wd / "final.als")
            note = d["message"] + "; final.mtp, final.als"
        elif d["md_failures"] >= self.cfg.md.max_failures:
            d["state"] = "failed"
            d["message"] = (f"the MD failed in {d['md_failures']} iterations in a row (see "
                            f"{folder / 'md'}/*.log)")
            note = d["message"]
        else:
            self._next_or_stop()
            note = d["message"] if d["state"] != "running" else ""
        _kill_point("done", i)
        rec["phase"] = "done"
        self.log.line(i, it["save"], it["break"], "iteration", max_grade=it.get("max_grade"),
                      cand=it.get("candidates"), sel=selected, lab=lab, fail=fail,
                      rmse=_rmse((it.get("train") or {}).get("train_errors")), wall=wall,
                      note=note)
        return {}

    def _next_or_stop(self) -> None:
        d = self.manifest.data
        last = d["iterations"][-1]
        if len(d["iterations"]) >= self.cfg.stop.max_iterations:
            d["state"] = "stopped"
            d["message"] = (f"stopped after stop.max_iterations = {self.cfg.stop.max_iterations} "
                            f"iterations without converging")
            return
        d["state"], d["message"] = "running", ""
        d["iterations"].append(self._new_iteration(
            last["index"] + 1, Path(last["next_potential"]), Path(last["next_als"]),
            last.get("restarts_out", last.get("restarts_in", {}))))

    def _maybe_reopen(self) -> None:
        """A run stopped by max_iterations goes on when the limit was raised; a failed one
        (the MD failed repeatedly) is tried again."""
        d = self.manifest.data
        if d["state"] == "failed":
            self.log.note(f"the run had failed ({d['message']}); trying again")
            d["md_failures"] = 0
        elif len(d["iterations"]) >= self.cfg.stop.max_iterations:
            return
        self._next_or_stop()
        if d["state"] == "running":
            self.log.note("going on with iteration " + str(d["iterations"][-1]["index"]))


def mpi_comm():
    """MPI.COMM_WORLD under mpiexec with more than one rank, else None (serial)."""
    from seimd.train.trainer import mpi_world

    return mpi_world()


def run_learning(cfg: LearnConfig, comm=None, allow_changes: bool = False,
                 quiet: bool = False) -> str:
    """Run or resume the loop of ``cfg``; returns the final state (converged, stopped, failed)."""
    return Learner(cfg, comm if comm is not None else mpi_comm(), allow_changes, quiet).run()


def read_manifest(cfg: LearnConfig) -> dict:
    path = cfg.workdir.resolve() / "manifest.json"
    if not path.exists():
        raise LearnError(f"no run in {cfg.workdir} yet (no manifest.json)")
    return json.loads(path.read_text())
