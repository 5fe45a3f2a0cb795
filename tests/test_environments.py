"""Environments of extrapolative atoms as small periodic cells (for the oracle)."""

import numpy as np

from conftest import random_potential
from seimd.active.environments import environment_cell, neighbourhood_to_cell
from seimd.active.grades import Grader, active_set_from_configurations
from seimd.io.cfg import Configuration
from seimd.mtp.calculator import MTPCalculator
from structures_for_tests import triclinic_lpsc


def test_centre_keeps_its_site_energy_and_grade(rng):
    mtp = random_potential(8, 3, seed=4)
    big = triclinic_lpsc(rng, 3).repeat((3, 3, 3))        # 1404 atoms
    big.calc = MTPCalculator(mtp, threads=1)
    site = big.get_potential_energies()
    grader = Grader.from_active_set(mtp, active_set_from_configurations(mtp, [triclinic_lpsc(rng, 3)]))
    grades = grader.atom_grades(big)
    for centre in (0, 700, 1403):
        cell = environment_cell(big, centre, radius=mtp.max_dist, vacuum=mtp.max_dist)
        assert len(cell) < 100                           # small enough for DFT
        cell.calc = MTPCalculator(mtp, threads=1)
        assert abs(cell.get_potential_energies()[0] - site[centre]) < 1e-10
        assert abs(grader.atom_grades(cell)[0] - grades[centre]) < 1e-9 * max(1.0, grades[centre])
        assert cell.info["seimd_source_atom"] == centre


def test_neighbourhood_cfg_becomes_a_cell(rng):
    mtp = random_potential(8, 2, seed=8)
    atoms = triclinic_lpsc(rng, 2)
    cell = environment_cell(atoms, 3, radius=mtp.max_dist)
    types = np.array([{"Li": 0, "P": 1}[s] for s in cell.get_chemical_symbols()])
    cfg = Configuration(types=types, positions=cell.positions - cell.positions[0], cell=None,
                        features=[("MV_grade", "3.5")])
    back = neighbourhood_to_cell(cfg, ["Li", "P"], vacuum=6.0)
    assert back.info["MV_grade"] == "3.5"
    reach = np.linalg.norm(cfg.positions, axis=1).max()
    assert np.all(back.cell.lengths() >= 2 * reach + 6.0 - 1e-9)   # copies >= 6 A apart
    back.calc = MTPCalculator(mtp, threads=1)
    cell.calc = MTPCalculator(mtp, threads=1)
    assert abs(back.get_potential_energies()[0] - cell.get_potential_energies()[0]) < 1e-10
