"""Shared pieces of the make_lipscl_sei pipeline: teachers (labellers), relaxation, glass.

Teachers (ASE calculators, built once per process):
  7net0  SevenNet-0 (weights inside the sevenn wheel; torch on the CPU), the labeller
  pbe    GPAW, PBE, plane waves (ecut 450 eV), Fermi-Dirac 0.05 eV, k-point density
         3.5 / A^-1 (Monkhorst-Pack, Gamma-centred; 12 for the 1-atom bcc Li cell, whose
         E(V) is otherwise ragged by 10 meV); PAW setups from gpaw-data
  mtp:PATH  an MTP through seimd's ASE calculator (to compare a trained potential)

Every structure is checked (seimd.crystal_check) before it is used: crystals by space group
and neighbour shells; glasses by the absence of pairs closer than MIN_PAIR.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPECIES = ["Li", "P", "S", "Cl"]
MIN_PAIR = 1.5                     # A; shorter pairs are unphysical here (7net-0's soft Li-Li)
PBE_ECUT = 450.0                   # eV
PBE_KDENSITY = 3.5                 # k-points per A^-1 (ASE's kpts density)

_TEACHERS: dict[str, object] = {}


def teacher(name: str, threads: int = 1, txt: str | None = None, kdensity: float = PBE_KDENSITY):
    """The ASE calculator of a teacher (cached per process; a fresh GPAW each call).

    kdensity: PBE k-points per A^-1; a metal's small cell needs more (bcc Li: 12)."""
    if name in _TEACHERS:
        return _TEACHERS[name]
    if name == "7net0":
        import torch
        torch.set_num_threads(threads)
        from sevenn.calculator import SevenNetCalculator
        calc = SevenNetCalculator("7net-0", device="cpu")
    elif name == "pbe":
        from gpaw import GPAW, PW, FermiDirac
        calc = GPAW(mode=PW(PBE_ECUT), xc="PBE", occupations=FermiDirac(0.05),
                    kpts={"density": kdensity, "gamma": True},
                    convergence={"energy": 1e-5}, txt=txt or os.devnull)
        return calc                # a fresh GPAW per structure (no state carried over)
    elif name.startswith("mtp:"):
        from seimd.mtp.calculator import MTPCalculator
        calc = MTPCalculator(name[4:])
    else:
        raise ValueError(f"unknown teacher {name!r} (7net0, pbe, mtp:PATH)")
    _TEACHERS[name] = calc
    return calc


def min_pair(atoms) -> float:
    if len(atoms) < 2:
        return 9.0
    from ase.neighborlist import neighbor_list
    d = neighbor_list("d", atoms, 4.0)
    return float(d.min()) if len(d) else 9.0


def relax(atoms, calc, fmax: float = 0.02, steps: int = 400, cell: bool = True):
    """Positions (and cell, hydrostatic + shear) relaxed with FIRE; returns a copy."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE
    a = atoms.copy()
    a.calc = calc
    target = FrechetCellFilter(a) if cell else a
    FIRE(target, logfile=None).run(fmax=fmax, steps=steps)
    return a


def melt_quench(atoms, calc, rng, t_melt: float = 1800.0, t_end: float = 300.0,
                melt_fs: int = 2000, quench_fs: int = 4000, dt_fs: float = 1.0,
                frames_every: int = 0):
    """NVT melt (Langevin) at t_melt, linear quench to t_end; returns (glass, frames).

    frames: copies every `frames_every` steps (0: none) along melt and quench, unlabelled.
    The density stays the crystal's; relax(cell=True) afterwards finds the glass's own.
    """
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    a = atoms.copy()
    a.calc = calc
    MaxwellBoltzmannDistribution(a, temperature_K=t_melt, rng=rng)
    dyn = Langevin(a, dt_fs * units.fs, temperature_K=t_melt, friction=0.02, rng=rng)
    frames = []
    if frames_every:
        dyn.attach(lambda: frames.append(a.copy()), interval=frames_every)
    dyn.run(melt_fs)
    n_blocks = 20
    for k in range(n_blocks):
        dyn.set_temperature(temperature_K=t_melt + (t_end - t_melt) * (k + 1) / n_blocks)
        dyn.run(quench_fs // n_blocks)
    out = a.copy()
    out.calc = None
    return out, frames


def labelled(atoms, calc, tag: str):
    """A copy of atoms with energy, forces, stress of calc (SinglePointCalculator)."""
    from ase.calculators.singlepoint import SinglePointCalculator
    a = atoms.copy()
    a.calc = calc
    e, f, s = a.get_potential_energy(), a.get_forces(), a.get_stress()
    out = atoms.copy()
    out.calc = SinglePointCalculator(out, energy=e, forces=f, stress=s)
    out.info["tag"] = tag
    return out
