#!/usr/bin/env python
"""Errors of MTPs against the labels of train-sei.cfg, per data family, on the held-out
configurations of `seimd train --holdout 0.1 --seed 0` (the same split: it depends only on
the number of configurations and the seed) and on the rest.

    python potentials/make_lipscl_sei/family_errors.py --mtp potentials/make_lipscl_sei/lipscl-l08-sei-v3b.mtp [--mtp ...]

Family = the first field of a configuration's `tag` feature (crystal, ss, glass, small, ...;
small cells split into crystal/octa/glass and PBE or 7net-0 by their `teacher` feature),
"reduction" for the untagged make_lipscl_l08 data. Energies in meV/atom (RMSE of E/N),
forces eV/A (RMSE over components). Units and labels are those of the training set: 7net-0,
and PBE shifted onto 7net-0's scale for the small cells (pbe_labels.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def family(features: dict) -> str:
    tag = features.get("tag", "")
    if not tag:
        return "reduction (make_lipscl_l08)"
    parts = tag.split(":")
    if parts[0] == "small":
        kind = parts[1].split("+")[0]
        return f"small {kind} ({'PBE' if features.get('teacher') == 'pbe' else '7net-0'})"
    if parts[0] == "crystal" and len(parts) > 1:
        return f"crystal {parts[1]}"
    return parts[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mtp", action="append", required=True, help="potential (repeatable)")
    ap.add_argument("--data", default=str(common.HERE / "train-sei.cfg"))
    ap.add_argument("--holdout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from ase import Atoms
    from seimd.io.cfg import read_cfg
    from seimd.mtp.calculator import evaluate, load_kernel
    from seimd.train import split_holdout
    from seimd.train.data import to_training_set

    confs = read_cfg(Path(args.data).read_text())
    _, held = split_holdout(len(confs), args.holdout, args.seed)
    held = set(held.tolist())
    fams = [family(dict(c.features)) for c in confs]
    data = to_training_set(confs)
    for path in args.mtp:
        kernel = load_kernel(path)
        err = {}
        for i, c in enumerate(data):
            atoms = Atoms(positions=c.positions, cell=c.cell, pbc=c.pbc)
            out = evaluate(kernel, atoms, c.species)
            energy = float(np.sum(out["site_energies"]))
            de = (energy - c.energy) / c.n_atoms * 1e3 if c.energy is not None else np.nan
            df = (out["forces"] - c.forces).ravel() if c.forces is not None else np.empty(0)
            key = (fams[i], i in held)
            e = err.setdefault(key, {"e": [], "f": []})
            e["e"].append(de)
            e["f"].append(df)
        print(f"== {Path(path).name}: {len(held)} held-out of {len(confs)}")
        print(f"{'family':>30} {'n out':>5} {'E out':>7} {'F out':>6} {'n in':>5} {'E in':>7} {'F in':>6}")
        for fam in sorted(set(fams)):
            cols = []
            for out_ in (True, False):
                e = err.get((fam, out_))
                if not e:
                    cols.append(f"{0:5d} {'-':>7} {'-':>6}")
                    continue
                ee = np.array(e["e"])
                ff = np.concatenate(e["f"])
                cols.append(f"{len(ee):5d} {np.sqrt(np.nanmean(ee ** 2)):7.1f} "
                            f"{np.sqrt(np.mean(ff ** 2)) if len(ff) else np.nan:6.3f}")
            print(f"{fam:>30} " + " ".join(cols))


if __name__ == "__main__":
    main()
