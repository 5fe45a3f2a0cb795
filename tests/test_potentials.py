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
