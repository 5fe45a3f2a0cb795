#!/usr/bin/env python
"""Cost of on-the-fly extrapolation grades in `lmp` (pair_style mtp ... active_set).

Ordered Li6PS5Cl replicated 4x4x4 (3328 atoms), the trained level-08 4-species sample
potential, an active set built by MaxVol from 8 rattled 52-atom LPSC cells (n = 269
parameters); NVE at 300 K, 1 fs, neighbor 1.0 bin. For each rank count the script times
plain MD and MD with grades every 1, 10 and 100 steps (OMP_NUM_THREADS=1) and prints
microseconds per atom-step and the ratio to plain MD measured in the same run.
Target (issue 3): grades every 10 steps <= 1.3x plain on 2 ranks. For scale, MLIP-2's
LAMMPS interface costs 58 us/atom-step with grades against 3.5 without (16x, 1 rank).

Usage: python bench/bench_grades.py [--steps 200] [--ranks 1 2] [--every 1 10 100]
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "lipscl-l08-sample.mtp"
ELEMENTS = ["Li", "P", "S", "Cl"]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="timed MD steps per point")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--every", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--potential", default=str(SAMPLE), help="trained 4-species .mtp")
    args = parser.parse_args()

    from seimd.active.als import ALSState, write_als
    from seimd.active.grades import active_set_from_configurations
    from seimd.io.cfg import from_atoms
    from seimd.lmp import write_data
    from seimd.mtp.model import MTP
    from seimd.structures import lpsc_ordered

    mtp = MTP.read(args.potential).with_elements(ELEMENTS)
    rng = np.random.default_rng(0)
    training = []
    for _ in range(8):
        cell = lpsc_ordered()
        cell.rattle(0.1, seed=int(rng.integers(1 << 30)))
        training.append(cell)
    active = active_set_from_configurations(mtp, training)
    work = Path(tempfile.mkdtemp(prefix="seimd-bench-grades-"))
    pot, als, data = work / "pot.mtp", work / "pot.als", work / "lpsc.data"
    mtp.write(pot)
    write_als(als, ALSState.from_active_set(mtp, active, [from_atoms(a, ELEMENTS) for a in training]))
    system = lpsc_ordered(repeat=(4, 4, 4))
    write_data(data, system, ELEMENTS)

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; {len(system)} atoms LPSC, "
          f"level 08, {mtp.n_parameters} parameters; {args.steps} steps")
    lmp, mpiexec = shutil.which("lmp"), shutil.which("mpiexec")
    print(f"{'ranks':>5} {'grades every':>12} {'us/atom-step':>13} {'x plain':>8}")
    for ranks in args.ranks:
        plain = None
        for every in [0] + args.every:
            keywords = f"active_set {als} grade_every {every}" if every else ""
            script = work / f"in.{ranks}.{every}"
            script.write_text(f"""
units metal
atom_style atomic
read_data {data}
pair_style mtp {pot} {keywords}
pair_coeff * * Li P S Cl
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
velocity all create 300 4928459 loop geom
fix 1 all nve
run 20
run {args.steps}
""")
            cmd = [lmp, "-in", str(script), "-log", "none"]
            if ranks > 1:
                cmd = [mpiexec, "-n", str(ranks)] + cmd
            best = np.inf
            for _ in range(2):   # the faster of two runs: the machine is shared
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                loop = re.findall(r"Loop time of (\S+) on \d+ procs for (\d+) steps with (\d+) atoms", out)[-1]
                best = min(best, float(loop[0]) / (int(loop[1]) * int(loop[2])) * 1e6)
            plain = best if every == 0 else plain
            label = "never" if every == 0 else str(every)
            print(f"{ranks:>5} {label:>12} {best:13.3f} {best / plain:8.2f}")


if __name__ == "__main__":
    main()
