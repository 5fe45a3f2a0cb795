#!/usr/bin/env python
"""One round of MD-driven sampling: run MD with the current MTP, label the frames with 7net-0.

    python potentials/make_lipscl_l08/active.py --mtp potentials/lipscl-l08-7net0.mtp --round 1

Runs ASE Langevin MD (1 fs) with the MTP on the interface cells (`seimd build XS`,
212 atoms, and the smaller 88 / 106-atom cuts of generate.py) and a reduced,
Li-stuffed LPSC cell, keeps every `--every`-th frame (stopping a run once the
MTP trajectory leaves sane ground: T > 3x target or a pair closer than 1.5 A;
that frame is not labelled),
labels the kept frames with 7net-0 and writes part-AL<round>.cfg. Before the
frames join the training set it prints the MTP's errors on them: those are
true out-of-sample errors on the configurations the MTP itself visits.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate as g  # noqa: E402

GPA = 160.21766208


def xs_cell():
    from ase.io import read
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["seimd", "build", "XS", "-o", f"{tmp}/x.data", "--xyz", f"{tmp}/x.xyz",
                        "--no-groups"], check=True, capture_output=True)
        atoms = read(f"{tmp}/x.xyz")
    for key in list(atoms.arrays):
        if key not in ("numbers", "positions"):
            del atoms.arrays[key]
    atoms.info = {}
    return atoms


def mtp_md(atoms, mtp, temp, steps, every, rng):
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from seimd.mtp.calculator import MTPCalculator
    a = atoms.copy()
    a.calc = MTPCalculator(mtp, type_map=g.SPECIES, threads=2)
    MaxwellBoltzmannDistribution(a, temperature_K=temp, rng=rng)
    dyn = Langevin(a, 1.0 * units.fs, temperature_K=temp, friction=0.02, rng=rng)
    frames = []
    for k in range(steps // every):
        dyn.run(every)
        d = a.get_all_distances(mic=True)
        np.fill_diagonal(d, 9.0)
        t = a.get_temperature()
        if t > 3 * temp or d.min() < 1.5:       # gone: not labelled
            print(f"    stopped at step {(k + 1) * every}: T {t:.0f} K, dmin {d.min():.2f} A", flush=True)
            break
        frames.append(a.copy())
    return frames


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mtp", required=True)
    ap.add_argument("--round", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--every", type=int, default=30)
    args = ap.parse_args()
    from seimd.mtp.calculator import MTPCalculator
    rng = np.random.default_rng(100 + args.round)
    lp = g.lpsc()
    systems = [("XS", xs_cell(), 400), ("iface-L2", g.interface(2), 500),
               ("iface-L3", g.interface(3), 400),
               ("LPSC-red+4Li", g.insert_li(g.break_ps(lp, rng), 4, rng), 500)]
    mcalc = MTPCalculator(args.mtp, type_map=g.SPECIES, threads=2)
    out = []
    for name, atoms, temp in systems:
        t0 = time.time()
        frames = mtp_md(atoms, args.mtp, temp, args.steps, args.every, rng)
        t1 = time.time()
        de, df, ds = [], [], []
        for f in frames:
            lab = g.label(f, args.threads, f"{name}:AL{args.round}")
            f.calc = mcalc
            de.append((f.get_potential_energy() - lab.get_potential_energy()) / len(f) * 1000)
            df.append(f.get_forces() - lab.get_forces())
            ds.append((f.get_stress() - lab.get_stress()) * GPA)
            out.append(lab)
        rms = lambda x: float(np.sqrt(np.mean(np.square(x))))
        print(f"{name:14s} {len(frames):3d} frames ({t1 - t0:.0f} s MTP MD, {time.time() - t1:.0f} s labels)"
              f"  MTP vs 7net-0: E {rms(de):7.2f} meV/atom (mean {np.mean(de):+.2f}), F {rms(df):.3f} eV/A,"
              f" S {rms(ds):.3f} GPa", flush=True)
    g.write(out, HERE / f"part-AL{args.round}.cfg")
    print(f"wrote part-AL{args.round}.cfg: {len(out)} configurations")


if __name__ == "__main__":
    main()
