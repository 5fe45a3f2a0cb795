"""``seimd learn status CONFIG`` (or ``status PREFIX.learn`` of a production run with in-situ
learning): where a run stands, from its manifest (read-only)."""

from __future__ import annotations

import json
from pathlib import Path

from .config import LearnConfig

__all__ = ["status_text", "workdir_status"]


def _f(value, spec: str, width: int) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-".rjust(width)
    return format(value, spec).rjust(width)


def status_text(cfg: LearnConfig) -> str:
    wd = cfg.workdir.resolve()
    if not (wd / "manifest.json").exists():
        return f"{wd}: no run yet (run `seimd learn {cfg.source}` to start one)"
    return workdir_status(wd)


def workdir_status(wd: Path) -> str:
    """The status of the run directory ``wd`` (``seimd learn``'s workdir or a production
    run's ``PREFIX.learn``; the latter also lists its potential generations and events)."""
    wd = Path(wd).resolve()
    path = wd / "manifest.json"
    if not path.exists():
        return f"{wd}: no manifest.json (not a seimd learn run directory, or nothing ran yet)"
    d = json.loads(path.read_text())
    tr = d["training"]
    lines = [f"run         {wd}",
             f"state       {d['state']}" + (f": {d['message']}" if d.get("message") else ""),
             f"oracle      {d['config']['oracle']['kind']}",
             f"training    {tr['count']} configurations ({tr['initial']} initial, "
             f"{tr['count'] - tr['initial']} labelled by seimd learn), {tr['bytes']} bytes"]
    init = d["init"]
    if init["phase"] != "done":
        lines.append(f"now         init, phase {init['phase']}")
    its = d["iterations"]
    if its:
        cur = its[-1]
        where = f"iteration {cur['index']}, phase {cur['phase']}"
        if cur["phase"] == "label":
            n = cur.get("selected", 0)
            done = sum(1 for t in d["labels"] if t.startswith(f"{cur['index']}:"))
            bad = sum(1 for t in d["failed"] if t.startswith(f"{cur['index']}:"))
            where += f" ({done + bad}/{n}: {done} labelled, {bad} failed)"
        lines.append(f"now         {where}; save {cur['save']:g}, break {cur['break']:g}")
        lines.append(f"potential   {wd / 'current.mtp'} (active set current.als)")
        if (wd / "final.mtp").exists():
            lines.append(f"final       {wd / 'final.mtp'}, {wd / 'final.als'}")
        lines.append("")
        lines.append(f"{'iter':>4s} {'save':>5s} {'break':>5s} {'phase':9s} {'max_grade':>9s} "
                     f"{'cand':>5s} {'sel':>4s} {'lab':>4s} {'fail':>4s} {'E_meV/at':>8s} "
                     f"{'F_eV/A':>7s} {'S_GPa':>6s} {'wall_s':>7s}  md")
        for it in its:
            i = it["index"]
            te = (it.get("train") or {}).get("train_errors") or {}
            lab = sum(1 for t in d["labels"] if t.startswith(f"{i}:"))
            bad = sum(1 for t in d["failed"] if t.startswith(f"{i}:"))
            md = ", ".join(f"{n}:{r['status']}@{r['last_step']}" for n, r in it["md"].items())
            lines.append(
                f"{i:4d} {it['save']:5.2f} {it['break']:5.2f} {it['phase']:9s} "
                f"{_f(it.get('max_grade'), '.3f', 9)} {_f(it.get('candidates'), 'd', 5)} "
                f"{_f(it.get('selected'), 'd', 4)} {lab:4d} {bad:4d} "
                f"{_f(te.get('energy_rmse_meV_per_atom'), '.3f', 8)} "
                f"{_f(te.get('force_rmse_eV_per_A'), '.4f', 7)} "
                f"{_f(te.get('stress_rmse_GPa'), '.3f', 6)} "
                f"{_f(sum(it.get('seconds', {}).values()), '.1f', 7)}  {md}")
    from .production import read_events

    prod = read_events(wd)
    if prod is not None:
        lines += [""] + _production_lines(prod)
    if d["failed"]:
        lines.append("")
        lines.append(f"skipped labels ({len(d['failed'])}):")
        for task, f in d["failed"].items():
            lines.append(f"  {task}: {f['reason']} ({f['attempts']} attempts)")
    return "\n".join(lines)


def _production_lines(prod: dict) -> list[str]:
    """Generations (which stretch of trajectory each produced) and the SEI LEARN events."""
    from .production import event_line

    gens = prod.get("generations", [])
    lines = [f"production run: {len(gens)} potential generation(s), "
             f"{len(prod.get('events', []))} retraining event(s)",
             f"{'gen':>4s} {'from_step':>10s} {'training':>8s}  potential"]
    for g in gens:
        start = "start" if g["from_step"] is None else str(g["from_step"])
        lines.append(f"{g['generation']:4d} {start:>10s} {g['training']:8d}  {g['mtp']}")
    lines += [event_line(e) for e in prod.get("events", [])]
    return lines
