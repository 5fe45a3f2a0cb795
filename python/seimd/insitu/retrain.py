"""``fix seimd/python`` callback of in-situ active learning in ``inputs/sei.in`` (-var learn).

sei.in runs it inside ``run 0`` with ``pair_style zero`` (a restart needs some pair style;
no MTP forces are computed) at two moments, on every MPI rank of the ``lmp`` process:

``mode=start``  once per lmp call, before the first pair_style: opens (fresh start) or
                resumes ``PREFIX.learn/``; an event a killed run left half done is
                finished first.
``mode=event``  after a chunk that a grade above the break threshold stopped, with the
                system read back from the last good restart: harvest, MaxVol selection,
                labels, retraining, new active set (:mod:`seimd.learn.production`).

Either way rank 0 then writes ``report=FILE`` (``PREFIX.learn/next.in``), a LAMMPS include
file that sets what sei.in loads next (``pot_file``, ``als_file``, ``learn_save``,
``learn_break``, ``learn_saved``, ``learn_mode``, ``learn_gen``; ``learn_reload`` 1 and
``src`` when the run must go on from another restart), prints the ``SEI LEARN`` lines,
and ends the run (``quit 2`` for bad set-up, ``quit 3`` when learning cannot go on). The
events also go into the monitor's H5MD file (group ``learn``; :func:`write_h5_learn`).

Arguments (key=value): mode, config (the TOML file), prefix, potential, active_set (sei.in's
own, used when the config names no start.potential), stage (fresh|continue), overwrite
(yes|no), report, h5 and monitor_every (the monitor's file, as sei.in's), and for events step,
time (ps), restart (the last good restart file) and restart_step. The break's grade is read
from the configurations the generation saved (their ``MV_grade`` features), not from thermo:
a break at a chunk's first step leaves no current thermo value to read.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["Retrain", "write_h5_learn"]

EVENT_FIELDS = ("generation", "step", "time_ps", "max_grade", "saved", "selected", "labelled",
                "failed", "rmse_energy_meV_per_atom", "rmse_force_eV_per_A", "wall_s")


class Retrain:
    names = ("generation",)

    def __init__(self, ctx):
        self.kw = dict(ctx.kwargs)
        self.report = Path(self.kw["report"])
        self.result = None

    def __call__(self, ctx):
        if self.result is not None:      # run 0 calls on its first and last step: once is enough
            return self.result
        from seimd.learn.config import ConfigError
        from seimd.learn.loop import LearnError
        from seimd.learn.preflight import SetupError
        from seimd.learn.store import StoreError

        kw = self.kw
        plan, error, code = None, "", 0
        try:
            plan = self._learn(ctx)
        except (ConfigError, SetupError) as exc:
            error, code = str(exc), 2
        except (LearnError, StoreError) as exc:
            error, code = str(exc), 2 if kw.get("mode") == "start" else 3
        if plan is not None and plan.stop:
            code = 3
        if ctx.rank == 0:
            self._write(plan, error, code)
            h5 = self._h5_path()
            if plan is not None and h5 is not None:
                from seimd.learn.production import learn_dir

                write_h5_learn(h5, learn_dir(kw["prefix"]))
        self.result = float(plan.generation) if plan is not None else -1.0
        return self.result

    def _h5_path(self) -> Path | None:
        """The monitor's H5MD file as sei.in names it (h5=none: PREFIX.h5; monitor off: none)."""
        kw = self.kw
        if float(kw.get("monitor_every", "0")) <= 0:
            return None
        h5 = kw.get("h5", "none")
        return Path(f"{kw['prefix']}.h5" if h5.lower() == "none" else h5)

    def _learn(self, ctx):
        from seimd.learn.preflight import check_setup
        from seimd.learn.production import ProductionLearner, load_production_config

        kw = self.kw
        cfg = load_production_config(kw["config"])
        potential, als = kw.get("potential", ""), kw.get("active_set", "none")
        natoms = int(ctx.lmp.get_natoms())
        if kw.get("mode") == "start":
            check_setup(cfg, potential, als)
        learner = ProductionLearner(cfg, kw["prefix"], potential, als, natoms, ctx.comm)
        if kw.get("mode") == "start":
            return learner.start(fresh=kw.get("stage") == "fresh",
                                 overwrite=kw.get("overwrite", "no") == "yes")
        return learner.event(step=int(float(kw["step"])), time_ps=float(kw["time"]),
                             restart=kw["restart"],
                             restart_step=int(float(kw["restart_step"])))

    def _write(self, plan, error: str, code: int) -> None:
        from seimd.learn.store import atomic_write_bytes
        from seimd.sei.preflight import lammps_quoted as q

        lines = []
        if plan is not None:
            lines += [f"variable pot_file string {plan.potential}",
                      f"variable als_file string {plan.active_set}",
                      "variable grades equal 1",
                      f"variable learn_gen equal {plan.generation}",
                      f"variable learn_save equal {plan.save:.10g}",
                      f"variable learn_break equal {plan.brk:.10g}",
                      f"variable learn_saved string {plan.saved_file}",
                      f"variable learn_mode string {plan.save_mode}",
                      "variable learn_ready equal 1",
                      f"variable learn_reload equal {1 if plan.restart else 0}"]
            if plan.restart:
                lines += [f"variable src string {plan.restart}", "variable from_data equal 0",
                          "variable appending equal 1", f"variable last string {plan.restart}"]
            lines += [f"print {q(line)}" for line in plan.lines]
        if error:
            lines.append(f"print {q('SEI ERROR: ' + error)}")
        if code:
            lines.append(f"quit {code}")
        self.report.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.report, ("\n".join(lines) + "\n").encode("utf-8"))


def write_h5_learn(h5: Path, workdir: Path) -> None:
    """Group ``learn`` of the monitor's H5MD file, rewritten from production.json (so a
    killed writer leaves nothing half done): ``generations/{generation,from_step,mtp}``
    (generation k runs from from_step on; -1 = the start) and ``events/{EVENT_FIELDS,
    reason}``, one row per retraining event. No file yet (monitor off): nothing."""
    import h5py
    import numpy as np

    from seimd.learn.production import read_events

    prod = read_events(workdir)
    if not h5.exists() or prod is None:
        return
    with h5py.File(h5, "a") as f:
        if "learn" in f:
            del f["learn"]
        g = f.create_group("learn")
        gens = prod["generations"]
        gg = g.create_group("generations")
        gg["generation"] = np.array([x["generation"] for x in gens], dtype=np.int64)
        gg["from_step"] = np.array([-1 if x["from_step"] is None else x["from_step"]
                                    for x in gens], dtype=np.int64)
        gg["mtp"] = np.array([x["mtp"] for x in gens], dtype=h5py.string_dtype())
        ge = g.create_group("events")
        events = prod["events"]
        for name in EVENT_FIELDS:
            values = [np.nan if e.get(name) is None else e[name] for e in events]
            dtype = np.float64 if name in ("time_ps", "max_grade", "wall_s") or \
                name.startswith("rmse") else np.int64
            ge[name] = np.array(values, dtype=dtype)
        ge["reason"] = np.array([e["reason"] for e in events], dtype=h5py.string_dtype())
        g.attrs["units"] = "step: timesteps; time_ps: ps; rmse: meV/atom, eV/A; wall_s: s"
