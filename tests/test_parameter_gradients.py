"""Parameter gradients of MTP site energies (seimd.mtp.reference_gradients).

The analytic ``dV_i/dtheta`` are checked against central finite differences in
theta of the reference evaluator's site energies (every parameter at level 08,
a random subset of 60 at level 16), and against the exact linearity of the
site energy in the species and moment coefficients.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import random_potential
from seimd.mtp.reference import ReferenceMTP
from seimd.mtp.reference_gradients import (
    configuration_parameter_gradient,
    site_parameter_gradients,
)
from structures_for_tests import li_slab_cluster, tiny_bcc, triclinic_lpsc


class _FixedGeometryReference(ReferenceMTP):
    """ReferenceMTP that reuses the angular monomials of one geometry.

    The monomials g_b(u_ij) do not depend on the parameters, and they dominate
    the cost of a level-16 evaluation; caching them keeps the finite-difference
    sweeps fast without touching the radial or moment math under test.
    """

    _cache: dict = {}

    def angular(self, u):
        key = (u.shape, u.tobytes())
        if key not in self._cache:
            self._cache.clear()
            self._cache[key] = super().angular(u)
        return self._cache[key]


def _site_energies(mtp, theta, atoms):
    return _FixedGeometryReference(mtp.with_parameters(theta)).site_energies(atoms)


def _fd_column(mtp, theta, atoms, k):
    h = 1e-6 * max(1.0, abs(theta[k]))
    plus, minus = theta.copy(), theta.copy()
    plus[k] += h
    minus[k] -= h
    return (_site_energies(mtp, plus, atoms) - _site_energies(mtp, minus, atoms)) / (2 * h)


@pytest.mark.parametrize("level,species", [(8, 1), (8, 3), (16, 1), (16, 3)])
def test_site_gradients_match_finite_differences(level, species):
    rng = np.random.default_rng(100 * level + species)
    mtp = random_potential(level, species, seed=level + species)
    atoms = triclinic_lpsc(rng, species)
    grad = site_parameter_gradients(mtp, atoms)
    theta = mtp.parameters
    assert grad.shape == (len(atoms), mtp.n_parameters)
    if level == 8:
        columns = np.arange(theta.size)
    else:
        # a random subset of 60, up to 40 of them radial
        n_radial = mtp.n_radial_parameters
        take = min(40, n_radial)
        columns = np.concatenate([
            rng.choice(n_radial, take, replace=False),
            rng.choice(np.arange(n_radial, theta.size), 60 - take, replace=False),
        ])
    worst = 0.0
    for k in columns:
        fd = _fd_column(mtp, theta, atoms, k)
        scale = 1.0 + np.abs(grad[:, k]).max()
        worst = max(worst, np.abs(fd - grad[:, k]).max() / scale)
    assert worst < 1e-6, f"max relative FD deviation {worst:.3g}"
    # every radial block of a central species s1 is zero for atoms of another species
    types = ReferenceMTP(mtp).types(atoms)
    C = mtp.species_count
    radial = grad[:, mtp.parameter_slices[0]].reshape(len(atoms), C, -1)
    for s1 in range(C):
        assert np.all(radial[types != s1, s1] == 0.0)


@pytest.mark.parametrize("level,species", [(8, 3), (16, 3)])
def test_site_energy_is_linear_in_species_and_moment_coefficients(level, species):
    rng = np.random.default_rng(7 + level)
    mtp = random_potential(level, species, seed=3 * level)
    atoms = triclinic_lpsc(rng, species)
    grad, site = site_parameter_gradients(mtp, atoms, return_site_energies=True)
    np.testing.assert_allclose(site, ReferenceMTP(mtp).site_energies(atoms), rtol=0, atol=1e-12)
    linear = slice(mtp.n_radial_parameters, mtp.n_parameters)
    np.testing.assert_allclose(grad[:, linear] @ mtp.parameters[linear], site,
                               rtol=1e-12, atol=1e-12)
    # each row has exactly one species entry, 1 at the atom's species
    species_block = grad[:, mtp.parameter_slices[1]]
    types = ReferenceMTP(mtp).types(atoms)
    assert np.array_equal(species_block, np.eye(species)[types])


@pytest.mark.parametrize("case", ["tiny_bcc", "cluster"])
def test_gradients_with_self_images_and_free_boundaries(case):
    """Directional derivatives along random theta directions (radial block included)."""
    rng = np.random.default_rng(11)
    if case == "tiny_bcc":
        mtp = random_potential(8, 2, seed=5)
        atoms = tiny_bcc(rng, 2)  # 2 atoms that see their own periodic images
    else:
        mtp = random_potential(8, 1, seed=6)
        atoms = li_slab_cluster(rng)
    grad = site_parameter_gradients(mtp, atoms)
    theta = mtp.parameters
    for _ in range(4):
        d = rng.normal(size=theta.size)
        h = 1e-6
        fd = (_site_energies(mtp, theta + h * d, atoms)
              - _site_energies(mtp, theta - h * d, atoms)) / (2 * h)
        np.testing.assert_allclose(fd, grad @ d, rtol=1e-6, atol=1e-6)


def test_configuration_gradient_is_energy_gradient_per_atom():
    rng = np.random.default_rng(5)
    mtp = random_potential(8, 2, seed=9)
    atoms = triclinic_lpsc(rng, 2)
    row = configuration_parameter_gradient(mtp, atoms)
    assert row.shape == (mtp.n_parameters,)
    np.testing.assert_allclose(row, site_parameter_gradients(mtp, atoms).mean(axis=0),
                               rtol=1e-14, atol=1e-14)
    theta = mtp.parameters
    d = rng.normal(size=theta.size)
    h = 1e-6
    fd = (_site_energies(mtp, theta + h * d, atoms).sum()
          - _site_energies(mtp, theta - h * d, atoms).sum()) / (2 * h) / len(atoms)
    assert abs(fd - row @ d) <= 1e-6 * (1.0 + abs(fd))


def test_effective_scaling_enters_radial_gradient():
    """With scaling s the radial columns scale by s (f_mu = s * sum c Q)."""
    import dataclasses

    rng = np.random.default_rng(2)
    mtp = random_potential(8, 2, seed=4)
    atoms = triclinic_lpsc(rng, 2)
    scaled = dataclasses.replace(mtp, scaling=2.0, radial_scaling=0.75,
                                 radial_coeffs=mtp.radial_coeffs / 1.5)
    # same radial functions, hence same moments and energies
    np.testing.assert_allclose(ReferenceMTP(scaled).site_energies(atoms),
                               ReferenceMTP(mtp).site_energies(atoms), rtol=1e-12, atol=1e-12)
    g0 = site_parameter_gradients(mtp, atoms)
    g1 = site_parameter_gradients(scaled, atoms)
    radial = mtp.parameter_slices[0]
    np.testing.assert_allclose(g1[:, radial], 1.5 * g0[:, radial], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(g1[:, radial.stop:], g0[:, radial.stop:], rtol=1e-10, atol=1e-12)
    k = int(rng.integers(radial.stop))
    np.testing.assert_allclose(_fd_column(scaled, scaled.parameters, atoms, k), g1[:, k],
                               rtol=1e-6, atol=1e-6)
