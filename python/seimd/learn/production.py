"""In-situ active learning inside a production run (``lmp -in inputs/sei.in -var learn FILE``).

The same state machine as ``seimd learn`` (:class:`seimd.learn.loop.Learner`: manifest,
training set, harvest, MaxVol selection, labelling, training, active set, resume), with one
difference: the MD of an iteration is not an exploration input run by the loop, but the
production trajectory itself. Iteration k of the manifest is *potential generation k*:

* its ``md`` phase is the stretch of production MD run with generation k; it ends when a
  grade exceeds the break threshold (``pair_style mtp ... grade_break``), and sei.in then
  calls :meth:`ProductionLearner.event` through ``fix seimd/python`` (all MPI ranks);
* harvest -> select -> label -> train -> activeset run as in ``seimd learn``, on the
  configurations that generation k saved above the save threshold;
* the new potential becomes generation k + 1: ``PREFIX.learn/gen-NNN.mtp/.als`` and its
  training set ``gen-NNN.cfg``; sei.in reloads it and goes on from the last restart file
  written below the break threshold (so no trajectory of an extrapolating potential stays).

The run directory is ``PREFIX.learn/`` (the layout of :mod:`seimd.learn.loop`, plus
``gen-NNN.*``, ``production.json`` (generations and events) and ``next.in``, the LAMMPS
include file that tells sei.in what to load; see :mod:`seimd.insitu.retrain`).

Kill ``lmp`` anywhere: the next ``lmp -in sei.in -var learn FILE -var restart R`` first
finishes an event that was in progress (:meth:`ProductionLearner.start`; labels already
recorded are not computed again) and continues from that event's restart file.
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .config import LearnConfig
from .harvest import harvest_mode
from .loop import Learner, LearnError, _rmse
from .store import atomic_copy, atomic_write_bytes

__all__ = ["ProductionLearner", "Plan", "learn_dir", "production_config"]

RUN_NAME = "production"


def learn_dir(prefix: str) -> Path:
    """The run directory of a production run with output prefix ``prefix``."""
    return Path(f"{prefix}.learn")


def production_config(cfg: LearnConfig, prefix: str) -> LearnConfig:
    """``cfg`` with its run directory set to ``PREFIX.learn`` (run.workdir is ignored)."""
    values = json.loads(json.dumps(cfg.values))
    values["run"]["workdir"] = str(learn_dir(prefix).resolve())
    return LearnConfig(cfg.source, values)


@dataclass
class Plan:
    """What the production run loads next (every rank gets the same)."""

    generation: int
    potential: str
    active_set: str
    save: float
    brk: float
    saved_file: str
    """where pair_style mtp appends the configurations graded above ``save``"""
    save_mode: str
    restart: str = ""
    """the restart file to go on from ("" = the state just read)"""
    stop: str = ""
    """not empty: the run cannot go on (why); sei.in ends with exit code 3"""
    lines: list[str] = field(default_factory=list)
    """SEI LEARN lines for the LAMMPS log"""


def event_line(e: dict) -> str:
    """``SEI LEARN gen step max_grade saved selected labelled failed train_rmse(E,F) wall_s
    reason`` for one event record of production.json."""
    def num(value, spec):
        return "-" if value is None or value != value else format(value, spec)

    return (f"SEI LEARN gen {e['generation']} step {e['step']} max_grade "
            f"{num(e['max_grade'], '.4g')} saved {e['saved']} selected {e['selected']} "
            f"labelled {e['labelled']} failed {e['failed']} train_rmse "
            f"{num(e['rmse_energy_meV_per_atom'], '.3f')} meV/atom "
            f"{num(e['rmse_force_eV_per_A'], '.4f')} eV/A wall_s {e['wall_s']:.1f} "
            f"reason {e['reason']}")


class ProductionLearner(Learner):
    """The in-situ learner of one production run (one MPI rank of it)."""

    def __init__(self, cfg: LearnConfig, prefix: str, potential: str, active_set: str,
                 natoms: int, comm=None, quiet: bool = False) -> None:
        super().__init__(production_config(cfg, prefix), comm, quiet=quiet)
        # start.potential empty: the production input's own potential and active set
        if not self.cfg.start.potential:
            self.start_potential = potential
            self.start_active_set = "" if active_set in ("", "none") else active_set
        self.natoms = natoms
        self.mode = harvest_mode(self.cfg.md.harvest, natoms, self.cfg.oracle.max_atoms)

    # ------------------------------------------------------------ entry points

    def start(self, fresh: bool, overwrite: bool = False) -> Plan:
        """Open or resume PREFIX.learn at the start of an lmp call: the initial
        generation on a fresh start; on a continuation, finish an event a killed run left
        half done. Collective."""
        if fresh:
            self.on_root(self._clear_for_fresh_start, overwrite)
        with self._opened():
            while self.data["state"] == "running" and self.data["init"]["phase"] != "done":
                self.init_step()
            if self.root and self.data["state"] == "running":
                its = self.manifest.data["iterations"]
                previous = its[-2].get("event") if len(its) > 1 else None
                self._record_generation(its[-1]["index"], its[-1], previous)
            self.commit()
            finished_before = len(self.data.get("production", {}).get("events", []))
            resumed = self.data["iterations"][-1]["phase"] != "md"
            if resumed and self.data["state"] == "running":
                self._run_event()
            return self._plan(finished_before, resume=resumed)

    def event(self, step: int, time_ps: float, restart: str, restart_step: int) -> Plan:
        """A grade passed the break threshold at ``step``: learn from what generation k
        saved, make generation k + 1. Collective."""
        with self._opened():
            finished_before = len(self.data.get("production", {}).get("events", []))
            it = self.data["iterations"][-1]
            saved, max_grade = self.on_root(_saved_stats, Path(it["folder"]) / "md" /
                                            f"{RUN_NAME}.extrapolative.cfg")
            cap = self._cap_reached()
            if cap or self.data["state"] != "running" or it["phase"] != "md":
                return self._plan(finished_before, resume=False, step=step,
                                  max_grade=max_grade, stop=cap)
            if self.root:                 # recorded before learning: a resumed event finds it
                self.manifest.data["iterations"][-1]["event"] = {
                    "step": step, "time_ps": time_ps, "max_grade": max_grade, "saved": saved,
                    "restart": restart, "restart_step": restart_step}
            self.commit()
            self._run_event()
            return self._plan(finished_before, resume=False)

    # ------------------------------------------------------------ internals

    @contextmanager
    def _opened(self):
        """The run directory opened (lock, log, manifest) for one call from sei.in."""
        try:
            self.open()
            yield self
        finally:
            self.close()

    def _clear_for_fresh_start(self, overwrite: bool) -> None:
        if (self.wd / "manifest.json").exists():
            if not overwrite:
                raise LearnError(f"{self.wd} holds the in-situ learning of an earlier run: "
                                 f"continue that run with -var restart FILE, give a new -var "
                                 f"prefix, or -var overwrite yes to start over")
            shutil.rmtree(self.wd)

    def _run_event(self) -> None:
        """Phases of the current iteration until the next generation's MD (or a stop)."""
        target = self.data["iterations"][-1]["index"] + 1
        while self.data["state"] == "running" and not (
                self.data["iterations"][-1]["index"] == target and
                self.data["iterations"][-1]["phase"] == "md"):
            self.iteration_step()

    def _finish_iteration(self, it: dict, folder: Path) -> dict:
        """As seimd learn's, plus the event record and the next generation's files, in the
        same manifest commit (rank 0)."""
        out = super()._finish_iteration(it, folder)
        self._record_event(self.manifest.data["iterations"][it["index"]])
        return out

    def _next_or_stop(self) -> None:
        """Always the next generation: the cap on retrainings (stop.max_iterations) is
        applied at the next break (:meth:`event`), so the last potential trained is run."""
        d = self.manifest.data
        last = d["iterations"][-1]
        d["state"], d["message"] = "running", ""
        d["iterations"].append(self._new_iteration(
            last["index"] + 1, Path(last["next_potential"]), Path(last["next_als"]),
            last.get("restarts_out", last.get("restarts_in", {}))))

    def _cap_reached(self) -> str:
        cap = self.cfg.stop.max_iterations
        if self.data["iterations"][-1]["index"] < cap:
            return ""
        return (f"generation {self.data['iterations'][-1]['index']} broke, but the cap on "
                f"retrainings is reached (stop.max_iterations = {cap}): raise it in "
                f"{self.cfg.source} and run the same command with -var restart (the newest "
                f"restart file) to go on learning")

    def _runs_table(self) -> dict:
        return {RUN_NAME: {"index": 0, "data": "", "natoms": self.natoms,
                           "vars": {"species": " ".join(self.species)}}}

    def _md(self, it: dict, folder: Path) -> dict:
        """The production MD of this generation ended at a break: record it."""
        ev = it.get("event")
        if ev is None:
            raise LearnError(f"iteration {it['index']}: phase md without a recorded break "
                             f"(the production run records it before learning)")
        saved = ev.get("saved", 0)
        result = {"name": RUN_NAME, "status": "break", "start": it["restarts_in"].get(
                      RUN_NAME, ""), "first_step": -1, "last_step": ev["step"],
                  "max_grade": ev["max_grade"], "saved": saved, "restart": ev["restart"],
                  "natoms": self.natoms, "error": "", "seconds": 0.0, "mode": self.mode}
        if self.root:
            rec = self.manifest.data["iterations"][it["index"]]
            rec["md"] = {RUN_NAME: result}
            rec["restarts_out"] = {RUN_NAME: ev["restart"]}
            rec["max_grade"] = ev["max_grade"]
            rec["md_failed"] = False
        return {"max_grade": ev["max_grade"], "note": f"production MD broke at step "
                f"{ev['step']} (grade {ev['max_grade']:.4g} > {it['break']:g}), {saved} saved"}

    def _record_generation(self, gen: int, it: dict, event: dict | None) -> None:
        """gen-NNN.mtp/.als/.cfg for the potential iteration ``it`` explores with (rank 0)."""
        prod = self.manifest.data.setdefault("production", {"generations": [], "events": []})
        if any(g["generation"] == gen for g in prod["generations"]):
            return
        folder = Path(it["folder"])
        stem = self.wd / f"gen-{gen:03d}"
        atomic_copy(folder / "potential.mtp", stem.with_suffix(".mtp"))
        atomic_copy(folder / "potential.als", stem.with_suffix(".als"))
        with open(self.training.path, "rb") as f:       # its training set, as it was
            atomic_write_bytes(stem.with_suffix(".cfg"),
                               f.read(self.manifest.data["training"]["bytes"]))
        (folder / "md").mkdir(parents=True, exist_ok=True)
        prod["generations"].append({
            "generation": gen, "iteration": it["index"], "mtp": str(stem.with_suffix(".mtp")),
            "als": str(stem.with_suffix(".als")), "training": self.manifest.data["training"][
                "count"], "from_step": event["restart_step"] if event else None,
            "restart": event["restart"] if event else ""})
        self._save_production_json()

    def _record_event(self, it: dict) -> None:
        """After iteration ``it`` is done: its event record, and the next generation (rank 0)."""
        d = self.manifest.data
        prod = d.setdefault("production", {"generations": [], "events": []})
        ev = it.get("event") or {}
        retrained = it.get("train") is not None and Path(it["folder"], "trained.mtp").exists()
        rmse = _rmse((it.get("train") or {}).get("train_errors"))
        gen_before = it["index"]
        reason = (f"grade {ev.get('max_grade', float('nan')):.4g} > break {it['break']:g}")
        stop = ""
        if not retrained:
            stop = (f"generation {gen_before} broke at step {ev.get('step')} but nothing was "
                    f"learnt ({it.get('selected', 0)} selected, "
                    f"{self._count_labels(gen_before)} labelled, "
                    f"{self._count_failed(gen_before)} failed): the same potential would "
                    f"break again; see {self.wd / 'learn.log'}")
        elif d["state"] != "running":
            stop = d.get("message", "")
        record = {"generation": gen_before + 1,
                  "from_generation": gen_before, "step": ev.get("step"),
                  "time_ps": ev.get("time_ps"), "max_grade": ev.get("max_grade"),
                  "saved": sum(r.get("saved", 0) for r in it["md"].values()),
                  "selected": it.get("selected", 0),
                  "labelled": self._count_labels(gen_before),
                  "failed": self._count_failed(gen_before),
                  "rmse_energy_meV_per_atom": rmse.get("energy"),
                  "rmse_force_eV_per_A": rmse.get("force"),
                  "wall_s": sum(v for k, v in it["seconds"].items() if k != "md"),
                  "seconds": {k: v for k, v in it["seconds"].items() if k != "md"},
                  "restart": ev.get("restart", ""), "restart_step": ev.get("restart_step"),
                  "reason": reason, "stop": stop}
        prod["events"].append(record)
        if d["state"] == "running":
            self._record_generation(d["iterations"][-1]["index"], d["iterations"][-1], ev)
        self._save_production_json()

    def _save_production_json(self) -> None:
        prod = self.manifest.data.get("production", {})
        atomic_write_bytes(self.wd / "production.json",
                           (json.dumps(prod, indent=1) + "\n").encode("utf-8"))

    def _plan(self, events_before: int, resume: bool, step=None, max_grade=None,
              stop: str = "") -> Plan:
        d = self.data
        prod = d.get("production", {"generations": [], "events": []})
        events = prod["events"][events_before:]
        it = d["iterations"][-1]
        gens = prod["generations"]
        current = gens[-1]
        stop = stop or next((e["stop"] for e in events if e["stop"]), "")
        if not stop and (d["state"] != "running" or it["phase"] != "md"):
            stop = (d.get("message") or f"the in-situ learning is {d['state']}") + (
                f"; generation {current['generation']} broke again at step {step} (grade "
                f"{max_grade:.4g})" if step is not None else "")
        folder = Path(it["folder"])
        plan = Plan(generation=current["generation"], potential=current["mtp"],
                    active_set=current["als"], save=it["save"], brk=it["break"],
                    saved_file=str(folder / "md" / f"{RUN_NAME}.extrapolative.cfg"),
                    save_mode=self.mode, stop=stop)
        if resume and events:
            plan.restart = events[-1]["restart"]
        plan.lines = [event_line(e) for e in events]
        if not events and not stop:
            plan.lines.append(
                f"SEI LEARN gen {plan.generation} potential {plan.potential} active_set "
                f"{plan.active_set}: save {plan.save:g}, break {plan.brk:g}, "
                f"{d['training']['count']} training configurations, oracle "
                f"{self.cfg.oracle.kind}, harvest {self.mode}")
        if stop:
            plan.lines.append(f"SEI LEARN stop: {stop}")
        return plan


def _saved_stats(path: Path) -> tuple[int, float]:
    """Configurations in a grade_save file and their largest ``MV_grade`` (nan: none)."""
    from seimd.io.cfg import read_cfg

    configs = read_cfg(path) if path.exists() else []
    grades = [float(c.feature("MV_grade")) for c in configs if c.feature("MV_grade")]
    return len(configs), max(grades, default=float("nan"))


def load_production_config(path: str) -> LearnConfig:
    from .config import load_config

    return load_config(path, production=True)


def read_events(workdir: Path) -> dict | None:
    """production.json of a run directory (``PREFIX.learn``): its generations and events;
    None where there is none (not a production run, or nothing recorded yet)."""
    path = Path(workdir) / "production.json"
    return json.loads(path.read_text()) if path.exists() else None
