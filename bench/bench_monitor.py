#!/usr/bin/env python
"""Cost of the in-situ SEI monitor (fix seimd/python + seimd.sei.monitor) in inputs/sei.in.

For each model and rank count, runs inputs/sei.in (NPT, 1 fs, shipped potential) twice
for --steps steps: monitor off, and monitor every --every steps (H5MD file on). The
monitor's cost is the difference of LAMMPS' "Modify" time (where fixes run; the rest of
the step is the same in both runs), per call and as a fraction of the MD loop time of the
run without it; "own" is the monitor's own timing of an analysis on rank 0 (it includes
the reduction over ranks, so it waits for the slowest rank), and "own cost" that time
over the MD time between two analyses. On a loaded machine or an imbalanced system the
Modify difference is noisy (Modify also holds the ranks' waits in fix nh's collectives),
and "own cost" is the figure to trust; "loop ratio"
= loop time with / without the monitor (it includes the wider ghost shell the monitor
asks for, paid on every step). The best of --repeat runs counts (shared
machine). OMP_NUM_THREADS=1 and OVITO_THREAD_COUNT=1 per rank.

Models: the named interface models (I, II, ...; early stage, the electrolyte mostly
pristine), and I-late: the late stage at model-I size, when the monitor works hardest
(every anion reduced and crystalline, so every anion goes through the fcc template
match): model I's 2016 anions as the 5Li2S.Li3P.LiCl antifluorite (8 x 7 x 9 cubic
cells, a = 5.6 A, 4032 Li) under a bcc Li(100) slab of 2002 atoms (13 x 11 x 7 cells,
lateral strain +0.3 / +3.7 %), 8050 atoms. --matcher ovito-ptm measures OVITO's PTM
instead of seimd's fcc template matcher.

Usage: python bench/bench_monitor.py [--models I II I-late] [--ranks 1 2] [--steps 400]
       [--every 100] [--matcher template|ovito-ptm]
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OVITO_THREAD_COUNT"] = "1"

import argparse  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from bench_models import SHIPPED_POTENTIAL, cpu_model, run_sei  # noqa: E402  (bench/ is on sys.path when run as a script)



def late_stage_model():
    """Model-I-sized late stage: crystalline antifluorite product under a Li slab."""
    import numpy as np
    from ase.build import bulk

    from seimd.sei.reference_structures import reduced_antifluorite

    product = reduced_antifluorite((8, 7, 9), sigma=0.05, seed=0)
    lx, ly, lz = product.cell.lengths()
    metal = bulk("Li", "bcc", a=3.437, cubic=True).repeat((13, 11, 7))
    metal.set_cell([lx, ly, metal.cell[2, 2]], scale_atoms=True)
    gap = 2.2
    metal.positions[:, 2] += lz + gap
    product.extend(metal)
    product.set_cell([lx, ly, lz + metal.cell[2, 2] + 2 * gap])
    product.pbc = True
    order = np.argsort([{"Li": 0, "P": 1, "S": 2, "Cl": 3}[s] for s in product.get_chemical_symbols()],
                       kind="stable")
    return product[order]


def run(data: Path, work: Path, ranks: int, steps: int, every: int, potential: str,
        matcher: str, profile_bins: int = 0) -> dict:
    extra = {"monitor_args": f"profile_bins={profile_bins}"} if profile_bins else {}
    out = run_sei(work, ranks, data=data, potential=potential, temperature=400,
                  run_ps=steps / 1000, restart_every=steps, thermo_every=every or 100,
                  dump_every=0, monitor_every=every,
                  prefix=work / f"{data.stem}-{ranks}-{every}-{profile_bins}",
                  fcc_matcher=matcher, **extra)
    # every run of the lmp call (the setup check's run 0 included): summed
    loops = re.findall(r"Loop time of (\S+) on \d+ procs for (\d+) steps with (\d+) atoms", out)
    modify = sum(float(m) for m in re.findall(r"^Modify\s*\|\s*\S+\s*\|\s*(\S+)", out, re.M))
    calls = len(re.findall(r"^SEI \d+ ", out, re.M))
    own = re.search(r"then (\S+) ms each", out)    # the monitor's own timing, rank 0
    last = re.findall(r"^SEI \d+ \S+ (\S+) (\S+) ", out, re.M)
    return {"loop": sum(float(x[0]) for x in loops), "steps": sum(int(x[1]) for x in loops),
            "atoms": int(loops[-1][2]), "modify": modify, "calls": calls,
            "own_ms": float(own.group(1)) if own else float("nan"),
            "reduced": float(last[-1][0]) if last else float("nan"),
            "crystalline": float(last[-1][1]) if last else float("nan")}


def best(results: list[dict]) -> dict:
    return min(results, key=lambda r: r["loop"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["I", "II", "I-late"],
                        help="named models and/or I-late (see above)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=400, help="timed steps (1 fs each)")
    parser.add_argument("--every", type=int, default=100, help="steps between analyses")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--potential", default=str(SHIPPED_POTENTIAL),
                        help="MTP file (default: the shipped default of inputs/sei.in)")
    parser.add_argument("--matcher", default="template", choices=["template", "ovito-ptm"],
                        help="fcc matcher of the monitor (SEIParams.fcc_matcher)")
    parser.add_argument("--profile-bins", type=int, default=0, metavar="N",
                        help="also time the monitor with profile_bins=N (phase profiles and "
                             "thickness; rows marked +prof)")
    args = parser.parse_args()

    from seimd.build import named_model, write_interface
    from seimd.lmp import write_data

    work = Path(tempfile.mkdtemp(prefix="seimd-bench-monitor-"))
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; potential {Path(args.potential).name}; "
          f"NPT 1 fs, {args.steps} steps, monitor every {args.every} steps, fcc matcher "
          f"{args.matcher}")
    print(f"{'model':>6} {'atoms':>6} {'ranks':>5} {'MD s/100 steps':>14} {'calls':>5} "
          f"{'Modify ms/call':>14} {'cost':>7} {'own ms/call':>11} {'own cost':>8} "
          f"{'loop ratio':>10} {'reduced%':>8} {'cryst.%':>7}")
    for model in args.models:
        data = work / f"{model}.data"
        if model.upper() == "I-LATE":
            write_data(data, late_stage_model(), ["Li", "P", "S", "Cl"])
        else:
            write_interface(named_model(model), data=data, groups=False)
        for ranks in args.ranks:
            off = best([run(data, work, ranks, args.steps, 0, args.potential, args.matcher)
                        for _ in range(args.repeat)])
            for bins in [0] + ([args.profile_bins] if args.profile_bins else []):
                on = best([run(data, work, ranks, args.steps, args.every, args.potential,
                               args.matcher, bins) for _ in range(args.repeat)])
                in_loop = args.steps // args.every  # the call at setup (step 0) is outside the loop
                per_call = (on["modify"] - off["modify"]) / in_loop
                md_per_interval = off["loop"] / off["steps"] * args.every
                name = model + ("+prof" if bins else "")
                print(f"{name:>6} {off['atoms']:>6} {ranks:>5} {off['loop'] / off['steps'] * 100:14.3f} "
                      f"{on['calls']:>5} {1e3 * per_call:14.1f} {100 * per_call / md_per_interval:6.2f}% "
                      f"{on['own_ms']:11.1f} {0.1 * on['own_ms'] / md_per_interval:7.2f}% "
                      f"{on['loop'] / off['loop']:10.3f} {on['reduced']:8.2f} {on['crystalline']:7.2f}")


if __name__ == "__main__":
    main()
