#!/usr/bin/env python
"""PBE (GPAW) labels for the small-cell families, put on the 7net-0 energy scale.

SevenNet-0 gets the crystals right against PBE but puts Li-rich (overlithiated) glass about
120 meV/atom too low (potentials/README.md, energetics table): the energy that decides
whether the anode dissolves into the product. Those structures are relabelled here with the
same PBE settings as energetics.py (common.teacher("pbe")), on cells small enough for one
core (generate.py's small-* tasks, 42-45 atoms, ~5 min per configuration).

Usage (repository root, venv with gpaw and gpaw-data):

    python potentials/make_lipscl_sei/pbe_labels.py run [--only small-glass6,...] [--stride K/M]
    python potentials/make_lipscl_sei/pbe_labels.py shift      # the energy offset and its residual
    python potentials/make_lipscl_sei/pbe_labels.py finish     # data-pbe/<task>.cfg.gz
    python potentials/make_lipscl_sei/pbe_labels.py table [--mtp X.mtp]   # Li-rich vs crystal + Li

run appends one JSON line per configuration to data-pbe/<task>.jsonl (energy, forces, stress
as computed by GPAW), so a killed run redoes at most the configuration it was in; --stride
K/M takes every M-th configuration from the K-th, for M processes side by side.

finish writes data-pbe/<task>.cfg.gz with the configurations of a task labelled so far
(relaxed structures are labelled first; a task's unlabelled ones are left out rather than
mixed in with 7net-0 labels), with E' = E_PBE - sum_s n_s mu_s: per-species offsets mu_s fitted by least squares to
E_PBE - E_7net0 on the equation-of-state crystals of the product family in energetics.jsonl
(bcc Li, Li2S, LiCl, Li3P; 28 structures, 4 compositions for 4 offsets). LPSC is left out on
purpose: 7net-0's reaction energy is 31 meV/atom off PBE's, no per-species offset can absorb
that, and the small cells are all of the product's composition, so what must agree is the
product's energy scale (the LPSC residual is printed). The offset is the difference of the two codes' reference energies (PAW data
sets); without it the PBE and 7net-0 configurations could not sit in one training set. The
residual of that fit (printed, and kept in data-pbe/shift.json) is how far the two teachers
disagree on the crystals' formation energies, i.e. the mixing error. generate.py --merge
takes the PBE version of a task where one exists.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

HERE = common.HERE
DATA = HERE / "data"
OUT = HERE / "data-pbe"
TASKS = ("small-octa1", "small-glass6", "small-ss0", "small-glass0", "small-octa2",
         "small-glass3", "small-octa3")


def configs(task: str):
    from seimd.io.cfg import read_cfg, to_atoms
    return [to_atoms(c, common.SPECIES) for c in read_cfg(gzip.open(DATA / f"{task}.cfg.gz", "rt").read())]


def done(task: str) -> dict[int, dict]:
    p = OUT / f"{task}.jsonl"
    if not p.exists():
        return {}
    return {r["index"]: r for r in map(json.loads, p.read_text().splitlines()) if r}


def run(args):
    OUT.mkdir(exist_ok=True)
    (HERE / "gpaw-logs").mkdir(exist_ok=True)
    names = args.only.split(",") if args.only else list(TASKS)
    k0, m = map(int, args.stride.split("/"))
    todo = [(t, i, a) for t in names for i, a in enumerate(configs(t)) if i not in done(t)]
    # relaxed structures first: they carry the energetics (glass - crystal, Li-rich glass);
    # the MD frames and quench snapshots after them
    todo.sort(key=lambda x: "relaxed" not in dict(x[2].info["cfg_features"]).get("tag", ""))
    todo = todo[k0::m]
    t_start = time.time()
    for k, (task, i, a) in enumerate(todo):
        t0 = time.time()
        txt = str(HERE / "gpaw-logs" / f"label_{task}_{i}.txt")
        a.calc = common.teacher("pbe", txt=txt)
        try:
            e = float(a.get_potential_energy())
            f, s = a.get_forces(), a.get_stress()
        except Exception as err:                # SCF failure: record it, go on
            print(f"[{k + 1}/{len(todo)}] {task}#{i}: FAILED {type(err).__name__}: {err}", flush=True)
            continue
        rec = dict(task=task, index=i, n_atoms=len(a), formula=a.get_chemical_formula(),
                   energy=e, forces=f.tolist(), stress=s.tolist(), wall_s=time.time() - t0)
        with (OUT / f"{task}.jsonl").open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        left = (time.time() - t_start) / (k + 1) * (len(todo) - k - 1)
        print(f"[{k + 1}/{len(todo)}] {task}#{i} ({len(a)} atoms) E/N {e / len(a):.4f} eV  "
              f"{rec['wall_s']:.0f} s  (ETA {left / 60:.0f} min)", flush=True)


def fit_shift():
    """mu_s (eV) with E_PBE - E_7net0 ~ sum_s n_s mu_s on the product-family EOS crystals;
    rms and max residual (meV/atom) there, and the mean residual on LPSC."""
    from ase.formula import Formula
    recs: dict[str, dict] = {}
    for r in map(json.loads, (HERE / "energetics.jsonl").read_text().splitlines()):
        if r["group"] == "eos":
            recs.setdefault(r["name"], {})[r["teacher"]] = r
    rows, rhs, n_at, lpsc = [], [], [], []
    for name, both in recs.items():
        if "pbe" in both and "7net0" in both:
            count = Formula(both["pbe"]["formula"]).count()
            if name.startswith("eos:LPSC"):
                lpsc.append((count, both["pbe"]["energy"] - both["7net0"]["energy"],
                             both["pbe"]["n_atoms"]))
                continue
            rows.append([count.get(s, 0) for s in common.SPECIES])
            rhs.append(both["pbe"]["energy"] - both["7net0"]["energy"])
            n_at.append(both["pbe"]["n_atoms"])
    A, b, n_at = np.array(rows, float), np.array(rhs), np.array(n_at)
    w = 1.0 / n_at                               # per-atom residuals count equally
    mu = np.linalg.lstsq(A * w[:, None], b * w, rcond=None)[0]
    resid = (b - A @ mu) / n_at * 1e3
    r_lpsc = [1e3 * (d - sum(c.get(s, 0) * m for s, m in zip(common.SPECIES, mu))) / n
              for c, d, n in lpsc]
    return dict(zip(common.SPECIES, mu.tolist())), float(np.sqrt(np.mean(resid ** 2))), \
        float(np.abs(resid).max()), len(b), float(np.mean(r_lpsc)) if r_lpsc else float("nan")


def shift(args):
    mu, rms, mx, n, r_lpsc = fit_shift()
    print("mu_s = E_PBE - E_7net0 per atom of species s (eV): "
          + ", ".join(f"{s} {v:.4f}" for s, v in mu.items()))
    print(f"residual on {n} EOS crystals (Li, Li2S, LiCl, Li3P): rms {rms:.1f} meV/atom, "
          f"max {mx:.1f} meV/atom; on LPSC (not fitted): {r_lpsc:+.1f} meV/atom")
    return mu, rms, mx, n, r_lpsc


def finish(args):
    from ase.calculators.singlepoint import SinglePointCalculator
    from seimd.io.cfg import format_cfg, from_atoms
    mu, rms, mx, n, r_lpsc = shift(args)
    OUT.mkdir(exist_ok=True)
    (OUT / "shift.json").write_text(json.dumps(dict(mu_eV=mu, rms_meV_atom=rms, max_meV_atom=mx,
                                                    n_structures=n, lpsc_residual_meV_atom=r_lpsc),
                                               indent=1) + "\n")
    for task in TASKS:
        frames, labels = configs(task), done(task)
        if not labels:
            print(f"  {task}: nothing labelled yet")
            continue
        tmp = OUT / f".{task}.cfg.gz.part"
        with gzip.open(tmp, "wt") as fh:
            for i, a in enumerate(frames):
                if i not in labels:
                    continue
                r = labels[i]
                e = r["energy"] - sum(mu[s] for s in a.get_chemical_symbols())
                a.calc = SinglePointCalculator(a, energy=e, forces=np.array(r["forces"]),
                                               stress=np.array(r["stress"]))
                a.info["cfg_features"] = list(a.info.get("cfg_features", [])) + [("teacher", "pbe")]
                fh.write(format_cfg(from_atoms(a, common.SPECIES), full_precision=True))
        tmp.rename(OUT / f"{task}.cfg.gz")
        print(f"  {task}: {len(labels)}/{len(frames)} configurations -> data-pbe/{task}.cfg.gz")


def table(args):
    """The relaxed small cells against the relaxed crystal (+ bcc Li) in PBE, 7net-0 and each
    --mtp, meV/atom of the larger cell. mu_Li is the minimum of each teacher's bcc Li E(V) in
    energetics.jsonl (an MTP needs `energetics.py run --teacher mtp:PATH` first). 7net-0's
    energies are the labels of data/small-*.cfg.gz, PBE's those of data-pbe/*.jsonl."""
    rows = [json.loads(line) for line in (HERE / "energetics.jsonl").read_text().splitlines() if line]
    mu = {}
    for r in rows:
        if r["name"].startswith("eos:Li-bcc"):
            mu[r["teacher"]] = min(mu.get(r["teacher"], np.inf), r["energy"] / r["n_atoms"])
    teachers = ["pbe", "7net0"] + [f"mtp:{p}" for p in args.mtp]
    for t in teachers[2:]:
        if t not in mu:
            raise SystemExit(f"{t}: no bcc Li E(V) in energetics.jsonl; run energetics.py run --teacher {t}")

    def relaxed(task):
        frames = configs(task)
        i = next(k for k, a in enumerate(frames)
                 if dict(a.info["cfg_features"]).get("tag", "").endswith(":relaxed"))
        a = frames[i]
        e = {"7net0": a.get_potential_energy()}
        lab = done(task).get(i)
        e["pbe"] = lab["energy"] if lab else np.nan
        for t in teachers[2:]:
            b = a.copy()
            b.calc = common.teacher(t)
            e[t] = b.get_potential_energy()
        return len(a), e

    _, e0 = relaxed("small-ss0")
    print(f"{'small cell':>26} {'N':>3}" + "".join(f" {Path(t).stem[:24]:>24}" for t in teachers)
          + "   (meV/atom)")
    out = []
    for task, k in (("small-glass0", 0), ("small-glass3", 3), ("small-glass6", 6),
                    ("small-octa1", 1), ("small-octa2", 2), ("small-octa3", 3)):
        n, e = relaxed(task)
        d = {t: (e[t] - e0[t] - k * mu[t]) / n * 1e3 for t in teachers}
        print(f"{task[6:] + f' - (crystal + {k} Li)':>26} {n:3d}" + "".join(f" {d[t]:24.1f}" for t in teachers))
        out.append(dict(task=task, extra_li=k, n_atoms=n, meV_atom=d))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["run", "shift", "finish", "table"])
    ap.add_argument("--mtp", action="append", default=[],
                    help="table: also this .mtp (repeatable)")
    ap.add_argument("--only", default="", help="comma-separated tasks (default: all small-*)")
    ap.add_argument("--stride", default="0/1", help="K/M: every M-th configuration from the K-th")
    args = ap.parse_args()
    {"run": run, "shift": shift, "finish": finish, "table": table}[args.what](args)


if __name__ == "__main__":
    main()
