#!/usr/bin/env python
"""Check lipscl-l08-7net0.mtp against its labeller (SevenNet-0).

    python potentials/make_lipscl_l08/evaluate.py [--mtp potentials/lipscl-l08-7net0.mtp] [--no-7net]

1. Errors of the MTP on every configuration of train.cfg, grouped by chemical
   system (guessed from the composition): energy RMSE (meV/atom), force RMSE
   per Cartesian component (eV/A), stress RMSE per Voigt component (GPa).
   (The held-out errors come from `seimd train --holdout`; these are mostly
   training-set errors.)
2. Lattice constants: isotropic scan of a over -5..+5 % in 1 % steps at fixed
   fractional coordinates (no internal relaxation), Birch-Murnaghan fit
   (ase.eos), with the MTP and with 7net-0, for bcc Li, Li2S, LiCl, Li3P
   (c/a fixed) and ordered Li6PS5Cl.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SPECIES = ["Li", "P", "S", "Cl"]
GPA = 160.21766208  # eV/A^3 -> GPa


def system_of(conf):
    t = set(conf.types.tolist())
    n = np.bincount(conf.types, minlength=4)
    if t == {0}:
        return "Li bcc"
    if t == {0, 2}:
        return "Li2S"
    if t == {0, 3}:
        return "LiCl"
    if t == {0, 1}:
        return "Li3P"
    if n[0] > 40:
        return "interface"
    if n[0] > 24:
        return "LPSC + Li (stuffed / reduced)"
    return "LPSC"


def errors(mtp, cfg):
    from seimd.io.cfg import read_cfg, to_atoms
    from seimd.mtp.calculator import MTPCalculator
    calc = MTPCalculator(mtp, type_map=SPECIES, threads=2)
    rows = {}
    for c in read_cfg(cfg):
        a = to_atoms(c)
        a.calc = calc
        n = len(a)
        de = (a.get_potential_energy() - c.energy) / n * 1000
        df = (a.get_forces() - c.forces).ravel()
        ref_s = -c.plus_stress / a.get_volume()
        ds = (a.get_stress() - ref_s) * GPA
        for key in (system_of(c), "all"):
            r = rows.setdefault(key, [[], [], [], 0])
            r[0].append(de)
            r[1].extend(df)
            r[2].extend(ds)
            r[3] += 1
    print(f"{'system':32s} {'n':>4s} {'E meV/at':>9s} {'F eV/A':>8s} {'S GPa':>7s}")
    for key, (e, f, s, n) in rows.items():
        rms = lambda x: float(np.sqrt(np.mean(np.square(x))))
        print(f"{key:32s} {n:4d} {rms(e):9.2f} {rms(f):8.3f} {rms(s):7.3f}")


def lattice(calc, atoms, a0):
    from ase.eos import EquationOfState
    vols, ens = [], []
    for x in np.arange(-0.05, 0.0501, 0.01):
        b = atoms.copy()
        b.set_cell(b.cell.array * (1 + x), scale_atoms=True)
        b.calc = calc
        vols.append(b.get_volume())
        ens.append(b.get_potential_energy())
    eos = EquationOfState(vols, ens, eos="birchmurnaghan")
    v0, e0, bmod = eos.fit()
    a = a0 * (v0 / atoms.get_volume()) ** (1 / 3)
    return a, bmod * GPA


def lattices(mtp, with_7net):
    import generate as g
    from seimd.mtp.calculator import MTPCalculator
    systems = [("bcc Li", g.li_bcc(), 3.43), ("Li2S", g.li2s(), 5.62), ("LiCl", g.licl(), 5.14),
               ("Li3P (hex, a)", g.li3p(), 4.27), ("Li6PS5Cl", g.lpsc(), 10.28)]
    calcs = [("MTP", MTPCalculator(mtp, type_map=SPECIES, threads=2))]
    if with_7net:
        calcs.append(("7net-0", g.calculator(2)))
    print(f"{'system':16s} " + " ".join(f"{n + ' a (A)':>12s} {n + ' B (GPa)':>14s}" for n, _ in calcs))
    for name, atoms, a0 in systems:
        vals = [lattice(c, atoms, a0) for _, c in calcs]
        print(f"{name:16s} " + " ".join(f"{a:12.4f} {b:14.1f}" for a, b in vals), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mtp", default=str(HERE.parent / "lipscl-l08-7net0.mtp"))
    ap.add_argument("--cfg", default=str(HERE / "train.cfg"))
    ap.add_argument("--no-7net", action="store_true")
    args = ap.parse_args()
    errors(args.mtp, args.cfg)
    lattices(args.mtp, not args.no_7net)


if __name__ == "__main__":
    main()
