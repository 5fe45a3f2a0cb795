#!/usr/bin/env python
"""Training data for the second step of SEI growth (crystallization), labelled by 7net-0.

Usage (repository root, venv with the [oracle] extra):

    python potentials/make_lipscl_sei/generate.py            # all tasks, resumable
    python potentials/make_lipscl_sei/generate.py --list     # tasks and which are done
    python potentials/make_lipscl_sei/generate.py --merge    # data/*.cfg.gz -> train-sei.cfg

Each task writes data/<task>.cfg.gz when it is complete (energy, forces, stress by 7net-0;
a `tag` feature per configuration names its family); a killed run redoes only the task it
was in. Seeded: reruns give the same structures. Every crystal is checked against its space
group and neighbour shells (seimd.crystal_check) before anything is labelled; every
configuration with a pair closer than 1.5 A is dropped.

Families (counts in potentials/README.md):
  crystal   bcc Li 3x3x3, antifluorite Li2S 2x2x2, rocksalt LiCl 2x2x2, hexagonal Li3P
            2x2x1, LPSC: E(V) (+-3 %), random strain (+-3 %) + rattle, 7net-0 MD 300/600 K
  ss        antifluorite solid solutions Li2S(1-2x) P_x Cl_x, 28 anion sites, x = k/28 for
            k = 1..4 (k = 4 is 5Li2S.Li3P.LiCl), 3 random decorations each: relaxed,
            strained +-3 %, 7net-0 MD at 300, 450, 600 K
  glass     the same compositions melt-quenched (the MTP explorer melts at 2000 K and
            quenches over 10 ps; 7net-0 labels frames of the quench, relaxes the glass
            and runs it at 400-600 K)
  cglass    crystal | glass interfaces of the product (2x2x4 cubic cells, the upper half
            melted and quenched with the lower half held crystalline)
  overli    overlithiated: antifluorite with 1/2/4 extra Li in octahedral holes and at
            random interstitial sites; Li-rich glasses (6 and 12 extra Li per 28 anions)
  limetal   Li metal | solid solution contacts: bcc Li(100) 5x5 on antifluorite(100) 3x3
            (0.6 % lateral strain), Li2S and the product, 7net-0 MD at 400 K
  small     the product on 14 anion sites (42 atoms) as crystal, with 1-3 octahedral Li
            and as glass with 0, 3, 6 extra Li: small enough for PBE, and relabelled by
            pbe_labels.py (7net-0 puts Li-rich glass ~120 meV/atom too low)
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

HERE = common.HERE
DATA = HERE / "data"
EXPLORER = "mtp:potentials/lipscl-l08-7net0-al-s.mtp"


# ------------------------------------------------------------------ structures (no labeller)

def crystals():
    """(name, atoms, kind, a, c): the five crystals, each checked."""
    from seimd import structures as st
    from seimd.crystal_check import check, expected
    out = [("Li-bcc", st.bcc_li(3.43, (3, 3, 3)), "bcc-Li", 3.43, None),
           ("Li2S", st.li2s_antifluorite(5.70, (2, 2, 2)), "antifluorite", 5.70, None),
           ("LiCl", st.licl_rocksalt(5.14, (2, 2, 2)), "rocksalt-LiCl", 5.14, None),
           ("Li3P", st.li3p_hexagonal(repeat=(2, 2, 1)), "Li3P", st.A_LI3P, st.C_LI3P),
           ("LPSC", st.lpsc_ordered(10.28), "LPSC", 10.28, None)]
    for name, atoms, kind, a, c in out:
        check(atoms, name, **expected(kind, a, c))
    return out


def solution(k: int, seed: int, extra_li: int = 0, n: int = 28):
    from seimd import structures as st
    from seimd.crystal_check import check, expected
    x = st.antifluorite_solution(n, n_p=k, seed=seed)
    check(x, f"solid solution k={k}", **expected("antifluorite", st.A_LI2S))
    if extra_li:
        x = st.antifluorite_solution(n, n_p=k, seed=seed, extra_li=extra_li)
    return x


def limetal_contact(k: int, seed: int):
    """bcc Li(100) 5x5 x 4 layers on antifluorite(100) 3x3 x 1 cubic cell, periodic (two
    contacts), the Li strained laterally to the electrolyte's 3 a_AF (0.6 % for a = 5.70)."""
    from ase import Atoms
    from seimd import structures as st
    from seimd.crystal_check import check, expected
    af = st.decorate_anions(st.li2s_antifluorite(st.A_LI2S, (3, 3, 1)), k, k,
                            np.random.default_rng(seed))
    check(af, "solid solution slab", **expected("antifluorite", st.A_LI2S))
    lat = af.cell.lengths()[0]
    a_li = lat / 5
    li = st.bcc_li(a_li, (5, 5, 2))
    # Slab: anion planes at z = 0, a/2, Li planes at a/4, 3a/4 (its top). The metal's four
    # (100) planes (spacing a_Li/2) start 2.6 A above the top Li plane and end 2.6 A below
    # the next image's anion plane at z = 0.
    gap = 2.6
    li.positions[:, 2] += 0.75 * st.A_LI2S + gap
    cell = np.diag([lat, lat, 0.75 * st.A_LI2S + gap + 1.5 * a_li + gap])
    out = Atoms(numbers=np.concatenate([af.numbers, li.numbers]),
                positions=np.vstack([af.positions, li.positions]), cell=cell, pbc=True)
    out.wrap()
    return out


# ------------------------------------------------------------------ labelling helpers

def lab(atoms, tag):
    out = common.labelled(atoms, common.teacher("7net0"), tag)
    out.info["cfg_features"] = [("tag", tag)]
    return out


def strained(atoms, eps):
    a = atoms.copy()
    a.set_cell(a.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    return a


def rand_strain(rng, size=0.03):
    e = rng.uniform(-size, size, (3, 3))
    return 0.5 * (e + e.T)


def md_frames(atoms, rng, temp, steps, every, tag, calc_name="7net0"):
    """Langevin MD (1 fs) with the labeller, a labelled frame every `every` steps."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    a = atoms.copy()
    a.calc = common.teacher(calc_name)
    MaxwellBoltzmannDistribution(a, temperature_K=temp, rng=rng)
    dyn = Langevin(a, 1.0 * units.fs, temperature_K=temp, friction=0.02, rng=rng)
    frames = []
    for block in range(steps // every):
        dyn.run(every)
        fr = a.copy()
        fr.calc = None
        frames.append(lab(fr, f"{tag}:md{temp}K:{(block + 1) * every}"))
    return frames


def quench(atoms, rng, tag, n_frames=5, fixed=None):
    """MTP-explorer melt-quench; n_frames labelled snapshots along the quench, the glass."""
    from ase.constraints import FixAtoms
    a = atoms.copy()
    if fixed is not None:
        a.set_constraint(FixAtoms(indices=fixed))
    for attempt in range(6):        # the explorer can collapse a pair: again, cooler
        glass, snaps = common.melt_quench(a, common.teacher(EXPLORER), rng, t_melt=2000.0 - 100 * attempt,
                                          melt_fs=4000, quench_fs=10000, frames_every=1000)
        if common.min_pair(glass) >= common.MIN_PAIR:
            break
        print(f"  {tag}: explorer collapsed a pair ({common.min_pair(glass):.2f} A), retrying", flush=True)
    else:
        raise RuntimeError(f"{tag}: the MTP explorer collapsed a pair in every melt-quench")
    glass.set_constraint()
    picks = [snaps[i] for i in np.linspace(3, len(snaps) - 1, n_frames).astype(int)]
    frames = []
    for i, s in enumerate(picks):
        s.set_constraint()
        s.calc = None
        frames.append(lab(s, f"{tag}:quench{i}"))
    return glass, frames


# ------------------------------------------------------------------ tasks

def task_crystal(name, rng):
    (atoms, kind) = {c[0]: (c[1], c[2]) for c in crystals()}[name]
    out = [lab(strained(atoms, x * np.eye(3)), f"crystal:{name}:iso{x:+.3f}")
           for x in (-0.03, -0.015, 0.0, 0.015, 0.03)]
    for i in range(4):
        a = strained(atoms, rand_strain(rng))
        a.positions += rng.normal(0, 0.05, a.positions.shape)
        out.append(lab(a, f"crystal:{name}:rand{i}"))
    for temp in (300, 600):
        out += md_frames(atoms, rng, temp, 100, 25, f"crystal:{name}")
    return out


def task_ss(k, d, rng):
    x = solution(k, seed=10 * k + d)
    r = common.relax(x, common.teacher("7net0"), fmax=0.05, steps=80)
    r.calc = None
    tag = f"ss:k{k}:d{d}"
    out = [lab(r, f"{tag}:relaxed")]
    for i in range(2):
        out.append(lab(strained(r, rand_strain(rng)), f"{tag}:strain{i}"))
    out += md_frames(r, rng, (300, 450, 600)[d], 100, 25, tag)
    return out


def task_glass(k, s, rng, extra_li=0):
    x = solution(k, seed=700 + 10 * k + s, extra_li=extra_li)
    tag = f"glass:k{k}:s{s}" if not extra_li else f"overli:glass+{extra_li}:s{s}"
    glass, out = quench(x, rng, tag)
    r = common.relax(glass, common.teacher("7net0"), fmax=0.05, steps=100)
    r.calc = None
    if common.min_pair(r) < common.MIN_PAIR:
        raise RuntimeError(f"{tag}: the glass has a pair at {common.min_pair(r):.2f} A")
    out.append(lab(r, f"{tag}:relaxed"))
    out += md_frames(r, rng, (400, 600)[s % 2], 60, 20, tag)
    return out


def task_cglass(s, rng):
    from seimd import structures as st
    from seimd.crystal_check import check, expected
    # 2x2x4 cubic cells (orthogonal, so the glass half is a slab along z), 9 P + 9 Cl of 64
    x = st.decorate_anions(st.li2s_antifluorite(st.A_LI2S, (2, 2, 4)), 9, 9,
                           np.random.default_rng(900 + s))
    check(x, "crystal | glass start", **expected("antifluorite", st.A_LI2S))
    zc = x.positions[:, 2]
    fixed = np.flatnonzero(zc < 0.5 * x.cell[2, 2] - 0.1)
    tag = f"cglass:s{s}"
    glass, out = quench(x, rng, tag, n_frames=2, fixed=fixed)
    out.append(lab(glass, f"{tag}:interface"))
    out += md_frames(glass, rng, 500, 40, 20, tag)
    return out


def task_overli(k, n_extra, rng):
    tag = f"overli:octa+{n_extra}:k{k}"
    x = solution(k, seed=300 + n_extra, extra_li=n_extra)
    out = [lab(x, f"{tag}:ideal")]
    r = common.relax(x, common.teacher("7net0"), fmax=0.05, steps=60)
    r.calc = None
    out.append(lab(r, f"{tag}:relaxed"))
    out += md_frames(r, rng, 450, 60, 20, tag)
    return out


def task_interstitial(k, n_extra, rng):
    """Extra Li at the points farthest from every atom (interstitial, not octahedral)."""
    from ase import Atoms
    from ase.geometry import get_distances
    x = solution(k, seed=400 + n_extra)
    f = (np.indices((10, 10, 10)).reshape(3, -1).T + 0.5) / 10
    pts = f @ x.cell.array
    for _ in range(n_extra):
        _, d = get_distances(pts, x.positions, cell=x.cell, pbc=True)
        x += Atoms("Li", positions=[pts[int(np.argmax(d.min(axis=1)))]])
    tag = f"overli:inter+{n_extra}:k{k}"
    out = [lab(x, f"{tag}:ideal")]
    out += md_frames(x, rng, 450, 60, 20, tag)
    return out


def task_small(kind, n_extra, rng):
    """14 anion sites (2 P, 2 Cl: 5Li2S.Li3P.LiCl), 42 + n_extra atoms: small enough for PBE
    (pbe_labels.py, ~5 min per configuration on one core). kind: "ss" relaxed crystal + MD,
    "octa" extra Li in octahedral holes, "glass" melt-quenched (Li-rich when n_extra > 0)."""
    x = solution(2, seed=600 + n_extra + (50 if kind == "glass" else 0), extra_li=n_extra, n=14)
    tag = f"small:{kind}+{n_extra}"
    calc = common.teacher("7net0")
    out = []
    if kind == "glass":
        glass, out = quench(x, rng, tag, n_frames=2)
        x = glass
    elif kind == "octa":
        out.append(lab(x, f"{tag}:ideal"))
    r = common.relax(x, calc, fmax=0.05, steps=100)
    r.calc = None
    if common.min_pair(r) < common.MIN_PAIR:
        raise RuntimeError(f"{tag}: pair at {common.min_pair(r):.2f} A after relaxation")
    out.append(lab(r, f"{tag}:relaxed"))
    out += md_frames(r, rng, 450, 60, 20, tag)
    return out


def task_limetal(k, rng):
    x = limetal_contact(k, seed=50 + k)
    tag = f"limetal:k{k}"
    out = [lab(x, f"{tag}:built")]
    a = x.copy()
    a.positions += rng.normal(0, 0.08, a.positions.shape)
    out.append(lab(a, f"{tag}:rattled"))
    out += md_frames(x, rng, 400, 40, 20, tag)
    return out


def tasks():
    """Ordered: the crystallization data first (a partial run is still useful)."""
    t = {}
    for name in ("Li2S", "LiCl", "Li3P", "Li-bcc", "LPSC"):
        t[f"crystal-{name}"] = lambda rng, name=name: task_crystal(name, rng)
    for k in (4, 2, 1, 3):
        for d in range(3):
            t[f"ss-k{k}-d{d}"] = lambda rng, k=k, d=d: task_ss(k, d, rng)
    for k, s in ((4, 0), (4, 1), (4, 2), (2, 0)):
        t[f"glass-k{k}-s{s}"] = lambda rng, k=k, s=s: task_glass(k, s, rng)
    for n_extra in (6, 12):
        t[f"overli-glass{n_extra}"] = lambda rng, n=n_extra: task_glass(4, 0, rng, extra_li=n)
    for n_extra in (1, 2, 4):
        t[f"overli-octa{n_extra}"] = lambda rng, n=n_extra: task_overli(4, n, rng)
    t["overli-inter2"] = lambda rng: task_interstitial(4, 2, rng)
    for s in range(2):
        t[f"cglass-s{s}"] = lambda rng, s=s: task_cglass(s, rng)
    for k in (0, 4):
        t[f"limetal-k{k}"] = lambda rng, k=k: task_limetal(k, rng)
    # Small cells of the product and of its overlithiated forms, for PBE labels: 7net-0 puts
    # Li-rich glass ~120 meV/atom too low against PBE (potentials/README.md)
    for kind, n_extra in (("octa", 1), ("glass", 6), ("ss", 0), ("glass", 0), ("octa", 2),
                          ("glass", 3), ("octa", 3)):
        t[f"small-{kind}{n_extra}"] = lambda rng, kind=kind, n=n_extra: task_small(kind, n, rng)
    return t


def write_task(name, frames):
    from seimd.io.cfg import format_cfg, from_atoms
    frames = [a for a in frames if common.min_pair(a) >= common.MIN_PAIR]
    DATA.mkdir(exist_ok=True)
    tmp = DATA / f".{name}.cfg.gz.part"
    with gzip.open(tmp, "wt") as fh:
        for a in frames:
            fh.write(format_cfg(from_atoms(a, common.SPECIES), full_precision=True))
    tmp.rename(DATA / f"{name}.cfg.gz")
    return len(frames)


OLD = HERE.parent / "make_lipscl_l08"


def merge(pbe_weight: float = 1.0, keep_overlithiated: bool = False):
    """train-sei.cfg: this pipeline's data + the reduction data of make_lipscl_l08, less its
    16 Li2S configurations, which are not antifluorite (see tests/test_structures.py).
    PBE-labelled configurations get `Feature weight pbe_weight` (their w_c in seimd train):
    37 small cells among ~900 otherwise weigh too little to move the Li-rich energetics.
    The 7net-0-labelled overli-* tasks (84+ atoms, too large for PBE here) are left out once
    PBE labels of the small overlithiated cells exist: 7net-0 puts excess Li in the product
    1.4-1.9 eV per Li too low against PBE (potentials/README.md), and the two label sets
    would contradict each other (keep_overlithiated keeps them)."""
    from seimd.io.cfg import read_cfg, write_cfg
    confs, counts = [], {}
    have_pbe = any((HERE / "data-pbe").glob("small-*.cfg.gz"))
    for p in sorted(DATA.glob("*.cfg.gz")):
        name = p.name.split(".")[0]
        if have_pbe and name.startswith("overli-") and not keep_overlithiated:
            print(f"  {name}: left out (7net-0 labels on overlithiated product; PBE small cells instead)")
            continue
        pbe = HERE / "data-pbe" / p.name               # pbe_labels.py finish: PBE labels
        if pbe.exists():
            p, name = pbe, name + " (PBE)"
        part = list(read_cfg(gzip.open(p, "rt").read()))
        if pbe.exists() and pbe_weight != 1.0:
            for c in part:
                c.features = [f for f in c.features if f[0] != "weight"] + [("weight", f"{pbe_weight:g}")]
        counts[name] = len(part)
        confs += part
    old = sorted(OLD.glob("part-*.cfg.gz")) + sorted(OLD.glob("learn-*.cfg.gz"))
    dropped = 0
    for p in old:
        for c in read_cfg(gzip.open(p, "rt").read()):
            if set(np.unique(c.types).tolist()) == {0, 2}:      # pure Li-S: the wrong Li2S
                dropped += 1
                continue
            confs.append(c)
            counts["reduction (make_lipscl_l08)"] = counts.get("reduction (make_lipscl_l08)", 0) + 1
    write_cfg(HERE / "train-sei.cfg", confs, full_precision=True)
    for k, v in counts.items():
        print(f"  {k}: {v}")
    print(f"train-sei.cfg: {len(confs)} configurations ({dropped} wrong Li2S dropped)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated task names")
    ap.add_argument("--stride", default="0/1", help="K/M: every M-th task from the K-th (parallel runs)")
    ap.add_argument("--merge", action="store_true")
    ap.add_argument("--pbe-weight", type=float, default=1.0,
                    help="--merge: configuration weight w_c of the PBE-labelled cells (default 1)")
    ap.add_argument("--keep-overlithiated", action="store_true",
                    help="--merge: keep the 7net-0-labelled overli-* tasks even with PBE small cells")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    all_tasks = tasks()
    if args.list:
        for name in all_tasks:
            print(f"{'done' if (DATA / f'{name}.cfg.gz').exists() else '    '}  {name}")
        return
    if args.merge:
        merge(args.pbe_weight, args.keep_overlithiated)
        return
    common.teacher("7net0", args.threads)
    k0, m = map(int, args.stride.split("/"))
    names = [n for i, n in enumerate(all_tasks) if i % m == k0]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    todo = [n for n in names if not (DATA / f"{n}.cfg.gz").exists()]
    t_all = time.time()
    for i, name in enumerate(todo):
        t0 = time.time()
        rng = np.random.default_rng(sum(map(ord, name)))           # seeded by the task name
        try:
            n = write_task(name, all_tasks[name](rng))
        except RuntimeError as err:            # a failed task does not stop the others
            print(f"[{i + 1}/{len(todo)}] {name}: FAILED: {err}", flush=True)
            continue
        el = time.time() - t_all
        print(f"[{i + 1}/{len(todo)}] {name}: {n} configurations, {time.time() - t0:.0f} s "
              f"(ETA {el / (i + 1) * (len(todo) - i - 1) / 60:.0f} min)", flush=True)


if __name__ == "__main__":
    main()
