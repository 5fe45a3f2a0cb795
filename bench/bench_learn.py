#!/usr/bin/env python
"""Wall time of one `seimd learn` iteration and its split: MD, harvest, selection, labelling,
training, active set. The shipped default (inputs/learn.toml): the 212-atom XS interface
model at 400 and 500 K (NPT), SevenNet-0 as the oracle, the level-08 Li-P-S-Cl MTP warm
started on its 534 training configurations.

Runs `seimd learn` on a copy of the config with its own workdir and stop.max_iterations =
ITERATIONS (default 1), under `mpiexec -n RANKS` (default 2; OMP_NUM_THREADS=1, one torch
thread per rank), then reads the phase times from the run's manifest.json. The init steps
(copying the training set, the first active set) are reported apart: they happen once per
run. Needs SevenNet-0 (`pip install torch==2.13.0 && pip install ".[oracle]"`).

Usage (from the repository root):
    python bench/bench_learn.py [--ranks 2] [--iterations 1] [--steps 2000]
        [--max-select 10] [--max-iter 200] [--workdir /tmp/bench-learn] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(REPO / "inputs" / "learn.toml"))
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=1)
    ap.add_argument("--steps", type=int, help="override md.steps")
    ap.add_argument("--max-select", type=int, help="override select.max_per_iteration")
    ap.add_argument("--max-iter", type=int, help="override train.max_iter")
    ap.add_argument("--workdir", default="/tmp/bench-learn")
    ap.add_argument("--keep", action="store_true", help="keep (resume) an existing workdir")
    args = ap.parse_args()

    workdir = Path(args.workdir).resolve()
    if workdir.exists() and not args.keep:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    text = Path(args.config).read_text()
    text = re.sub(r'(?m)^workdir = .*$', f'workdir = "{workdir / "run"}"', text)
    text = re.sub(r'(?m)^max_iterations = .*$', f"max_iterations = {args.iterations}", text)
    if args.steps:
        text = re.sub(r'(?m)^steps = .*$', f"steps = {args.steps}", text)
    if args.max_select:
        text = re.sub(r'(?m)^max_per_iteration = .*$', f"max_per_iteration = {args.max_select}",
                      text)
    if args.max_iter:
        text = re.sub(r'(?m)^max_iter = 200.*$', f"max_iter = {args.max_iter}", text)
    config = workdir / "learn.toml"
    config.write_text(text)

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "seimd.cli", "learn", "--quiet", str(config)]
    if args.ranks > 1:
        cmd = [shutil.which("mpiexec") or "mpiexec", "-n", str(args.ranks)] + cmd
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        print(proc.stdout[-4000:], proc.stderr[-4000:])
        return proc.returncode
    d = json.loads((workdir / "run" / "manifest.json").read_text())
    print(f"\n{args.ranks} rank(s), command wall time {wall:.1f} s "
          f"(python start-up and imports included)\n")
    init = d["init"].get("seconds", {})
    print("once per run: " + ", ".join(f"{k} {v:.1f} s" for k, v in init.items()))
    print(f"\n{'iter':>4s} {'md':>7s} {'harvest':>7s} {'select':>7s} {'label':>7s} "
          f"{'train':>7s} {'actset':>7s} {'total':>7s}  cand sel  s/label  L-BFGS  n_train")
    for it in d["iterations"]:
        s = it.get("seconds", {})
        lab = sum(1 for t in d["labels"] if t.startswith(f"{it['index']}:"))
        tr = it.get("train") or {}
        per = s.get("label", 0.0) / lab if lab else float("nan")
        print(f"{it['index']:4d} " + " ".join(f"{s.get(p, 0.0):7.1f}" for p in
                                             ("md", "harvest", "select", "label", "train",
                                              "activeset"))
              + f" {sum(s.values()):7.1f}  {it.get('candidates', 0):4d} {it.get('selected', 0):3d}"
              f"  {per:7.2f}  {tr.get('iterations', 0):6d}  {tr.get('n_train', 0):7d}")
    for it in d["iterations"]:
        for name, r in it["md"].items():
            print(f"  iteration {it['index']} {name}: {r['status']} at step {r['last_step']}, "
                  f"max grade {r['max_grade']:.3g}, {r['saved']} saved, {r['natoms']} atoms, "
                  f"{r['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
