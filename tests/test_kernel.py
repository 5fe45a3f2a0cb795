"""The C++ kernel (through its Python bindings) against the independent NumPy evaluator
and against finite differences of its own energy."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import random_potential
from seimd import _kernel
from seimd.mtp.calculator import MTPCalculator, load_kernel
from seimd.mtp.model import MTP
from seimd.mtp.reference import ReferenceCalculator, resolve_types
from structures_for_tests import li_slab_cluster, primitive_bcc, tiny_bcc, triclinic_lpsc

GEOMETRIES = {
    "triclinic-lpsc": triclinic_lpsc,
    "tiny-bcc": tiny_bcc,
    "primitive-bcc": lambda rng, species=1: primitive_bcc(rng),
    "cluster": lambda rng, species=1: li_slab_cluster(rng),
}


def relative_gap(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(b))))


# Every species count on the multi-species triclinic cell; the tiny and free cells with one.
CASES = [(level, species, "triclinic-lpsc") for level in (8, 16) for species in (1, 2, 3, 4)]
CASES += [(level, 1, geometry) for level in (8, 16) for geometry in GEOMETRIES
          if geometry != "triclinic-lpsc"]


@pytest.mark.parametrize("level, species, geometry", CASES)
def test_cpp_matches_numpy_reference(level, species, geometry, rng):
    mtp = random_potential(level, species, seed=level * 10 + species)
    atoms = GEOMETRIES[geometry](rng, species)
    fast = atoms.copy()
    fast.calc = MTPCalculator(mtp, threads=1)
    ref = atoms.copy()
    ref.calc = ReferenceCalculator(mtp)
    e_fast, e_ref = fast.get_potential_energy(), ref.get_potential_energy()
    assert abs(e_fast - e_ref) <= 1e-10 * max(1.0, abs(e_ref))
    assert relative_gap(fast.get_potential_energies(), ref.get_potential_energies()) <= 1e-10
    assert relative_gap(fast.get_forces(), ref.get_forces()) <= 1e-10
    if all(atoms.pbc):
        assert relative_gap(fast.get_stress(), ref.get_stress()) <= 1e-10
    # The potential does something: the moment part of the energy is not zero, and
    # forces are of order 0.01-10 eV/A (a 1-atom cell has none, by inversion symmetry).
    types = resolve_types(atoms, mtp.species_count, None, mtp.elements)
    assert abs(e_ref - mtp.species_coeffs[types].sum()) > 1e-3 * len(atoms)
    if len(atoms) > 1:
        assert 1e-3 < np.abs(ref.get_forces()).max() < 100


@pytest.mark.parametrize("level", [8, 16])
def test_cpp_forces_and_stress_are_energy_derivatives(level, rng):
    mtp = random_potential(level, 3, seed=7)
    atoms = triclinic_lpsc(rng, 3)
    atoms.calc = MTPCalculator(mtp, threads=1)
    forces, stress = atoms.get_forces(), atoms.get_stress(voigt=False)
    h = 1e-5
    for atom, axis in [(0, 0), (5, 1), (17, 2), (40, 0), (51, 2)]:
        energies = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.calc = atoms.calc
            moved.positions[atom, axis] += sign * h
            energies.append(moved.get_potential_energy())
        numeric = -(energies[0] - energies[1]) / (2 * h)
        assert abs(numeric - forces[atom, axis]) < 1e-6 * max(1.0, abs(forces[atom, axis]))
    volume = atoms.get_volume()
    for a, b in [(0, 0), (1, 2), (2, 0), (1, 1)]:
        energies = []
        for sign in (1, -1):
            strain = np.eye(3)
            strain[a, b] += sign * h
            moved = atoms.copy()
            moved.calc = atoms.calc
            moved.set_cell(atoms.cell.array @ strain.T, scale_atoms=True)
            energies.append(moved.get_potential_energy())
        numeric = (energies[0] - energies[1]) / (2 * h) / volume
        assert abs(numeric - stress[a, b]) < 1e-6 * max(1e-2, abs(stress[a, b]))


def test_sample_potential_reproduces_its_labels(sample_mtp_path, sample_cfg_path):
    """The trained sample potential on its own training-like data: a physical sanity check."""
    from seimd.io.cfg import read_cfg, to_atoms

    calc = MTPCalculator(sample_mtp_path, type_map=["Li", "P", "S", "Cl"], threads=1)
    errors = []
    for cfg in read_cfg(sample_cfg_path):
        atoms = to_atoms(cfg, symbols=["Li", "P", "S", "Cl"])
        ref_energy = atoms.get_potential_energy()
        atoms.calc = calc
        errors.append((atoms.get_potential_energy() - ref_energy) / len(atoms))
    assert np.sqrt(np.mean(np.square(errors))) < 0.05  # eV/atom


def test_cpp_and_python_parsers_agree(sample_mtp_path):
    cpp = _kernel.Model.read(str(sample_mtp_path))
    py = MTP.read(sample_mtp_path)
    assert cpp.species_count == py.species_count
    assert np.array_equal(np.array(cpp.radial_coeffs), py.radial_coeffs.ravel())
    assert np.array_equal(np.array(cpp.moment_coeffs), py.moment_coeffs)
    assert np.array_equal(np.array(cpp.alpha_index_times), py.alpha_index_times)
    assert cpp.scaling == py.scaling
    assert cpp.parameter_count == py.n_parameters


def test_crlf_file_gives_identical_results(sample_mtp_path, tmp_path, rng):
    crlf = tmp_path / "crlf.mtp"
    crlf.write_bytes(sample_mtp_path.read_bytes().replace(b"\n", b"\r\n"))
    atoms = triclinic_lpsc(rng, 4)
    e = []
    for path in (sample_mtp_path, crlf):
        atoms.calc = MTPCalculator(path, type_map=["Li", "P", "S", "Cl"])
        e.append(atoms.get_potential_energy())
    assert e[0] == e[1]


@pytest.mark.parametrize("text, message", [
    ("MTP\nversion = 1.0.0\n", "version = 1.1.0"),
    ("NOT AN MTP\n", "first line"),
])
def test_cpp_parser_errors(text, message):
    with pytest.raises(ValueError, match=message):
        _kernel.Model.parse(text, "bad.mtp")


def test_cpp_parser_names_unknown_key_and_line(sample_mtp_path):
    lines = sample_mtp_path.read_text().splitlines()
    lines.insert(3, "frobnicate = 3")
    with pytest.raises(ValueError, match=r"bad\.mtp:4: unknown key 'frobnicate'"):
        _kernel.Model.parse("\n".join(lines), "bad.mtp")


def test_untrained_template_is_refused_by_kernel(tmp_path):
    from seimd.mtp.basis import basis_to_mtp_text, generate_basis

    text = basis_to_mtp_text(generate_basis(8), species_count=2, min_dist=1.5, max_dist=5.0,
                             radial_basis_size=8, name="untrained")
    model = _kernel.Model.parse(text, "untrained.mtp")
    assert not model.is_trained
    with pytest.raises(ValueError, match="untrained"):
        _kernel.Kernel(model)


def test_threads_give_same_result(rng):
    mtp = random_potential(16, 4, seed=3)
    atoms = triclinic_lpsc(rng, 4).repeat((2, 1, 1))
    kernel_results = []
    for threads in (1, 2):
        atoms.calc = MTPCalculator(mtp, threads=threads)
        kernel_results.append((atoms.get_potential_energy(), atoms.get_forces().copy()))
    assert abs(kernel_results[0][0] - kernel_results[1][0]) < 1e-11 * abs(kernel_results[0][0])
    assert np.allclose(kernel_results[0][1], kernel_results[1][1], rtol=0, atol=1e-12)


def test_load_kernel_from_path_and_object_agree(sample_mtp_path):
    a = load_kernel(sample_mtp_path)
    b = load_kernel(MTP.read(sample_mtp_path))
    rij = np.array([[2.0, 0.1, 0.3], [-1.0, 2.2, 0.0], [0.0, 0.0, -3.1]])
    sp = np.array([0, 2, 3], dtype=np.int32)
    assert a.site_energy(1, rij, sp)[0] == b.site_energy(1, rij, sp)[0]


@pytest.mark.parametrize("level, species", [(8, 1), (8, 3), (16, 2)])
def test_cpp_parameter_gradients_match_finite_differences(level, species, rng):
    """dV_i/dtheta from the kernel against central differences of the site energies."""
    from seimd.mtp.calculator import site_parameter_gradients

    mtp = random_potential(level, species, seed=100 + level + species)
    atoms = triclinic_lpsc(rng, species)
    types = resolve_types(atoms, mtp.species_count, None, mtp.elements)
    grads = site_parameter_gradients(load_kernel(mtp), atoms, types)
    theta = mtp.parameters
    assert grads.shape == (len(atoms), theta.size)
    # Every parameter block, a random sample of the radial block.
    n_radial = mtp.radial_coeffs.size
    picks = np.concatenate([rng.choice(n_radial, min(25, n_radial), replace=False),
                            np.arange(n_radial, theta.size)])
    for p in picks:
        h = 1e-6 * max(1.0, abs(theta[p]))
        site = []
        for sign in (1, -1):
            shifted = theta.copy()
            shifted[p] += sign * h
            calc = MTPCalculator(mtp.with_parameters(shifted), threads=1)
            site.append(calc.get_potential_energies(atoms))
        numeric = (site[0] - site[1]) / (2 * h)
        assert np.allclose(grads[:, p], numeric, rtol=1e-6, atol=1e-7), p
    # The site energy is linear in the species and moment coefficients.
    linear = grads[:, n_radial:] @ theta[n_radial:]
    ref = MTPCalculator(mtp, threads=1).get_potential_energies(atoms)
    assert np.allclose(linear, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("level, species", [(8, 2), (16, 3)])
def test_force_and_stress_parameter_derivatives(level, species, rng):
    """The exact directional derivative of dE/dtheta against central differences in the
    deformation; equivalently d(lambda . F)/dtheta and d(Lambda : W)/dtheta."""
    from seimd.mtp.calculator import parameter_gradient_along, site_parameter_gradients

    mtp = random_potential(level, species, seed=300 + level + species)
    kernel = load_kernel(mtp)
    atoms = triclinic_lpsc(rng, species)
    types = resolve_types(atoms, mtp.species_count, None, mtp.elements)
    lam = rng.normal(size=(len(atoms), 3))
    strain = rng.normal(size=(3, 3))
    h = 1e-5

    def dEdtheta(a):
        return site_parameter_gradients(kernel, a, types).sum(axis=0)

    total, along = parameter_gradient_along(kernel, atoms, types, displacement=lam)
    assert np.allclose(total, dEdtheta(atoms), rtol=1e-12, atol=1e-12)
    plus, minus = atoms.copy(), atoms.copy()
    plus.positions += h * lam
    minus.positions -= h * lam
    numeric = (dEdtheta(plus) - dEdtheta(minus)) / (2 * h)
    scale = np.abs(numeric).max()
    assert np.abs(along - numeric).max() < 1e-6 * scale

    _, along_strain = parameter_gradient_along(kernel, atoms, types, strain=strain)
    plus, minus = atoms.copy(), atoms.copy()
    plus.set_cell(atoms.cell.array @ (np.eye(3) + h * strain).T, scale_atoms=True)
    minus.set_cell(atoms.cell.array @ (np.eye(3) - h * strain).T, scale_atoms=True)
    numeric = (dEdtheta(plus) - dEdtheta(minus)) / (2 * h)
    assert np.abs(along_strain - numeric).max() < 1e-6 * np.abs(numeric).max()

    # and it is minus the parameter derivative of lambda . F, by central differences in theta
    theta = mtp.parameters
    for p in rng.choice(theta.size, 6, replace=False):
        step = 1e-6 * max(1.0, abs(theta[p]))
        forces = []
        for sign in (1, -1):
            shifted = theta.copy()
            shifted[p] += sign * step
            forces.append(MTPCalculator(mtp.with_parameters(shifted), threads=1).get_forces(atoms))
        d_lam_f = np.sum(lam * (forces[0] - forces[1])) / (2 * step)
        assert abs(d_lam_f + along[p]) < 1e-6 * max(1.0, abs(along[p]))
