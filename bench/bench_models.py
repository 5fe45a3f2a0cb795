#!/usr/bin/env python
"""ns/day of the SEI production run (inputs/sei.in: NPT, 1 fs) for models I and II.

Builds the models with seimd.build, runs inputs/sei.in for --steps steps after a short
warm-up on 1 and 2 MPI ranks (OMP_NUM_THREADS=1) and reads LAMMPS' own
"Performance: X ns/day" line of the timed run. The potential is --potential (default:
the shipped one). The faster of --repeat runs counts: the machine is shared.

Usage: python bench/bench_models.py [--models I II] [--ranks 1 2] [--steps 200] [--potential P]
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHIPPED_POTENTIAL = REPO / "potentials" / "lipscl-l08-7net0-al-s.mtp"   # inputs/sei.in's default


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("?" where there is none)."""
    return next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                 if l.startswith("model name")), "?")


def run_sei(work: Path, ranks: int, **variables) -> str:
    """stdout of `lmp -in inputs/sei.in -var NAME VALUE ...` on `ranks` MPI ranks, in `work`."""
    cmd = [shutil.which("lmp"), "-in", str(REPO / "inputs" / "sei.in"), "-log", "none"]
    for name, value in variables.items():
        cmd += ["-var", name, str(value)]
    if ranks > 1:
        cmd = [shutil.which("mpiexec"), "-n", str(ranks)] + cmd
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["I", "II"])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=200, help="timed steps (1 fs each)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--potential", default=str(SHIPPED_POTENTIAL),
                        help="MTP file (default: the shipped default of inputs/sei.in)")
    args = parser.parse_args()

    from seimd.build import named_model, write_interface

    work = Path(tempfile.mkdtemp(prefix="seimd-bench-models-"))
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; potential {Path(args.potential).name}; "
          f"NPT 1 fs, {args.steps} timed steps")
    print(f"{'model':>5} {'atoms':>6} {'ranks':>5} {'ns/day':>8} {'us/atom-step':>13} {'speed-up':>8}")
    for model in args.models:
        atoms = named_model(model)
        data = work / f"{model}.data"
        write_interface(atoms, data=data, groups=False)
        one = None
        for ranks in args.ranks:
            best = None
            for _ in range(args.repeat):
                out = run_sei(work, ranks, data=data, potential=args.potential, temperature=400,
                              run_ps=args.steps / 1000 + 0.02, restart_every=args.steps,
                              thermo_every=10, dump_every=0, monitor_every=0,
                              prefix=work / f"{model}-{ranks}")
                loops = re.findall(r"Loop time of (\S+) on \d+ procs for (\d+) steps with (\d+) atoms", out)
                perf = re.findall(r"Performance: (\S+) ns/day", out)
                # the timed chunk is the longest run in the log
                k = max(range(len(loops)), key=lambda q: int(loops[q][1]))
                t, n, a = float(loops[k][0]), int(loops[k][1]), int(loops[k][2])
                result = (float(perf[k]), t / (n * a) * 1e6)
                best = result if best is None or result[0] > best[0] else best
            one = best if ranks == args.ranks[0] else one
            print(f"{model:>5} {len(atoms):>6} {ranks:>5} {best[0]:8.3f} {best[1]:13.3f} "
                  f"{best[0] / one[0]:7.2f}x")


if __name__ == "__main__":
    main()
