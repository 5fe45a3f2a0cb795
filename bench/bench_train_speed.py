#!/usr/bin/env python
"""Training speed of `seimd.train`: a level-16, 4-species MTP on 1000 configurations of ~50 atoms.

Data: 1000 copies of the 52-atom ordered Li6PS5Cl cell (Li, P, S, Cl = species
0..3), each strained by a random 3 % matrix, rattled by 0.08 A and with 0-4 random
atoms removed (48-52 atoms, varying composition); labels (energy, forces,
virial) from a random level-16 teacher MTP (seimd.mtp.random.random_mtp, fixed
seed). The student starts from the untrained level-16 basis (random radial
coefficients, linear least-squares start) and runs N L-BFGS iterations with
the default loss weights (1, 0.01, 0.001).

Every point runs `python bench/bench_train_speed.py --worker ...` in a subprocess,
under `mpiexec -n P` for P > 1 ranks, OMP_NUM_THREADS=1 (and one BLAS thread),
and reads back its timings:

  setup       neighbour lists of the rank's configurations
  linear      least-squares start (energies of all configurations + forces/virials
              of a subset, one kernel pass per basis function and configuration)
  precond     Gauss-Newton diagonal estimate (9 parameter-gradient passes)
  s/eval      one loss + gradient evaluation (1 energy/force + 3 parameter-gradient
              passes over all configurations)
  s/iter      wall time of the L-BFGS iterations / iterations (line-search extra
              evaluations included)

and extrapolates the time to converge as setup + linear + precond + n x s/iter
for n = 1000 and 3000 iterations. Basis of the extrapolation (measured): the
same L16 problem on 100 configurations reached a force RMSE of 0.01 eV/A
after ~350 iterations and was still improving at 400 (1.8 meV/atom,
0.0095 eV/A); L08 teacher-student fits need ~800 iterations for 0.1 meV/atom,
1e-3 eV/A; MLIP users run 1000-5000 BFGS iterations for L16 fits.
(`--configs 100 --iterations 400 --ranks 1` repeats the 100-configuration run.)

Usage:  python bench/bench_train_speed.py [--configs 1000] [--iterations 20] [--ranks 1 2]
        [--level 16] [--species 4] [--adjoint fd|exact]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SYMBOLS = ["Li", "P", "S", "Cl"]


def make_data(n_configs: int, level: int, species: int, seed: int = 2026):
    """The benchmark's configurations with labels from a random teacher (deterministic)."""
    from seimd.mtp.basis import generate_basis
    from seimd.mtp.calculator import evaluate, load_kernel
    from seimd.mtp.random import random_mtp
    from seimd.structures import lpsc_ordered
    from seimd.train import TrainingConfiguration

    b = generate_basis(level)
    teacher = random_mtp(b["alpha_index_basic"], b["alpha_index_times"],
                         b["alpha_moment_mapping"], b["alpha_moments_count"],
                         b["radial_funcs_count"], species, seed)
    kernel = load_kernel(teacher)
    base = lpsc_ordered()
    lookup = {s: n % species for n, s in enumerate(SYMBOLS)}
    rng = np.random.default_rng(seed)
    data = []
    for n in range(n_configs):
        atoms = base.copy()
        strain = np.eye(3) + rng.normal(0.0, 0.03, (3, 3))
        atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        atoms.positions += rng.normal(0.0, 0.08, atoms.positions.shape)
        drop = rng.choice(len(atoms), size=int(rng.integers(0, 5)), replace=False)
        del atoms[sorted(drop.tolist())]
        sp = np.array([lookup[s] for s in atoms.get_chemical_symbols()])
        out = evaluate(kernel, atoms, sp, threads=1)
        data.append(TrainingConfiguration(sp, atoms.positions, atoms.cell.array, atoms.pbc,
                                          out["site_energies"].sum(), out["forces"],
                                          out["virial"], source=f"bench:{n}"))
    return teacher, data


def worker(args) -> None:
    from seimd.mtp.basis import basis_to_mtp_text, generate_basis
    from seimd.mtp.model import MTP
    from seimd.train import train
    from seimd.train.trainer import mpi_world

    comm = mpi_world()
    rank = 0 if comm is None else comm.Get_rank()
    t0 = time.perf_counter()
    _, data = make_data(args.configs, args.level, args.species)
    t_data = time.perf_counter() - t0
    b = generate_basis(args.level)
    template = MTP.from_text(basis_to_mtp_text(b, species_count=args.species, min_dist=1.5,
                                               max_dist=5.0, radial_basis_size=8))
    lines = []
    _, report = train(template, data, max_iter=args.iterations, seed=0, comm=comm,
                      log=lines.append if rank == 0 else None, tol=0.0, adjoint=args.adjoint)
    if rank == 0:
        out = report.as_dict()
        out["data_seconds"] = t_data
        out["n_atoms"] = int(sum(c.n_atoms for c in data))
        out["log"] = lines
        Path(args.json).write_text(json.dumps(out, default=str))


def run_point(args, ranks: int, workdir: Path) -> dict:
    out = workdir / f"train_{ranks}.json"
    cmd = [sys.executable, __file__, "--worker", "--json", str(out), "--configs",
           str(args.configs), "--iterations", str(args.iterations), "--level", str(args.level),
           "--species", str(args.species), "--adjoint", args.adjoint]
    if ranks > 1:
        mpiexec = shutil.which("mpiexec")
        if mpiexec is None:
            raise SystemExit("mpiexec not found (it comes with the mpich wheel)")
        cmd = [mpiexec, "-n", str(ranks)] + cmd
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    result = json.loads(out.read_text())
    result["wall"] = wall
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", type=int, default=1000)
    p.add_argument("--iterations", type=int, default=20, help="L-BFGS iterations per point")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--level", type=int, default=16)
    p.add_argument("--species", type=int, default=4)
    p.add_argument("--adjoint", choices=("fd", "exact"), default="fd",
                   help="force/stress gradient: central difference (default) or exact")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    import tempfile

    print(f"load average before the runs: {os.getloadavg()}  ({os.cpu_count()} cores)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ranks in args.ranks:
            print(f"--- {ranks} rank(s): level {args.level}, {args.species} species, "
                  f"{args.configs} configurations, {args.iterations} iterations", flush=True)
            r = run_point(args, ranks, Path(tmp))
            results[ranks] = r
            for line in r["log"][:4]:
                print("   ", line)
            for line in r["log"][-4:]:
                print("   ", line)
    print()
    print(f"level {args.level}, {args.species} species, {args.configs} configurations, "
          f"{next(iter(results.values()))['n_atoms']} atoms, "
          f"{next(iter(results.values()))['n_parameters']} parameters")
    hdr = (f"{'ranks':>5} {'setup s':>8} {'linear s':>9} {'precond s':>9} {'s/eval':>8} "
           f"{'s/iter':>8} {'iters':>6} {'evals':>6} {'1000 it (min)':>14} {'3000 it (min)':>14} "
           f"{'speed-up':>8}")
    print(hdr)
    base = None
    for ranks, r in results.items():
        t = r["timings"]
        per_iter = t["optimisation"] / max(r["iterations"], 1)
        fixed = t.get("setup", 0) + t.get("linear_init", 0) + t.get("preconditioner", 0)
        if base is None:
            base = per_iter
        print(f"{ranks:5d} {t.get('setup', 0):8.2f} {t.get('linear_init', 0):9.2f} "
              f"{t.get('preconditioner', 0):9.2f} {r['seconds_per_evaluation']:8.3f} "
              f"{per_iter:8.3f} {r['iterations']:6d} {r['evaluations']:6d} "
              f"{(fixed + 1000 * per_iter) / 60:14.1f} {(fixed + 3000 * per_iter) / 60:14.1f} "
              f"{base / per_iter:8.2f}")
    for ranks, r in results.items():
        e = r["train_errors"]
        print(f"{ranks} rank(s): loss {r['loss_start']:.4e} (start) -> {r['loss_initial']:.4e} "
              f"(after linear start) -> {r['loss_final']:.4e} after {r['iterations']} iterations; "
              f"E {e['energy_rmse_meV_per_atom']:.2f} meV/atom, F {e['force_rmse_eV_per_A']:.4f} "
              f"eV/A, S {e['stress_rmse_GPa']:.4f} GPa")


if __name__ == "__main__":
    main()
