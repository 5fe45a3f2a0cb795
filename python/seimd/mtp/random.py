"""Random but physically tame trained MTPs, for tests.

The coefficients are drawn so that, for ordinary condensed-matter densities
(10-60 neighbours within 5 Angstrom), site energies are of order eV and forces
of order eV/A: the radial functions are O(0.1-1) near the inner edge of the
basis and vanish smoothly (quadratically) at the cutoff, and each moment
coefficient is divided by a typical size of its moment.
"""

from __future__ import annotations

import numpy as np

from .model import MTP

__all__ = ["random_mtp"]


def random_mtp(
    alpha_index_basic: np.ndarray,
    alpha_index_times: np.ndarray,
    alpha_moment_mapping: np.ndarray,
    alpha_moments_count: int,
    radial_funcs_count: int,
    species_count: int,
    seed: int,
    min_dist: float = 1.5,
    max_dist: float = 5.0,
    radial_basis_size: int = 8,
) -> MTP:
    """A trained :class:`MTP` with random coefficients on the given moment basis.

    Distances in Angstrom. The same ``seed`` always gives the same potential.
    Species energies are drawn around -2 eV, radial coefficients are small
    (|c| ~ 0.5 / (max_dist - min_dist)^2 with a decaying Chebyshev spectrum,
    so |f_mu| <~ 0.5 inside the cutoff), and moment coefficients are divided by
    3^(number of basic factors of the moment), a rough estimate of its size.
    On a 14-atom cell at liquid-like density this gives moment energies of
    0.1-3 eV per atom and forces of 0.1-2 eV/A.
    """
    rng = np.random.default_rng(seed)
    basic = np.asarray(alpha_index_basic, dtype=np.int64).reshape(-1, 4)
    times = np.asarray(alpha_index_times, dtype=np.int64).reshape(-1, 4)
    mapping = np.asarray(alpha_moment_mapping, dtype=np.int64).reshape(-1)
    C, K, R = int(species_count), int(radial_funcs_count), int(radial_basis_size)
    width = float(max_dist) - float(min_dist)
    # Decaying spectrum: low-order Chebyshev terms dominate, keeping f smooth.
    decay = 1.0 / (1.0 + np.arange(R)) ** 1.5
    radial = rng.normal(0.0, 0.5, size=(C, C, K, R)) * decay / width**2
    # Number of basic factors in each moment slot, to damp the higher products.
    factors = np.ones(int(alpha_moments_count))
    for i, j, _, k in times.tolist():
        factors[k] = factors[i] + factors[j]
    moment = rng.normal(0.0, 1.0, size=mapping.size) / 3.0 ** factors[mapping]
    species = rng.normal(-2.0, 0.5, size=C)
    return MTP(
        species_count=C,
        min_dist=min_dist,
        max_dist=max_dist,
        radial_basis_size=R,
        radial_funcs_count=K,
        alpha_moments_count=alpha_moments_count,
        alpha_index_basic=basic,
        alpha_index_times=times,
        alpha_moment_mapping=mapping,
        radial_coeffs=radial,
        species_coeffs=species,
        moment_coeffs=moment,
        potential_name="random",
        potential_tag=f"random-seed:{seed}",
    )
