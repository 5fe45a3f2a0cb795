#!/usr/bin/env python
"""Does the crystal grow into the glass? A crystal | glass interface of the product in MD.

    python potentials/make_lipscl_sei/cglass_md.py --potential potentials/X.mtp \
        [--temperature 500] [--ps 200] [--prep-potential P.mtp] [--extra-li N]
        [--out cglass-500K.json]

The cell: 3x3x7 cubic antifluorite cells of 5Li2S.Li3P.LiCl (252 anions = 36 formula
units, 756 atoms, decorations random, seeded). The upper half is replaced by a random
packing of its atoms, minimised, annealed (--t-melt, 1000 K, 5 ps, lower half held fixed)
and quenched to T (5 ps), with the MTP itself (NVE with at most 0.05 A per step and a
Berendsen thermostat: the first steps out of a random packing otherwise shoot atoms away); then everything
runs NPT at T, 1 bar (z barostat, x and y fixed to the crystal). Every 5 ps the SEI
observables (seimd.sei.analyse) give the crystalline fraction: the crystal grows if it
rises above the value after the quench. Writes the curve as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def build(seed: int, a: float):
    from seimd import structures as st
    from seimd.crystal_check import check, expected
    x = st.decorate_anions(st.li2s_antifluorite(a, (3, 3, 7)), 36, 36, np.random.default_rng(seed))
    check(x, "crystal | glass start", **expected("antifluorite", a))
    return x


def amorphise_top(atoms, zmid: float, seed: int, tries: int = 400, batch: int = 256):
    """Random sequential addition of the upper half's atoms (same species; anions first) in
    the upper half of the cell: anion-anion >= 2.9, Li-anion >= 1.9, Li-Li >= 1.6 A
    (periodic). A glass without melting: a superheated antifluorite does not melt in 10 ps
    at 1500 K, and 2000 K is outside what the potential was trained on."""
    from ase.geometry import get_distances
    rng = np.random.default_rng(seed)
    top = np.flatnonzero(atoms.positions[:, 2] >= zmid)
    is_li = atoms.numbers == 3
    top = np.concatenate([rng.permutation(top[~is_li[top]]), rng.permutation(top[is_li[top]])])
    out = atoms.copy()
    placed = list(np.flatnonzero(atoms.positions[:, 2] < zmid))
    cell = out.cell.array
    lo, hi = zmid + 0.3, cell[2, 2] - 0.3
    for idx in top:
        for _ in range(tries):
            p = np.column_stack([rng.uniform(0, cell[0, 0], batch), rng.uniform(0, cell[1, 1], batch),
                                 rng.uniform(lo, hi, batch)])
            _, d = get_distances(p, out.positions[placed], cell=cell, pbc=True)
            other_li = is_li[placed]
            need = np.where(other_li, 1.6 if is_li[idx] else 1.9, 1.9 if is_li[idx] else 2.9)
            ok = np.flatnonzero(np.all(d >= need[None, :], axis=1))
            if len(ok):
                out.positions[idx] = p[ok[0]]
                placed.append(idx)
                break
        else:
            raise RuntimeError("could not place an atom of the glass")
    return out


def snapshot(lmp):
    from ase import Atoms
    n = lmp.get_natoms()
    x = np.array(lmp.gather_atoms("x", 1, 3), dtype=float).reshape(n, 3)
    t = np.array(lmp.gather_atoms("type", 0, 1), dtype=int)
    box = lmp.extract_box()
    lo, hi = np.array(box[0]), np.array(box[1])
    return Atoms(numbers=np.array([3, 15, 16, 17])[t - 1], positions=x - lo,
                 cell=np.diag(hi - lo), pbc=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--potential", required=True)
    ap.add_argument("--temperature", type=float, default=500.0, help="K")
    ap.add_argument("--ps", type=float, default=200.0, help="NPT length after the quench, ps")
    ap.add_argument("--every", type=float, default=5.0, help="analysis interval, ps")
    ap.add_argument("--a", type=float, default=5.76, help="antifluorite lattice constant, A")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--t-melt", type=float, default=1000.0, help="anneal of the random upper half, K")
    ap.add_argument("--prep-potential", default="",
                    help="MTP that makes the glass half (minimise, anneal, quench); default: "
                    "--potential. A potential that blows up on a random packing at --t-melt "
                    "can still be tested on the glass another one made: it then minimises "
                    "and runs the NPT part")
    ap.add_argument("--extra-li", type=int, default=0,
                    help="Li atoms added to the glass half (126 anions, 252 Li): 38 gives 2.30 "
                    "Li per anion there, the crystal has 2.00")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    from ase.io import write
    from seimd.lmp import open_lammps
    from seimd.sei.observables import analyse

    atoms = build(args.seed, args.a)
    zmid = atoms.cell[2, 2] / 2
    if args.extra_li:                 # a Li-rich glass: extra Li join the random packing
        from ase import Atoms
        atoms += Atoms("Li" * args.extra_li, positions=[[0.0, 0.0, zmid + 1.0]] * args.extra_li)
    atoms = amorphise_top(atoms, zmid, args.seed)
    lmp = open_lammps()
    curve = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cg.data"
        write(data, atoms, format="lammps-data", specorder=["Li", "P", "S", "Cl"], masses=True)
        T = args.temperature
        lmp.commands_string(f"""
units metal
atom_style atomic
boundary p p p
read_data {data}
pair_style mtp {Path(args.prep_potential or args.potential).resolve()}
pair_coeff * * Li P S Cl
neighbor 1.0 bin
timestep 0.001
region top block INF INF INF INF {zmid} INF
group top region top
group bottom subtract all top
fix hold bottom setforce 0 0 0
min_style cg
minimize 0 1e-3 500 5000
velocity top create {args.t_melt} {args.seed + 1} dist gaussian
velocity bottom set 0 0 0
fix melt top nve/limit 0.05
fix melt_t top temp/berendsen {args.t_melt} {args.t_melt} 0.1
run 5000
unfix melt_t
fix quench_t top temp/berendsen {args.t_melt} {T} 0.1
run 5000
unfix quench_t
unfix melt
pair_style mtp {Path(args.potential).resolve()}
pair_coeff * * Li P S Cl
minimize 0 1e-3 500 5000
unfix hold
velocity all create {T} {args.seed + 2} dist gaussian
fix npt all npt temp {T} {T} 0.1 z 1.0 1.0 1.0
thermo 1000
""")
        every = int(round(args.every * 1000))
        t0 = time.time()
        for k in range(int(round(args.ps / args.every)) + 1):
            if k:
                lmp.command(f"run {every}")
            snap = snapshot(lmp)
            res = analyse(snap, labels=False)
            row = dict(t_ps=k * args.every, crystalline=100 * res.fractions.crystalline,
                       reduced=100 * res.fractions.alpha, pe_per_atom=lmp.get_thermo("pe") / len(snap),
                       min_pair=common.min_pair(snap))
            curve.append(row)
            print(f"t {row['t_ps']:6.1f} ps  crystalline {row['crystalline']:5.1f} %  "
                  f"E/N {row['pe_per_atom']:.4f} eV  dmin {row['min_pair']:.2f} A  "
                  f"({time.time() - t0:.0f} s)", flush=True)
            if args.out:                 # the curve so far: a killed run keeps what it measured
                Path(args.out).write_text(json.dumps(dict(
                    potential=args.potential, prep_potential=args.prep_potential or
                    args.potential, temperature=T, t_melt=args.t_melt, seed=args.seed,
                    extra_li=args.extra_li, curve=curve), indent=1))
    lmp.close()


if __name__ == "__main__":
    main()
