"""Gradients of MTP site energies with respect to the potential's parameters.

These are the rows of MaxVol active learning (the "extrapolation grade", see
``docs/mtp-formats.md``): for every atom i, the vector
``dV_i / d theta`` with ``theta = [radial | species | moment]`` laid out exactly
as :attr:`seimd.mtp.model.MTP.parameters` (radial coefficient
``c[s1, s2, mu, xi]`` at flat index ``((s1*C + s2)*K + mu)*R + xi``).

Pure NumPy, built on the pieces of :mod:`seimd.mtp.reference` (neighbour list,
angular monomials, moments and the back-propagation through the ``times``
list). With ``G_ib = dV_i / d mom_i[b]`` for the basic moments b
(back-propagated from the moment coefficients):

    dV_i / d moment_coeffs[s]       = mom_i[alpha_moment_mapping[s]]
    dV_i / d species_coeffs[s]      = delta(s, type_i)
    dV_i / d c[s1, s2, mu, xi]      = delta(s1, type_i) * scaling_eff
                                      * sum_{j: type_j = s2} Q_xi(r_ij)
                                        * sum_{b: mu_b = mu} G_ib g_b(u_ij)

where ``Q_xi(r) = T_xi(xi(r)) (Rcut - r)^2``, ``g_b`` the monomial
``u_x^a u_y^b u_z^c`` of the basic moment b and ``scaling_eff`` the
potential's effective radial scaling (``f_mu = scaling_eff * sum c Q``).

The site energy is linear in the species and moment coefficients, so
``V_i = grad[i, species|moment] . theta[species|moment]`` exactly.
Units: the rows are eV per unit of each parameter (moment and species
columns are dimensionless / 1, radial columns eV per coefficient unit).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from ase import Atoms

from .model import MTP
from .reference import ReferenceMTP, TypeMap, neighbour_pairs

__all__ = [
    "site_parameter_gradients",
    "configuration_parameter_gradient",
]


def site_parameter_gradients(mtp: MTP, atoms: Atoms, type_map: TypeMap | None = None,
                             *, return_site_energies: bool = False):
    """``dV_i / d theta`` for every atom: array (N, n_parameters).

    ``mtp`` must be trained (the gradient with respect to the radial
    coefficients depends on the moment coefficients and on the radial
    coefficients themselves). Species of the atoms as in
    :func:`seimd.mtp.reference.resolve_types`. With ``return_site_energies``
    the site energies V_i (eV) come back too, as ``(grad, V)``.
    """
    ref = ReferenceMTP(mtp)
    types = ref.types(atoms, type_map)
    n_atoms = len(atoms)
    C, K, R = mtp.species_count, mtp.radial_funcs_count, mtp.radial_basis_size
    n_basic = mtp.alpha_index_basic_count

    nb = neighbour_pairs(atoms, mtp.cutoff)
    phi, _ = ref._pair_terms(nb, types, with_gradient=False)
    mom, operands = ref._moments(n_atoms, nb, phi)
    G = ref._moment_gradient(mom, operands)[:, :n_basic]  # (N, nb)

    out = np.zeros((n_atoms, mtp.n_parameters))
    radial, species, moment = mtp.parameter_slices

    # species and moment blocks: V_i is linear in those
    out[np.arange(n_atoms), species.start + types] = 1.0
    out[:, moment] = mom[:, mtp.alpha_moment_mapping]

    # radial block
    if nb.i.size:
        r = np.linalg.norm(nb.vectors, axis=1)
        u = nb.vectors / r[:, None]
        Q, _ = ref.radial_basis(r)  # (P, R)
        g, _ = ref.angular(u)  # (P, nb)
        mu_onehot = np.zeros((n_basic, K))
        mu_onehot[np.arange(n_basic), mtp.alpha_index_basic[:, 0]] = 1.0
        w = (G[nb.i] * g) @ mu_onehot  # (P, K): sum_{b: mu_b = mu} G_ib g_b(u_p)
        pair_terms = (w[:, :, None] * Q[:, None, :]).reshape(-1, K * R)
        # sum over pairs into (atom i, neighbour species s2) with a sparse matrix
        rows = nb.i * C + types[nb.j]
        gather = sp.csr_matrix(
            (np.ones(rows.size), (rows, np.arange(rows.size))), shape=(n_atoms * C, rows.size)
        )
        per_s2 = np.asarray(gather @ pair_terms).reshape(n_atoms, C, K * R)
        per_s2 *= mtp.effective_radial_scaling
        block = np.zeros((n_atoms, C, C, K * R))
        block[np.arange(n_atoms), types] = per_s2
        out[:, radial] = block.reshape(n_atoms, -1)

    if return_site_energies:
        return out, ref._site_energies(types, mom)
    return out


def configuration_parameter_gradient(mtp: MTP, atoms: Atoms,
                                     type_map: TypeMap | None = None) -> np.ndarray:
    """``dE / d theta / N`` (shape (n_parameters,)): the MaxVol row of "cfg" mode."""
    grads = site_parameter_gradients(mtp, atoms, type_map)
    return grads.sum(axis=0) / max(len(atoms), 1)
