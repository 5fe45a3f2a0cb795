"""The potentials shipped in potentials/ load in Python and C++ and behave on LPSC."""

from pathlib import Path

import numpy as np
import pytest

from seimd import _kernel
from seimd.mtp.calculator import MTPCalculator
from seimd.mtp.model import MTP
from seimd.structures import lpsc_ordered

SHIPPED = sorted((Path(__file__).resolve().parents[1] / "potentials").glob("*.mtp"))


def test_there_are_shipped_potentials():
    assert len(SHIPPED) >= 2


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_potential_is_trained_and_named(path):
    mtp = MTP.read(path)
    assert mtp.is_trained and mtp.elements == ["Li", "P", "S", "Cl"]
    assert mtp.max_dist == 5.0
    assert _kernel.Model.read(str(path)).elements == ["Li", "P", "S", "Cl"]
    atoms = lpsc_ordered()
    atoms.calc = MTPCalculator(path, threads=1)
    forces = atoms.get_forces()
    assert np.isfinite(atoms.get_potential_energy())
    # the ideal F-43m cell is a (near-)equilibrium structure: small forces by symmetry
    assert np.abs(forces).max() < 1.0


# SevenNet-0 (the labeller) lattice constants, A: Birch-Murnaghan fits of the same isotropic
# +-5 % scans (potentials/make_lipscl_l08/evaluate.py; values in potentials/README.md)
LABELLER_LATTICE = {"bcc Li": 3.4298, "Li2S": 5.6166, "Li6PS5Cl": 10.2828}


def test_default_potential_lattice_constants_against_its_labeller():
    """The default potential of sei.in (potentials/lipscl-l08-7net0-al-s.mtp) gives the
    lattice constants of bcc Li, Li2S and LPSC within 2.5 % of SevenNet-0's."""
    from ase.build import bulk
    from ase.eos import EquationOfState

    from seimd.structures import bcc_li

    path = Path(__file__).resolve().parents[1] / "potentials" / "lipscl-l08-7net0-al-s.mtp"
    sei_in = (path.parents[1] / "inputs" / "sei.in").read_text()
    assert f"index potentials/{path.name}" in sei_in          # it is the default
    calc = MTPCalculator(path, threads=1)
    systems = {"bcc Li": bcc_li(repeat=(2, 2, 2)), "Li2S": bulk("SLi2", "fluorite", a=5.6, cubic=True),
               "Li6PS5Cl": lpsc_ordered()}
    for name, atoms in systems.items():
        a0 = atoms.cell.lengths()[0] / (2 if name == "bcc Li" else 1)
        volumes, energies = [], []
        for x in np.linspace(-0.05, 0.05, 11):
            strained = atoms.copy()
            strained.set_cell(atoms.cell.array * (1 + x), scale_atoms=True)
            strained.calc = calc
            volumes.append(strained.get_volume())
            energies.append(strained.get_potential_energy())
        v0, _, _ = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
        a = a0 * (v0 / atoms.get_volume()) ** (1 / 3)
        assert abs(a / LABELLER_LATTICE[name] - 1) < 0.025, (name, a)
