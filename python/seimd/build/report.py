"""Numbers describing a built interface model: composition, box, thicknesses, contacts, strain."""

from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree

from .interface import LPSC_FU_ATOMS, SPECORDER, broken_ps4

CONTACT_RANGE = 4.0   # pairs are searched up to this distance (A)


def _tree(pos: np.ndarray, box: np.ndarray) -> cKDTree:
    return cKDTree(np.mod(pos, box) % box, boxsize=box)


def closest_contacts(atoms: Atoms, rmax: float = CONTACT_RANGE,
                     mask_a: np.ndarray | None = None, mask_b: np.ndarray | None = None
                     ) -> dict[str, float]:
    """Shortest distance per element pair 'A-B' (periodic orthogonal cell), up to `rmax`.

    With masks, only pairs between atoms of mask_a and atoms of mask_b are considered
    (e.g. anode vs electrolyte: the contacts across the interfaces). Pairs with no
    contact within rmax are left out.
    """
    box = np.diag(atoms.cell.array).copy()
    if not np.allclose(atoms.cell.array, np.diag(box)):
        raise ValueError("closest_contacts needs an orthogonal cell")
    sym = np.array(atoms.get_chemical_symbols())
    n = len(atoms)
    mask_a = np.ones(n, bool) if mask_a is None else mask_a
    mask_b = np.ones(n, bool) if mask_b is None else mask_b
    ia, ib = np.flatnonzero(mask_a), np.flatnonzero(mask_b)
    ta, tb = _tree(atoms.positions[ia], box), _tree(atoms.positions[ib], box)
    pairs = ta.sparse_distance_matrix(tb, rmax, output_type="coo_matrix")
    i, j, d = ia[pairs.row], ib[pairs.col], pairs.data
    ok = (i != j) & (d > 0)
    i, j, d = i[ok], j[ok], d[ok]
    out: dict[str, float] = {}
    order = {s: k for k, s in enumerate(SPECORDER)}
    present = sorted(set(sym), key=lambda s: order.get(s, 99))
    for a, b in combinations_with_replacement(present, 2):
        sel = ((sym[i] == a) & (sym[j] == b)) | ((sym[i] == b) & (sym[j] == a))
        if sel.any():
            out[f"{a}-{b}"] = float(d[sel].min())
    return out


def _floats(value) -> list[float]:
    """'0 58.15' (as built) or array([0, 58.15]) (as read back from extxyz) -> floats."""
    if isinstance(value, str):
        return [float(v) for v in value.split()]
    return [float(v) for v in np.atleast_1d(value)]


def _text(value) -> str:
    return value if isinstance(value, str) else " ".join(str(v) for v in np.atleast_1d(value))


def interface_report(atoms: Atoms) -> dict:
    """A dict of the numbers the builder reports (see :func:`format_report`)."""
    info = atoms.info
    origin = atoms.arrays["origin"]
    ele, ano = origin == "electrolyte", origin == "anode"
    sym = np.array(atoms.get_chemical_symbols())
    comp = {s: int(np.count_nonzero(sym == s)) for s in SPECORDER}
    comp_e = {s: int(np.count_nonzero(sym[ele] == s)) for s in SPECORDER}
    n_fu = comp_e["P"]
    stoich = comp_e == {"Li": 6 * n_fu, "P": n_fu, "S": 5 * n_fu, "Cl": n_fu}
    lx, ly, lz = np.diag(atoms.cell.array)
    ze, za = atoms.positions[ele, 2], atoms.positions[ano, 2]
    lpsc_lo, lpsc_hi = _floats(info["lpsc_z"])
    a_li, ref = float(info["a_li"]), float(info["a_li_ref"])
    electrolyte = atoms[ele]
    electrolyte.pbc = (True, True, False)
    return {
        "model": info.get("model", "custom"),
        "natoms": len(atoms),
        "composition": comp,
        "electrolyte": {"natoms": int(ele.sum()), "formula_units": n_fu,
                        "stoichiometric": bool(stoich and ele.sum() == LPSC_FU_ATOMS * n_fu),
                        "broken_ps4": broken_ps4(electrolyte, periodic_z=False)},
        "anode": {"natoms": int(ano.sum()), "layers": int(info["li_layers"]),
                  "atoms_per_layer": int(ano.sum()) // int(info["li_layers"]),
                  "cells": _text(info["li_cells"])},
        "box": (float(lx), float(ly), float(lz)),
        "area": float(lx * ly),
        "lpsc_thickness": lpsc_hi - lpsc_lo,
        "lpsc_atom_extent": float(ze.max() - ze.min()),
        "li_thickness": float(za.max() - za.min()),
        "li_layer_spacing": a_li / np.sqrt(2),
        "gap": float(info["gap"]),
        "a_lpsc": float(info["a_lpsc"]),
        "a_li": a_li,
        "a_li_ref": ref,
        "li_strain": a_li / ref - 1.0,
        "contacts": closest_contacts(atoms),
        "interface_contacts": closest_contacts(atoms, mask_a=ano, mask_b=ele),
        "density": float(atoms.get_masses().sum() / (lx * ly * lz) * 1.66053906660),
    }


def format_report(rep: dict) -> str:
    """Text of :func:`interface_report` (A, A^2, g/cm^3, strain in %)."""
    c = rep["composition"]
    e, a = rep["electrolyte"], rep["anode"]
    lines = [
        f"model              {rep['model']}",
        f"atoms              {rep['natoms']}  (" + " ".join(f"{s} {c[s]}" for s in c) + ")",
        f"electrolyte        {e['natoms']} atoms = {e['formula_units']} f.u. Li6PS5Cl"
        f"  (stoichiometric: {'yes' if e['stoichiometric'] else 'NO'}; "
        f"broken PS4: {e['broken_ps4']})",
        f"anode              {a['natoms']} Li metal = {a['layers']} (110) layers x "
        f"{a['atoms_per_layer']} ({a['cells'].replace(' ', ' x ')} rectangular cells)",
        "box                {:.4f} x {:.4f} x {:.4f} A (orthogonal, periodic)".format(*rep["box"]),
        f"interface area     {rep['area']:.1f} A^2 (two interfaces)",
        f"LPSC slab          {rep['lpsc_thickness']:.3f} A between cut planes "
        f"(atoms span {rep['lpsc_atom_extent']:.3f} A)",
        f"Li slab            {rep['li_thickness']:.3f} A between outer planes "
        f"(layer spacing {rep['li_layer_spacing']:.4f} A)",
        f"gap                {rep['gap']:.3f} A (Li plane to LPSC cut plane)",
        f"lattice            a_LPSC {rep['a_lpsc']:.4f} A, a_Li = a_LPSC/3 = {rep['a_li']:.4f} A",
        f"Li strain          {100 * rep['li_strain']:+.2f} % (isotropic) vs bcc Li "
        f"a = {rep['a_li_ref']:.4f} A",
        f"density            {rep['density']:.4f} g/cm^3",
        "closest contacts   " + ", ".join(f"{k} {v:.3f}" for k, v in rep["contacts"].items()) + " A",
        "across interfaces  " + ", ".join(f"{k} {v:.3f}"
                                          for k, v in rep["interface_contacts"].items()) + " A",
    ]
    return "\n".join(lines)
