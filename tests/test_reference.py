"""The pure-NumPy reference MTP evaluator (seimd.mtp.reference).

Forces and stress are checked against central finite differences of the
energy, energies against the labels the sample potential was trained on, and
the energy against translations and rotations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from seimd.io.cfg import read_cfg, to_atoms
from seimd.mtp.model import MTP
from seimd.mtp.random import random_mtp
from seimd.mtp.reference import ReferenceCalculator, ReferenceMTP

SAMPLES = Path(__file__).resolve().parent / "data"
SAMPLE_MTP = SAMPLES / "lipscl-l08-sample.mtp"
SAMPLE_CFG = SAMPLES / "lipscl-sample.cfg"
SAMPLE_ELEMENTS = ["Li", "P", "S", "Cl"]
H = 1e-5  # finite-difference step, Angstrom (and strain)


@pytest.fixture(scope="module")
def sample() -> MTP:
    return MTP.read(SAMPLE_MTP)


def random_potential(sample: MTP, species: int, seed: int) -> MTP:
    """A random potential on the sample's level-08 moment basis."""
    return random_mtp(sample.alpha_index_basic, sample.alpha_index_times,
                      sample.alpha_moment_mapping, sample.alpha_moments_count,
                      sample.radial_funcs_count, species, seed)


def triclinic_cell(n_atoms: int, species: int, seed: int) -> Atoms:
    """Random atoms (no pair closer than 1.9 A) in a skewed periodic cell."""
    rng = np.random.default_rng(seed)
    cell = np.array([[6.0, 0.3, 0.2], [0.8, 5.5, 0.1], [-0.6, 0.9, 6.2]])
    atoms = Atoms(cell=cell, pbc=True)
    while len(atoms) < n_atoms:
        trial = atoms + Atoms("X", positions=[rng.random(3) @ cell])
        if neighbor_list("d", trial, 1.9).size == 0:
            atoms = trial
    atoms.arrays["mtp_type"] = rng.integers(0, species, n_atoms)
    return atoms


def small_bcc_cell(species: int, seed: int) -> Atoms:
    """2-atom bcc Li, a = 3.43 A < cutoff, rattled and sheared: atoms see their images."""
    rng = np.random.default_rng(seed)
    atoms = bulk("Li", "bcc", a=3.43, cubic=True)
    atoms.set_cell(atoms.cell.array @ (np.eye(3) + 0.03 * rng.normal(size=(3, 3))),
                   scale_atoms=True)
    atoms.positions += 0.15 * rng.normal(size=(2, 3))
    atoms.arrays["mtp_type"] = np.arange(2) % species
    return atoms


def energy(model: ReferenceMTP, atoms: Atoms) -> float:
    return float(model.site_energies(atoms).sum())


def finite_difference_forces(model: ReferenceMTP, atoms: Atoms) -> np.ndarray:
    forces = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for d in range(3):
            shifted = []
            for step in (H, -H):
                moved = atoms.copy()
                moved.positions[i, d] += step
                shifted.append(energy(model, moved))
            forces[i, d] = -(shifted[0] - shifted[1]) / (2 * H)
    return forces


def finite_difference_strain_derivative(model: ReferenceMTP, atoms: Atoms) -> np.ndarray:
    """dE/d(eps_ab), cell and positions deformed by (I + eps)."""
    out = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            values = []
            for step in (H, -H):
                deform = np.eye(3)
                deform[a, b] += step
                strained = atoms.copy()
                strained.set_cell(atoms.cell.array @ deform.T, scale_atoms=False)
                strained.positions = atoms.positions @ deform.T
                values.append(energy(model, strained))
            out[a, b] = (values[0] - values[1]) / (2 * H)
    return out


def voigt(matrix: np.ndarray) -> np.ndarray:
    return matrix[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]


CASES = [
    pytest.param(1, "triclinic", id="1species-triclinic14"),
    pytest.param(3, "triclinic", id="3species-triclinic14"),
    pytest.param(1, "small", id="1species-bcc2-images"),
    pytest.param(3, "small", id="3species-bcc2-images"),
]


@pytest.mark.parametrize("species,kind", CASES)
def test_forces_and_stress_match_finite_differences(sample: MTP, species: int, kind: str) -> None:
    model = ReferenceMTP(random_potential(sample, species, seed=11 + species))
    atoms = triclinic_cell(14, species, seed=5) if kind == "triclinic" else small_bcc_cell(species, 2)
    out = model.calculate(atoms)
    assert out["energy"] == pytest.approx(energy(model, atoms), rel=1e-13)
    np.testing.assert_allclose(out["site_energies"].sum(), out["energy"], rtol=1e-13)
    scale = max(1.0, np.abs(out["forces"]).max())
    assert np.abs(out["forces"]).max() > 1e-2, "forces too small for a meaningful check"
    fd_forces = finite_difference_forces(model, atoms)
    assert np.abs(out["forces"] - fd_forces).max() < 1e-6 * scale
    assert np.abs(out["forces"].sum(axis=0)).max() < 1e-10 * scale  # Newton's third law
    # virial: W = -dE/d(eps), stress = dE/d(eps) / V (symmetric)
    fd_strain = finite_difference_strain_derivative(model, atoms)
    vscale = max(1.0, np.abs(out["virial"]).max())
    assert np.abs(out["virial"] + fd_strain).max() < 1e-6 * vscale
    np.testing.assert_allclose(out["virial"], out["virial"].T, atol=1e-10 * vscale)
    volume = atoms.get_volume()
    assert np.abs(out["stress"] - voigt(fd_strain) / volume).max() < 1e-6 * vscale / volume


def test_small_cell_sees_its_images(sample: MTP) -> None:
    """One atom alone in a 3 A cubic cell interacts with its own images only,
    and a 2x2x2 supercell has the same energy per atom."""
    model = ReferenceMTP(random_potential(sample, 1, seed=3))
    atoms = Atoms("X", positions=[[0.2, 0.1, 0.3]], cell=np.eye(3) * 3.0, pbc=True)
    atoms.arrays["mtp_type"] = np.zeros(1, dtype=int)
    one = model.calculate(atoms)
    assert one["energy"] != pytest.approx(model.mtp.species_coeffs[0], abs=1e-3)
    np.testing.assert_allclose(one["forces"], 0.0, atol=1e-12)
    big = atoms.repeat((2, 2, 2))
    eight = model.calculate(big)
    np.testing.assert_allclose(eight["site_energies"], one["energy"], rtol=1e-12)
    np.testing.assert_allclose(eight["stress"], one["stress"], rtol=1e-10, atol=1e-12)


def test_isolated_cluster(sample: MTP) -> None:
    model = ReferenceMTP(random_potential(sample, 3, seed=9))
    atoms = triclinic_cell(8, 3, seed=1)
    atoms.pbc = False
    out = model.calculate(atoms)
    assert out["stress"] is None
    np.testing.assert_allclose(out["forces"], finite_difference_forces(model, atoms), atol=1e-7)


def test_pairs_beyond_cutoff_do_not_count(sample: MTP) -> None:
    model = ReferenceMTP(random_potential(sample, 1, seed=2))
    dimer = Atoms("X2", positions=[[0, 0, 0], [0, 0, 5.0]])
    dimer.arrays["mtp_type"] = np.zeros(2, dtype=int)
    np.testing.assert_array_equal(model.site_energies(dimer), model.mtp.species_coeffs[[0, 0]])
    dimer.positions[1, 2] = 4.999
    assert np.all(model.site_energies(dimer) != model.mtp.species_coeffs[0])


def test_sample_potential_reproduces_sample_labels(sample: MTP) -> None:
    """The sample potential was trained on these 20 configurations."""
    model = ReferenceMTP(sample)
    errors, force_errors = [], []
    for config in read_cfg(SAMPLE_CFG):
        out = model.calculate(to_atoms(config, SAMPLE_ELEMENTS))
        errors.append((out["energy"] - config.energy) / config.n_atoms)
        force_errors.append(out["forces"] - config.forces)
    energy_rmse = float(np.sqrt(np.mean(np.square(errors))))
    force_rmse = float(np.sqrt(np.mean(np.square(np.concatenate(force_errors)))))
    print(f"\nsample potential vs labels: energy RMSE {energy_rmse * 1000:.2f} meV/atom, "
          f"force RMSE {force_rmse:.4f} eV/A")
    assert energy_rmse < 0.05  # measured: 2.3 meV/atom
    assert force_rmse < 0.1  # measured: 0.026 eV/A


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_translation_and_rotation_invariance(sample: MTP) -> None:
    model = ReferenceMTP(sample.with_elements(SAMPLE_ELEMENTS))
    config = read_cfg(SAMPLE_CFG)[1]
    atoms = to_atoms(config, SAMPLE_ELEMENTS)
    del atoms.arrays["mtp_type"]  # types from the potential's declared elements
    base = model.calculate(atoms)
    shifted = atoms.copy()
    shifted.positions += [1.234, -0.5, 7.7]
    assert model.calculate(shifted)["energy"] == pytest.approx(base["energy"], rel=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(2):
        rot = random_rotation(rng)
        turned = atoms.copy()
        turned.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
        turned.positions = atoms.positions @ rot.T
        out = model.calculate(turned)
        assert out["energy"] == pytest.approx(base["energy"], rel=1e-12)
        np.testing.assert_allclose(out["forces"], base["forces"] @ rot.T, atol=1e-10)
        np.testing.assert_allclose(out["virial"], rot @ base["virial"] @ rot.T, atol=1e-9)


def test_ase_calculator(sample: MTP) -> None:
    config = read_cfg(SAMPLE_CFG)[0]
    atoms = to_atoms(config, SAMPLE_ELEMENTS)
    del atoms.arrays["mtp_type"]
    expected = ReferenceMTP(sample).calculate(atoms, type_map={"Li": 0})
    atoms.calc = ReferenceCalculator(sample, type_map=SAMPLE_ELEMENTS)
    assert atoms.get_potential_energy() == expected["energy"]
    np.testing.assert_array_equal(atoms.get_forces(), expected["forces"])
    np.testing.assert_array_equal(atoms.get_stress(), expected["stress"])
    np.testing.assert_array_equal(atoms.get_potential_energies(), expected["site_energies"])
    untyped = ReferenceMTP(sample)
    with pytest.raises(ValueError, match="mtp_type"):
        untyped.calculate(atoms)
    with pytest.raises(ValueError, match="Li"):
        untyped.calculate(atoms, type_map={"Na": 0})
