#!/usr/bin/env python
"""The energetics that decide SEI growth, by several teachers on the same structures.

Usage (repository root, venv with the [oracle] extra, gpaw and gpaw-data):

    python potentials/make_lipscl_sei/energetics.py structures      # 7net-0 relaxed cells, glasses
    python potentials/make_lipscl_sei/energetics.py run --teacher pbe    # resumable, hours on 1 core
    python potentials/make_lipscl_sei/energetics.py run --teacher 7net0
    python potentials/make_lipscl_sei/energetics.py run --teacher mtp:potentials/X.mtp
    python potentials/make_lipscl_sei/energetics.py table            # the README table

`structures` writes energetics-structures.extxyz (committed): the geometries every teacher is
evaluated on. `run` appends one JSON line per (teacher, structure) to energetics.jsonl
(committed) and skips what is there, so a killed run continues where it stopped.

Quantities (eV or meV/atom):
  a0        lattice constants from Birch-Murnaghan fits of 7 uniformly scaled cells (+-4 %,
            fractional coordinates fixed) of bcc Li, Li2S, LiCl, Li3P (c/a fixed), LPSC
  dE_rxn    Li6PS5Cl + 8 Li -> 5 Li2S + Li3P + LiCl, eV per formula unit, from the fits' E0
  dE_ss     5Li2S.Li3P.LiCl antifluorite solid solution against 5 Li2S + Li3P + LiCl
            (each teacher's own E0), meV/atom, per decoration
  glass-cr  E(glass) - E(crystal), same composition (Li28 S10 P2 Cl2), 7net-0-relaxed
            structures, meV/atom (positive: the crystal is stable)
  Li-rich   E(Li34 S10 P2 Cl2 glass) - E(crystal) - 6 E0(bcc Li), meV/atom of the glass
            (positive: excess Li prefers the metal)
Structures are relaxed by 7net-0 once and shared: PBE is evaluated at those geometries,
which bounds PBE's own relaxed energies from above by its residual forces (reported).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

HERE = common.HERE
STRUCTS = HERE / "energetics-structures.extxyz"
RESULTS = HERE / "energetics.jsonl"
SCALES = np.linspace(0.96, 1.04, 7)        # lattice-constant scale of the EOS points
N_DECOR = 3                                # solid-solution decorations of each cell size
N_GLASS = 2


def primitive(atoms):
    import spglib
    from ase import Atoms
    cell, frac, numbers = spglib.standardize_cell(
        (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers), to_primitive=True,
        symprec=1e-3)
    return Atoms(numbers=numbers, cell=cell, scaled_positions=frac, pbc=True)


def bulk_cells():
    """(name, primitive cell, formula units in it, kind, a, c) of the five crystals."""
    from seimd import structures as st
    from seimd.crystal_check import check, expected
    out = []
    for name, conv, kind, a, c in [
            ("Li-bcc", st.bcc_li(3.43), "bcc-Li", 3.43, None),
            ("Li2S", st.li2s_antifluorite(5.70), "antifluorite", 5.70, None),
            ("LiCl", st.licl_rocksalt(5.14), "rocksalt-LiCl", 5.14, None),
            ("Li3P", st.li3p_hexagonal(), "Li3P", st.A_LI3P, st.C_LI3P),
            ("LPSC", st.lpsc_ordered(10.28), "LPSC", 10.28, None)]:
        check(conv, name, **expected(kind, a, c))
        prim = conv if name == "Li3P" else primitive(conv)
        check(prim, name + " (primitive)", **expected(kind, a, c))
        units = len(prim) // {"Li-bcc": 1, "Li2S": 3, "LiCl": 2, "Li3P": 4, "LPSC": 13}[name]
        out.append((name, prim, units))
    return out


def _glass(x, rng, threads, explorer):
    """Melt-quench with the fast MTP explorer (5 ps at 2000 K, 10 ps quench to 300 K),
    then 7net-0: 0.3 ps Langevin at 600 K and a full relaxation (positions and cell), so the
    glass is a minimum of the labeller that every teacher is compared on."""
    from ase import units
    from ase.md.langevin import Langevin
    for attempt in range(6):        # the explorer can collapse a pair: try again, cooler
        glass, _ = common.melt_quench(x, common.teacher(explorer), rng, t_melt=2000.0 - 100 * attempt,
                                      melt_fs=5000, quench_fs=10000)
        if common.min_pair(glass) >= common.MIN_PAIR:
            break
        print(f"  explorer collapsed a pair ({common.min_pair(glass):.2f} A), retrying", flush=True)
    else:
        raise RuntimeError("the MTP explorer collapsed a pair in every melt-quench")
    calc = common.teacher("7net0", threads)
    glass.calc = calc
    Langevin(glass, 1.0 * units.fs, temperature_K=600, friction=0.05, rng=rng).run(300)
    return common.relax(glass, calc)


def make_structures(args):
    """EOS cells, 7net-0-relaxed solid solutions, glasses and Li-rich glasses.

    Appends to energetics-structures.extxyz group by group, skipping names already there,
    so an interrupted run continues."""
    from ase.io import read, write
    from seimd import structures as st
    from seimd.crystal_check import check, expected
    have = {a.info["name"] for a in read(STRUCTS, ":")} if STRUCTS.exists() else set()

    def add(atoms):
        atoms.calc = None
        write(STRUCTS, atoms, format="extxyz", append=True)
        have.add(atoms.info["name"])

    rng = np.random.default_rng(args.seed)
    for name, prim, units in bulk_cells():
        for s in SCALES:
            tag = f"eos:{name}:{s:.4f}"
            if tag not in have:
                a = prim.copy()
                a.set_cell(a.cell.array * s, scale_atoms=True)
                a.info.update(name=tag, group="eos", system=name, scale=float(s), units=units)
                add(a)
    for n in (7, 14):
        for d in range(N_DECOR):
            tag = f"ss{n}:d{d}"
            if tag in have:
                continue
            x = st.antifluorite_solution(n, seed=100 * n + d)
            check(x, f"solid solution {n}", **expected("antifluorite", st.A_LI2S))
            r = common.relax(x, common.teacher("7net0", args.threads))
            r.info.update(name=tag, group="ss", n_anions=n)
            add(r)
            print(f"{tag} relaxed, a_eff {np.cbrt(r.get_volume() / n * 4):.3f} A", flush=True)
    for g in range(N_GLASS):
        for extra, group in ((0, "glass"), (6, "lirich")):
            tag = f"{group}14:s{g}"
            if tag in have:
                continue
            t0 = time.time()
            x = st.antifluorite_solution(14, seed=500 + g, extra_li=extra)
            r = _glass(x, np.random.default_rng(1000 * g + extra), args.threads, args.explorer)
            if common.min_pair(r) < common.MIN_PAIR:
                raise RuntimeError(f"{tag}: pair at {common.min_pair(r):.2f} A")
            r.info.update(name=tag, group=group, n_anions=14)
            add(r)
            print(f"{tag} made and relaxed in {time.time() - t0:.0f} s", flush=True)
    print(f"{STRUCTS.name}: {len(have)} structures")


def done_keys():
    if not RESULTS.exists():
        return set()
    return {(r["teacher"], r["name"]) for r in map(json.loads, RESULTS.read_text().splitlines()) if r}


def run(args):
    from ase.io import read
    frames = read(STRUCTS, ":")
    done = done_keys()
    todo = [a for a in frames if (args.teacher, a.info["name"]) not in done]
    if args.only:
        todo = [a for a in todo if a.info["group"] in args.only.split(",")]
    todo.sort(key=len)                                  # cheap first
    t_start = time.time()
    for k, a in enumerate(todo):
        t0 = time.time()
        txt = None
        if args.teacher == "pbe":
            (HERE / "gpaw-logs").mkdir(exist_ok=True)
            txt = str(HERE / "gpaw-logs" / f"{a.info['name'].replace(':', '_')}.txt")
        kd = 12.0 if a.info["name"].startswith("eos:Li-bcc") else common.PBE_KDENSITY
        calc = common.teacher(args.teacher, args.threads, txt=txt, kdensity=kd)
        a.calc = calc
        e = float(a.get_potential_energy())
        f = a.get_forces()
        rec = dict(teacher=args.teacher, name=a.info["name"], group=a.info["group"],
                   n_atoms=len(a), formula=a.get_chemical_formula(), volume=float(a.get_volume()),
                   energy=e, fmax=float(np.linalg.norm(f, axis=1).max()), wall_s=time.time() - t0)
        with RESULTS.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        left = (time.time() - t_start) / (k + 1) * (len(todo) - k - 1)
        print(f"[{k + 1}/{len(todo)}] {args.teacher} {rec['name']} ({len(a)} atoms) "
              f"E/N {e / len(a):.5f} eV  fmax {rec['fmax']:.3f}  {rec['wall_s']:.0f} s  "
              f"(rough ETA {left / 60:.0f} min)", flush=True)


def results():
    out: dict[str, dict[str, dict]] = {}
    for r in map(json.loads, RESULTS.read_text().splitlines()):
        out.setdefault(r["teacher"], {})[r["name"]] = r
    return out


def summarise(recs: dict[str, dict], frames) -> dict:
    """All quantities of the docstring for one teacher (missing pieces skipped)."""
    from ase.eos import EquationOfState
    info = {a.info["name"]: a.info for a in frames}
    s: dict = {"a0": {}, "E0": {}}
    for system in ("Li-bcc", "Li2S", "LiCl", "Li3P", "LPSC"):
        pts = sorted((info[n]["scale"], r["volume"], r["energy"], info[n]["units"])
                     for n, r in recs.items() if n.startswith(f"eos:{system}:"))
        if len(pts) < 5:
            continue
        scale, v, e, units = map(np.array, zip(*pts))
        eos = EquationOfState(v, e, eos="birchmurnaghan")
        v0, e0, _ = eos.fit()
        a_ref = {"Li-bcc": 3.43, "Li2S": 5.70, "LiCl": 5.14, "Li3P": 4.27, "LPSC": 10.28}[system]
        v1 = v[np.argmin(np.abs(scale - 1.0))]              # the unscaled cell
        s["a0"][system] = a_ref * (v0 / v1) ** (1 / 3)
        s["E0"][system] = e0 / units[0]                   # eV per formula unit
    E0 = s["E0"]
    if all(k in E0 for k in ("Li-bcc", "Li2S", "LiCl", "Li3P", "LPSC")):
        s["dE_rxn"] = 5 * E0["Li2S"] + E0["Li3P"] + E0["LiCl"] - E0["LPSC"] - 8 * E0["Li-bcc"]
    sep = 5 * E0.get("Li2S", np.nan) + E0.get("Li3P", np.nan) + E0.get("LiCl", np.nan)  # 21 atoms
    for n, r in recs.items():
        g = info[n]["group"]
        if g == "ss":
            fu = info[n]["n_anions"] // 7
            s.setdefault("dE_ss", {})[n] = 1e3 * (r["energy"] - fu * sep) / r["n_atoms"]
    cryst = [r["energy"] / r["n_atoms"] for n, r in recs.items() if n.startswith("ss14:")]
    if cryst:
        ec = float(np.min(cryst))
        s["E_cryst14_min"] = ec
        for n, r in recs.items():
            if info[n]["group"] == "glass":
                s.setdefault("glass-cr", {})[n] = 1e3 * (r["energy"] / r["n_atoms"] - ec)
            if info[n]["group"] == "lirich" and "Li-bcc" in E0:
                s.setdefault("Li-rich", {})[n] = 1e3 * (r["energy"] - 42 * ec - 6 * E0["Li-bcc"]) / r["n_atoms"]
    s["fmax"] = {n: r["fmax"] for n, r in recs.items() if not n.startswith("eos:")}
    return s


def table(args):
    from ase.io import read
    frames = read(STRUCTS, ":")
    allres = results()
    teachers = list(allres)
    sums = {t: summarise(allres[t], frames) for t in teachers}
    print("| quantity | " + " | ".join(teachers) + " |")
    print("|---|" + "---|" * len(teachers))
    for system in ("Li-bcc", "Li2S", "LiCl", "Li3P", "LPSC"):
        print(f"| a0 {system} (A) | " + " | ".join(
            f"{sums[t]['a0'][system]:.3f}" if system in sums[t]["a0"] else "-" for t in teachers) + " |")
    print("| dE reaction (eV/f.u.) | " + " | ".join(
        f"{sums[t]['dE_rxn']:.3f}" if "dE_rxn" in sums[t] else "-" for t in teachers) + " |")
    for key, label in (("dE_ss", "solid solution - products"), ("glass-cr", "glass - crystal"),
                       ("Li-rich", "Li-rich glass - (crystal + Li)")):
        names = sorted({n for t in teachers for n in sums[t].get(key, {})})
        for n in names:
            print(f"| {label} {n} (meV/atom) | " + " | ".join(
                f"{sums[t][key][n]:.1f}" if n in sums[t].get(key, {}) else "-" for t in teachers) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(sums, indent=1, default=float))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["structures", "run", "table"])
    ap.add_argument("--teacher", default="7net0", help="7net0, pbe or mtp:PATH")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--explorer", default="mtp:potentials/lipscl-l08-7net0-al-s.mtp",
                    help="structures: the fast potential that melts and quenches the glasses")
    ap.add_argument("--only", default="", help="comma-separated groups (eos, ss, glass, lirich)")
    ap.add_argument("--json", default="", help="table: also write the summary as JSON")
    args = ap.parse_args()
    {"structures": make_structures, "run": run, "table": table}[args.what](args)


if __name__ == "__main__":
    main()
