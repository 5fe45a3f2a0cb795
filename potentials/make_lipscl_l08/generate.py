#!/usr/bin/env python
"""Generate and label (SevenNet-0, 7net-0) the Li-P-S-Cl training set of lipscl-l08-7net0.mtp.

Usage (from the repository root, venv with sevenn==0.13.0 installed):

    python potentials/make_lipscl_l08/generate.py --groups A --threads 1 &
    python potentials/make_lipscl_l08/generate.py --groups B --threads 1 &
    wait
    python potentials/make_lipscl_l08/generate.py --merge

Each group writes potentials/make_lipscl_l08/part-<group>.cfg; --merge writes
train.cfg (all part-*.cfg or part-*.cfg.gz, the committed form) next to this script. Configurations: strained / rattled
crystals plus short Langevin MD with 7net-0 itself (1 fs, every 20th frame),
all labelled with energy, forces and stress by 7net-0. Seeded: reruns give the
same structures (the labels up to torch's float round-off).

Systems
  Li     bcc 3x3x3 (54 atoms)
  LPSC   ordered Li24P4S20Cl4 (52 atoms, seimd.structures.lpsc_ordered)
  Li2S   antifluorite 2x2x2 conventional (96 atoms)
  LiCl   rocksalt 2x2x2 conventional (64 atoms)
  Li3P   hexagonal Na3As-type (P6_3/mmc, a 4.27, c 7.59 A) 2x2x2 (64 atoms)
  LPSC+Li  52-atom cell with 2 / 4 interstitial Li (54, 56 atoms)
  LPSC-red 52-atom cell with one P-S bond broken (S pushed off, PS4 -> PS3 + S)
           plus 2 / 4 extra Li (54, 56 atoms)
  iface  `seimd build XS --lpsc-blocks 1 --li-layers 2|3` Li(110)|LPSC(110) (88, 106 atoms)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPECIES = ["Li", "P", "S", "Cl"]

_CALC = None


def calculator(threads: int):
    """The 7net-0 ASE calculator (sevenn is an optional dependency, imported here)."""
    global _CALC
    if _CALC is None:
        import torch
        torch.set_num_threads(threads)
        try:
            from sevenn.calculator import SevenNetCalculator
        except ImportError:  # older layout
            from sevenn.sevennet_calculator import SevenNetCalculator
        _CALC = SevenNetCalculator("7net-0", device="cpu")
    return _CALC


# ------------------------------------------------------------------ structures

def li_bcc():
    from seimd.structures import bcc_li
    return bcc_li(a=3.43, repeat=(3, 3, 3))


def lpsc():
    from seimd.structures import lpsc_ordered
    return lpsc_ordered(a=10.28)


def li2s():
    from ase.build import bulk
    return bulk("Li2S", "fluorite", a=5.62, cubic=True).repeat((2, 2, 2))


def licl():
    from ase.build import bulk
    return bulk("LiCl", "rocksalt", a=5.14, cubic=True).repeat((2, 2, 2))


def li3p():
    from ase.spacegroup import crystal
    cell = crystal(["P", "Li", "Li"],
                   basis=[(1 / 3, 2 / 3, 0.25), (0.0, 0.0, 0.25), (1 / 3, 2 / 3, 0.583)],
                   spacegroup=194, cellpar=[4.27, 4.27, 7.59, 90, 90, 120])
    assert len(cell) == 8, len(cell)
    return cell.repeat((2, 2, 2))


def _min_dist_to(atoms, point):
    from ase.geometry import get_distances
    _, d = get_distances([point], atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    return float(d.min())


def insert_li(atoms, n, rng, grid=14):
    """Add n Li at the grid points farthest from every atom (interstitials)."""
    from ase import Atoms
    from ase.geometry import get_distances
    atoms = atoms.copy()
    f = (np.indices((grid, grid, grid)).reshape(3, -1).T + 0.5) / grid
    pts = f @ atoms.cell.array
    for _ in range(n):
        _, d = get_distances(pts, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        dmin = d.min(axis=1)
        best = np.argsort(dmin)[-8:]
        k = rng.choice(best)
        atoms += Atoms("Li", positions=[pts[k]])
    return atoms


def break_ps(atoms, rng, push=1.3):
    """Push one S of a PS4 away from its P (P-S ~2.06 -> ~3.4 A): PS4 -> PS3 + S."""
    from ase.geometry import get_distances
    atoms = atoms.copy()
    sym = np.array(atoms.get_chemical_symbols())
    p_idx = np.flatnonzero(sym == "P")
    s_idx = np.flatnonzero(sym == "S")
    for _ in range(50):
        p = rng.choice(p_idx)
        vec, d = get_distances([atoms.positions[p]], atoms.positions[s_idx],
                               cell=atoms.cell, pbc=atoms.pbc)
        bonded = s_idx[d[0] < 2.4]
        s = rng.choice(bonded)
        v = vec[0][list(s_idx).index(s)]
        new = atoms.positions[s] + push * v / np.linalg.norm(v)
        trial = atoms.copy()
        trial.positions[s] = new
        others = trial.copy()
        del others[s]
        if _min_dist_to(others, new) > 2.1:
            return trial
    raise RuntimeError("no S could be pushed off its P")


def interface(li_layers):
    import subprocess
    import tempfile
    from ase.io import read
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["seimd", "build", "XS", "--lpsc-blocks", "1", "--li-layers", str(li_layers),
                        "-o", f"{tmp}/i.data", "--xyz", f"{tmp}/i.xyz", "--no-groups"],
                       check=True, capture_output=True)
        atoms = read(f"{tmp}/i.xyz")
    for key in list(atoms.arrays):
        if key not in ("numbers", "positions"):
            del atoms.arrays[key]
    atoms.info = {}
    return atoms


# ------------------------------------------------------------------ sampling

def strained(atoms, eps):
    a = atoms.copy()
    a.set_cell(a.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    return a


def label(atoms, threads, tag):
    from ase.calculators.singlepoint import SinglePointCalculator
    a = atoms.copy()
    a.calc = calculator(threads)
    e = a.get_potential_energy()
    f = a.get_forces()
    s = a.get_stress()
    out = atoms.copy()
    out.calc = SinglePointCalculator(out, energy=e, forces=f, stress=s)
    out.info["tag"] = tag
    return out


def static_set(atoms, rng, threads, name, n_iso=7, n_rand=6, rattle=0.08, max_strain=0.05):
    frames = []
    for x in np.linspace(-0.06, 0.06, n_iso):        # E(V) curve
        frames.append(label(strained(atoms, x * np.eye(3)), threads, f"{name}:iso{x:+.3f}"))
    for i in range(n_rand):                            # random strain + rattle
        e = rng.uniform(-max_strain, max_strain, (3, 3))
        e = 0.5 * (e + e.T)
        a = strained(atoms, e)
        a.positions += rng.normal(0, rattle, a.positions.shape)
        frames.append(label(a, threads, f"{name}:rand{i}"))
    return frames


def md_set(atoms, rng, threads, name, temp, steps=200, every=20, prerattle=0.03):
    from ase import units
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    a = atoms.copy()
    a.positions += rng.normal(0, prerattle, a.positions.shape)
    a.calc = calculator(threads)
    MaxwellBoltzmannDistribution(a, temperature_K=temp, rng=rng)
    dyn = Langevin(a, 1.0 * units.fs, temperature_K=temp, friction=0.02, rng=rng)
    frames = []

    def grab():
        out = a.copy()
        out.calc = SinglePointCalculator(out, energy=a.get_potential_energy(),
                                         forces=a.get_forces(), stress=a.get_stress())
        out.info["tag"] = f"{name}:md{temp}K:step{dyn.nsteps}"
        frames.append(out)

    dyn.attach(grab, interval=every)
    dyn.run(steps)
    return frames[1:]                                  # drop the (rattled) starting frame


def group_a(rng, threads):
    out = []
    li = li_bcc()
    out += static_set(li, rng, threads, "Li-bcc", rattle=0.10, max_strain=0.06)
    out += md_set(li, rng, threads, "Li-bcc", 300)
    out += md_set(li, rng, threads, "Li-bcc", 600)
    lp = lpsc()
    out += static_set(lp, rng, threads, "LPSC", n_rand=8)
    out += md_set(lp, rng, threads, "LPSC", 400)
    out += md_set(lp, rng, threads, "LPSC", 600)
    out += static_set(li2s(), rng, threads, "Li2S", n_rand=4)
    out += md_set(li2s(), rng, threads, "Li2S", 500, steps=100)
    out += static_set(licl(), rng, threads, "LiCl", n_rand=4)
    out += md_set(licl(), rng, threads, "LiCl", 500, steps=100)
    return out


def group_b(rng, threads):
    out = []
    out += static_set(li3p(), rng, threads, "Li3P-hex", n_rand=4)
    out += md_set(li3p(), rng, threads, "Li3P-hex", 500, steps=100)
    lp = lpsc()
    for n in (2, 4):
        st = insert_li(lp, n, rng)
        out += static_set(st, rng, threads, f"LPSC+{n}Li", n_iso=3, n_rand=3)
        out += md_set(st, rng, threads, f"LPSC+{n}Li", 600, steps=160)
        red = insert_li(break_ps(lp, rng), n, rng)
        out += static_set(red, rng, threads, f"LPSC-red+{n}Li", n_iso=3, n_rand=3)
        out += md_set(red, rng, threads, f"LPSC-red+{n}Li", 600, steps=160)
    for layers, temp in ((2, 400), (3, 600)):
        it = interface(layers)
        out += static_set(it, rng, threads, f"iface-L{layers}", n_iso=3, n_rand=3,
                          rattle=0.06, max_strain=0.03)
        out += md_set(it, rng, threads, f"iface-L{layers}", temp, steps=160)
    return out


def group_c(rng, threads):
    """Short Li-Li (and other) contacts, added after MTP MD of the interface collapsed Li-Li pairs."""
    out = []
    li = li_bcc()
    for x in (-0.08, -0.11, -0.14, -0.17):               # NN 2.73 .. 2.46 A
        a = strained(li, x * np.eye(3))
        a.positions += rng.normal(0, 0.10, a.positions.shape)
        out.append(label(a, threads, f"Li-bcc:compressed{x:+.2f}"))
    for i in range(5):                                     # large rattle: random short contacts
        a = li.copy()
        a.positions += rng.normal(0, 0.25, a.positions.shape)
        out.append(label(a, threads, f"Li-bcc:bigrattle{i}"))
    for n in (1, 2):                                       # interstitial Li in bcc Li
        st = insert_li(li, n, rng, grid=12)
        for i in range(3):
            a = st.copy()
            a.positions += rng.normal(0, 0.08, a.positions.shape)
            out.append(label(a, threads, f"Li-bcc+{n}i:rattle{i}"))
        out += md_set(st, rng, threads, f"Li-bcc+{n}i", 600, steps=100)
    out += md_set(li, rng, threads, "Li-bcc", 1000, steps=100)
    st = insert_li(lpsc(), 6, rng)                         # crowded Li in LPSC
    for i in range(4):
        a = st.copy()
        a.positions += rng.normal(0, 0.12, a.positions.shape)
        out.append(label(a, threads, f"LPSC+6Li:rattle{i}"))
    for layers in (2, 3):
        it = interface(layers)
        for i in range(3):
            a = it.copy()
            a.positions += rng.normal(0, 0.15, a.positions.shape)
            out.append(label(a, threads, f"iface-L{layers}:bigrattle{i}"))
    return [a for a in out if min_pair(a) >= 1.5]     # drop 7net-0's soft Li-Li dimers < 1.5 A


def min_pair(atoms):
    d = atoms.get_all_distances(mic=True)
    np.fill_diagonal(d, 9.0)
    return float(d.min())


def write(frames, path):
    from seimd.io.cfg import from_atoms, write_cfg
    confs = []
    for a in frames:
        c = from_atoms(a, SPECIES)
        confs.append(c)
    write_cfg(path, confs, full_precision=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", default="AB")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--merge", action="store_true")
    args = ap.parse_args()
    if args.merge:
        from seimd.io.cfg import read_cfg, write_cfg
        confs = []
        import gzip
        parts = {}
        for part in sorted(HERE.glob("part-*.cfg*")):  # A, AL1, AL2, ..., B, C (.cfg or .cfg.gz)
            parts.setdefault(part.name.split(".")[0], part)
        for name in sorted(parts):
            part = parts[name]
            confs += list(read_cfg(gzip.open(part, "rt").read() if part.suffix == ".gz" else part))
        write_cfg(HERE / "train.cfg", confs, full_precision=True)
        print(f"train.cfg: {len(confs)} configurations, {sum(c.n_atoms for c in confs)} atoms")
        return
    for g in args.groups:
        t0 = time.time()
        rng = np.random.default_rng(args.seed + ord(g))
        frames = {"A": group_a, "B": group_b, "C": group_c}[g](rng, args.threads)
        write(frames, HERE / f"part-{g}.cfg")
        print(f"group {g}: {len(frames)} configurations, {sum(len(a) for a in frames)} atoms, "
              f"{time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
