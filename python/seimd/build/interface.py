"""Li(110) | Li6PS5Cl(110) interface models (models I and II of Chaney et al. 2024).

The recipe is docs/interface-models.md. Lengths in Angstrom.

Frame (all slabs and the interface cell):

* x || [-110] (= the [1-10] direction family; the sign keeps the frame right-handed),
* y || [001],
* z || [110], the interface normal.

LPSC(110): the orthogonal 4-f.u. block a*sqrt2 x a x a/sqrt2 (52 atoms) of the ordered
F-43m cell (:func:`seimd.structures.lpsc_ordered`). Each block holds two stoichiometric
sublayers 3.635 A (a/(2 sqrt2)) apart; the PS4 tetrahedra span +-1.68 A about the P planes,
so the slab is cut ``cut`` = 1.82 A above a P/Cl plane (allowed window 1.68..1.95 A at
a = 10.28): every PS4 stays whole and the slab is stoichiometric.

bcc Li(110): rectangular cell a_Li*sqrt2 x a_Li, 2 atoms per layer, layer spacing
a_Li/sqrt2, with a_Li = a_LPSC/3 (3 x 3 Li cells per LPSC block laterally); Li [001] ||
LPSC [001], Li [1-10] || LPSC [1-10].

Stacking along z (periodic, two interfaces, no vacuum)::

    z = 0 ........ T_LPSC                   LPSC slab, cut planes at 0 and T = N a/sqrt2
    z = T + gap .. T + gap + (n-1) d        Li layers (d = a_Li/sqrt2)
    c = T + (n-1) d + 2 gap                 (the next LPSC cut plane, periodic image of 0)

``gap`` is the distance from the outermost Li-metal plane to the LPSC cut plane; the
closest LPSC atoms sit 0.14 A (S) and 0.17 A (Li) inside the cut plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from ..structures import A_LPSC, bcc_li, lpsc_ordered

A_LI_REF = 3.437           # bcc Li, PBE (A): the reference for the reported Li strain
GAP = 2.2                  # Li plane to LPSC cut plane (A)
CUT = 1.82                 # LPSC cut height above a P/Cl plane (A)
LI_CELLS_PER_BLOCK = 3     # lateral Li (110) cells per LPSC block edge: a_Li = a_LPSC / 3
SPECORDER = ("Li", "P", "S", "Cl")   # LAMMPS atom types 1..4
LPSC_FU_ATOMS = 13         # Li6 P S5 Cl
PS4_CUTOFF = 2.5           # P-S bond criterion (A)

# x, y, z unit vectors of the interface frame in cubic coordinates
_FRAME = np.array([[-1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
_FRAME /= np.linalg.norm(_FRAME, axis=1)[:, None]

# Wyckoff label of each `spacegroup_kinds` entry of lpsc_ordered()
_LPSC_SITES = ("Cl4a", "S4c", "P4b", "S16e", "Li24g")


@dataclass(frozen=True)
class ModelSpec:
    """Repeats of a named model: LPSC blocks laterally, LPSC blocks along z, Li layers."""

    lateral: tuple[int, int]
    lpsc_blocks: int
    li_layers: int
    description: str = ""


MODELS: dict[str, ModelSpec] = {
    "XS": ModelSpec((1, 1), 2, 6, "tests: 1x1 LPSC blocks (3x3 Li cells), 2 blocks, 6 Li layers"),
    "S": ModelSpec((2, 2), 4, 10, "quick runs: 2x2 LPSC blocks (6x6 Li cells), 4 blocks, 10 Li layers"),
    "M": ModelSpec((3, 3), 4, 12, "model I lateral cell, thinner slabs"),
    "I": ModelSpec((3, 3), 8, 26, "paper model I: 288 f.u. + 4212 Li = 7956 atoms"),
    "II": ModelSpec((6, 6), 8, 26, "paper model II: model I 2x2 laterally, 31824 atoms"),
}


def _orthogonal_block(cubic: Atoms, a: float, lengths: tuple[float, float, float],
                      expected: int) -> tuple[np.ndarray, np.ndarray]:
    """Atoms of the orthogonal block (lengths along x, y, z of _FRAME) cut from a cubic crystal.

    Returns (indices into `cubic`, positions in the frame) of the `expected` atoms.
    """
    rng = np.arange(-3, 4)
    shifts = np.array(np.meshgrid(rng, rng, rng, indexing="ij")).reshape(3, -1).T * a
    pos = (cubic.positions[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    idx = np.tile(np.arange(len(cubic)), len(shifts))
    q = pos @ _FRAME.T
    s = q / np.asarray(lengths)
    tol = 1e-8
    keep = np.all((s > -tol) & (s < 1 - tol), axis=1)
    if keep.sum() != expected:
        raise RuntimeError(f"orthogonal block has {keep.sum()} atoms, expected {expected}")
    q = q[keep]
    q[np.abs(q) < tol] = 0.0
    return idx[keep], q


def lpsc110_block(a: float = A_LPSC) -> Atoms:
    """The orthogonal 4-f.u. LPSC block: x=[-110] a*sqrt2, y=[001] a, z=[110] a/sqrt2.

    52 atoms with per-atom array ``site`` (Cl4a, S4c, P4b, S16e, Li24g); P/Cl planes at
    z = 0 and a/(2 sqrt2).
    """
    cubic = lpsc_ordered(a)
    lengths = (a * np.sqrt(2), a, a / np.sqrt(2))
    idx, q = _orthogonal_block(cubic, a, lengths, 52)
    block = Atoms(cubic.numbers[idx], positions=q, cell=np.diag(lengths), pbc=True)
    block.arrays["site"] = np.array([_LPSC_SITES[k] for k in cubic.arrays["spacegroup_kinds"][idx]])
    return block


def lpsc110_slab(a: float = A_LPSC, lateral: tuple[int, int] = (1, 1), blocks: int = 1,
                 cut: float = CUT) -> Atoms:
    """Stoichiometric LPSC(110) slab of `blocks` blocks, atoms in 0 <= z < blocks*a/sqrt2.

    The cut planes lie `cut` A above a P/Cl plane, so no PS4 tetrahedron is broken. The
    cell is the slab's periodic cell (c = blocks*a/sqrt2); use it without z-periodicity.
    """
    if blocks < 1 or min(lateral) < 1:
        raise ValueError("lateral repeats and blocks must be >= 1")
    half = a / (2 * np.sqrt(2))
    if not 0.0 < cut < half:
        raise ValueError(f"cut must lie in (0, {half:.3f}) A above a P/Cl plane")
    slab = lpsc110_block(a).repeat((lateral[0], lateral[1], blocks))
    lz = slab.cell[2, 2]
    z = np.mod(slab.positions[:, 2] - cut, lz)
    z[np.isclose(z, lz, atol=1e-9, rtol=0)] = 0.0
    slab.positions[:, 2] = z
    order = np.lexsort((slab.numbers, z))
    slab = slab[order]
    broken = broken_ps4(slab, periodic_z=False)
    if broken:
        raise ValueError(f"cut = {cut} A breaks {broken} PS4 tetrahedra; choose a cut "
                         f"between the S (1.68 A) and the next sublayer's S (1.95 A at a=10.28)")
    return slab


def li110_slab(a_li: float, lateral_cells: tuple[int, int] = (1, 1), layers: int = 2) -> Atoms:
    """bcc Li(110) slab: rectangular cells a_li*sqrt2 (x, [-110]) x a_li (y, [001]).

    2 atoms per layer and cell, layer spacing a_li/sqrt2, first layer at z = 0; the cell's
    c is layers*a_li/sqrt2 (the bulk period for even `layers`).
    """
    if layers < 1 or min(lateral_cells) < 1:
        raise ValueError("lateral cells and layers must be >= 1")
    d = a_li / np.sqrt(2)
    lengths = (a_li * np.sqrt(2), a_li, a_li * np.sqrt(2))
    idx, q = _orthogonal_block(bcc_li(a_li), a_li, lengths, 4)
    block = Atoms(["Li"] * 4, positions=q, cell=np.diag(lengths), pbc=True)
    nz = (layers + 1) // 2
    slab = block.repeat((lateral_cells[0], lateral_cells[1], nz))
    slab = slab[slab.positions[:, 2] < (layers - 0.5) * d]
    slab.set_cell(np.diag([lengths[0] * lateral_cells[0], lengths[1] * lateral_cells[1],
                           layers * d]))
    slab = slab[np.lexsort((slab.positions[:, 0], slab.positions[:, 1], slab.positions[:, 2]))]
    return slab


def broken_ps4(atoms: Atoms, periodic_z: bool = True, cutoff: float = PS4_CUTOFF) -> int:
    """Number of P atoms that do not have exactly 4 S within `cutoff` (x, y periodic)."""
    ns = ps4_coordination(atoms, periodic_z=periodic_z, cutoff=cutoff)
    return int(np.count_nonzero(ns != 4))


def ps4_coordination(atoms: Atoms, periodic_z: bool = True, cutoff: float = PS4_CUTOFF) -> np.ndarray:
    """Number of S within `cutoff` of each P (orthogonal cell; z periodic or not)."""
    sym = np.array(atoms.get_chemical_symbols())
    p = atoms.positions[sym == "P"]
    s = atoms.positions[sym == "S"]
    lengths = np.diag(atoms.cell.array)
    counts = np.zeros(len(p), dtype=int)
    for k in range(0, len(p), 256):
        d = s[None, :, :] - p[k:k + 256, None, :]
        for ax in (0, 1, 2) if periodic_z else (0, 1):
            d[..., ax] -= lengths[ax] * np.round(d[..., ax] / lengths[ax])
        counts[k:k + 256] = np.count_nonzero(np.einsum("ijk,ijk->ij", d, d) < cutoff**2, axis=1)
    return counts


def build_interface(lateral: tuple[int, int] = (3, 3), lpsc_blocks: int = 8, li_layers: int = 26,
                    a_lpsc: float = A_LPSC, gap: float = GAP, cut: float = CUT,
                    li_shift: tuple[float, float] = (0.0, 0.0), a_li_ref: float = A_LI_REF,
                    site_exchange: float = 0.0, seed: int | None = None,
                    name: str = "custom") -> Atoms:
    """Periodic Li(110) | LPSC(110) | Li(110) cell with two interfaces and no vacuum.

    lateral: LPSC blocks along x and y (the Li slab gets 3x that many (110) cells).
    lpsc_blocks: LPSC blocks (4 f.u., a/sqrt2 thick) along z. li_layers: Li(110) layers.
    a_lpsc: LPSC lattice constant (A); the Li slab is bcc with a_Li = a_lpsc/3 (isotropic),
    its strain is reported against `a_li_ref`. gap: outermost Li plane to LPSC cut plane (A).
    li_shift: lateral shift of the Li slab, in fractions of a Li (110) cell (x, y).
    site_exchange: fraction of the free S2- (4c) that swap places with Cl- (4a) at random
    (argyrodite anion-site disorder; keeps the stoichiometry); `seed` seeds it.

    Atoms: electrolyte first (ids 1..N_LPSC), then the anode. Per-atom arrays ``origin``
    ('electrolyte' / 'anode') and ``site`` (Wyckoff site in the bulk LPSC, 'bcc' for the
    anode). ``atoms.info`` keeps the parameters and the derived lengths.
    """
    if gap <= 0:
        raise ValueError("gap must be > 0")
    if not 0.0 <= site_exchange <= 1.0:
        raise ValueError("site_exchange must lie in [0, 1]")
    nx, ny = lateral
    a_li = a_lpsc / LI_CELLS_PER_BLOCK
    d_li = a_li / np.sqrt(2)
    lpsc = lpsc110_slab(a_lpsc, (nx, ny), lpsc_blocks, cut)
    li = li110_slab(a_li, (LI_CELLS_PER_BLOCK * nx, LI_CELLS_PER_BLOCK * ny), li_layers)
    t_lpsc = lpsc.cell[2, 2]
    c = t_lpsc + (li_layers - 1) * d_li + 2 * gap
    lx, ly = lpsc.cell[0, 0], lpsc.cell[1, 1]

    if site_exchange > 0:
        rng = np.random.default_rng(seed)
        s4c = np.flatnonzero(lpsc.arrays["site"] == "S4c")
        cl4a = np.flatnonzero(lpsc.arrays["site"] == "Cl4a")
        k = int(round(site_exchange * len(s4c)))
        a_idx, b_idx = rng.choice(s4c, k, replace=False), rng.choice(cl4a, k, replace=False)
        numbers = lpsc.numbers.copy()
        numbers[a_idx], numbers[b_idx] = lpsc.numbers[b_idx], lpsc.numbers[a_idx]
        lpsc.numbers = numbers
        sites = lpsc.arrays["site"].copy()
        sites[a_idx], sites[b_idx] = "Cl4c", "S4a"
        lpsc.arrays["site"] = sites

    li.positions[:, 0] += li_shift[0] * a_li * np.sqrt(2)
    li.positions[:, 1] += li_shift[1] * a_li
    li.positions[:, 2] += t_lpsc + gap

    atoms = Atoms(np.concatenate([lpsc.numbers, li.numbers]),
                  positions=np.vstack([lpsc.positions, li.positions]),
                  cell=np.diag([lx, ly, c]), pbc=True)
    xy = np.mod(atoms.positions[:, :2], [lx, ly])
    xy[np.isclose(xy, [lx, ly], atol=1e-9, rtol=0)] = 0.0
    atoms.positions[:, :2] = xy
    n_e = len(lpsc)
    atoms.arrays["origin"] = np.array(["electrolyte"] * n_e + ["anode"] * len(li))
    atoms.arrays["site"] = np.concatenate([lpsc.arrays["site"], np.array(["bcc"] * len(li))])
    atoms.info.update(
        model=name, lateral=f"{nx} {ny}", lpsc_blocks=lpsc_blocks, li_layers=li_layers,
        li_cells=f"{LI_CELLS_PER_BLOCK * nx} {LI_CELLS_PER_BLOCK * ny}",
        a_lpsc=a_lpsc, a_li=a_li, a_li_ref=a_li_ref, gap=gap, cut=cut,
        li_shift=f"{li_shift[0]:g} {li_shift[1]:g}", site_exchange=site_exchange,
        seed=-1 if seed is None else seed,
        lpsc_z=f"0 {t_lpsc:.6f}", li_z=f"{t_lpsc + gap:.6f} {t_lpsc + gap + (li_layers - 1) * d_li:.6f}",
        n_electrolyte=n_e, n_anode=len(li),
    )
    return atoms


def named_model(name: str, lateral: tuple[int, int] | None = None, lpsc_blocks: int | None = None,
                li_layers: int | None = None, **kwargs) -> Atoms:
    """A model of MODELS (XS, S, M, I, II), optionally with some repeats overridden."""
    key = name.upper()
    if key not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    spec = MODELS[key]
    for what, value in (("lpsc_blocks", lpsc_blocks), ("li_layers", li_layers)):
        if value is not None and int(value) < 1:
            raise ValueError(f"{what} must be at least 1, got {value}")
    if lateral is not None and min(lateral) < 1:
        raise ValueError(f"lateral repeats must be at least 1, got {tuple(lateral)}")
    return build_interface(lateral=tuple(lateral) if lateral else spec.lateral,
                           lpsc_blocks=spec.lpsc_blocks if lpsc_blocks is None else lpsc_blocks,
                           li_layers=spec.li_layers if li_layers is None else li_layers,
                           name=key, **kwargs)
