"""Independent pure-NumPy reference evaluator of a Moment Tensor Potential.

Clarity comes first: this is the yardstick the fast LAMMPS/GPU kernels are
tested against, not a production code path. Everything is vectorised over the
neighbour pairs of the whole configuration and over atoms, with plain loops
only over the (short) ``alpha_index_times`` list.

Units: positions and cells in Angstrom, energies in eV, forces in eV/A,
stress in eV/A^3 (ASE Voigt order xx yy zz yz xz xy, positive = tensile),
virial in eV (MLIP convention ``W_ab = -sum_ij (dV_i/dr_ij)_a (r_ij)_b``,
which is what a ``.cfg`` file stores as ``PlusStress``).

The math (see ``docs/mtp-formats.md``), for a pair i -> j with
``r_ij = x_j - x_i``, ``r = |r_ij|``, ``u = r_ij / r``, kept when r < Rcut:

    xi      = (2 r - (Rmin + Rcut)) / (Rcut - Rmin)
    Q_n(r)  = T_n(xi) (Rcut - r)^2                        (Chebyshev T_n)
    f_mu(r) = scaling * sum_n c[type_i, type_j, mu, n] Q_n(r)
    mom[b]  = sum_j f_mu(r_ij) u_x^a u_y^b u_z^c            (basic moments)
    mom[k] += m mom[i] mom[j]                              (times list, in order)
    V_i     = species_coeffs[type_i] + sum_s moment_coeffs[s] mom[mapping[s]]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from ase.neighborlist import primitive_neighbor_list

from .model import MTP

__all__ = ["ReferenceMTP", "ReferenceCalculator", "resolve_types", "TypeMap"]

TypeMap = Mapping[str, int] | Sequence[str]
"""symbol -> species index, or the list of symbols of species 0, 1, ..."""


def resolve_types(atoms: Atoms, species_count: int, type_map: TypeMap | None = None,
                  elements: Sequence[str] | None = None) -> np.ndarray:
    """MTP species index (0-based) of every atom.

    Taken from ``atoms.arrays['mtp_type']`` when present, otherwise from the
    chemical symbols through ``type_map`` (dict symbol -> index, or a list of
    symbols), otherwise through ``elements`` (the potential's declared symbols).
    """
    if "mtp_type" in atoms.arrays:
        types = np.asarray(atoms.arrays["mtp_type"], dtype=np.int64)
        source = "atoms.arrays['mtp_type']"
    else:
        if type_map is None:
            type_map = elements
        if type_map is None:
            raise ValueError(
                "cannot tell the MTP species of the atoms: set atoms.arrays['mtp_type'], "
                "pass type_map, or declare elements in the potential "
                "(MTP.with_elements)"
            )
        if isinstance(type_map, Mapping):
            lookup = {str(k): int(v) for k, v in type_map.items()}
        else:
            lookup = {str(s): n for n, s in enumerate(type_map)}
        symbols = atoms.get_chemical_symbols()
        missing = sorted(set(symbols) - set(lookup))
        if missing:
            raise ValueError(
                f"element(s) {missing} have no MTP species in the type map {lookup}"
            )
        types = np.array([lookup[s] for s in symbols], dtype=np.int64)
        source = "the type map"
    bad = np.flatnonzero((types < 0) | (types >= species_count))
    if bad.size:
        raise ValueError(
            f"atom {bad[0]} has species {types[bad[0]]} (from {source}), outside "
            f"0..{species_count - 1} of the potential"
        )
    return types


@dataclass
class Neighbours:
    """All ordered pairs i -> j with 0 < |r_ij| < cutoff (images of i included)."""

    i: np.ndarray
    """(P,) index of the central atom."""
    j: np.ndarray
    """(P,) index of the neighbour."""
    vectors: np.ndarray
    """(P, 3) r_ij = x_j (+ lattice shift) - x_i, Angstrom."""


def neighbour_pairs(atoms: Atoms, cutoff: float) -> Neighbours:
    """Pairs closer than ``cutoff`` (strictly), periodic images included."""
    pbc = np.asarray(atoms.pbc, dtype=bool)
    i, j, vectors = primitive_neighbor_list(
        "ijD", pbc, atoms.cell.array, atoms.positions, cutoff
    )
    dist = np.linalg.norm(vectors, axis=1)
    keep = dist < cutoff
    if np.any(dist[keep] == 0.0):
        p = np.flatnonzero(keep & (dist == 0.0))[0]
        raise ValueError(f"atoms {i[p]} and {j[p]} sit on top of each other")
    return Neighbours(i[keep], j[keep], vectors[keep])


class ReferenceMTP:
    """Energies, forces, stress and virial of a trained :class:`MTP`, in plain NumPy."""

    def __init__(self, mtp: MTP) -> None:
        if not mtp.is_trained:
            raise ValueError("ReferenceMTP needs a trained potential (this one has no "
                             "coefficients)")
        if mtp.radial_basis_type != "RBChebyshev":
            raise NotImplementedError(f"radial basis {mtp.radial_basis_type!r} is not implemented")
        self.mtp = mtp
        basic = mtp.alpha_index_basic
        self._mu = basic[:, 0]
        self._powers = basic[:, 1:]  # (nb, 3) powers a, b, c of u_x, u_y, u_z

    # -------------------------------------------------------------- radial part

    def radial_basis(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Q_n(r) = T_n(xi) (Rcut - r)^2 and dQ_n/dr, each (P, R), without scaling."""
        m = self.mtp
        rmin, rcut, R = m.min_dist, m.max_dist, m.radial_basis_size
        xi = (2.0 * r - (rmin + rcut)) / (rcut - rmin)
        dxi_dr = 2.0 / (rcut - rmin)
        # Chebyshev polynomials T_n(xi) and their derivatives by the recursion
        # T_n = 2 xi T_{n-1} - T_{n-2},  T'_n = 2 T_{n-1} + 2 xi T'_{n-1} - T'_{n-2}.
        T = np.zeros((r.size, R))
        dT = np.zeros((r.size, R))
        T[:, 0] = 1.0
        if R > 1:
            T[:, 1] = xi
            dT[:, 1] = 1.0
        for n in range(2, R):
            T[:, n] = 2.0 * xi * T[:, n - 1] - T[:, n - 2]
            dT[:, n] = 2.0 * T[:, n - 1] + 2.0 * xi * dT[:, n - 1] - dT[:, n - 2]
        gap = (rcut - r)[:, None]
        return T * gap**2, dT * dxi_dr * gap**2 - 2.0 * T * gap

    def radial(
        self, r: np.ndarray, ti: np.ndarray, tj: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Radial functions f_mu(r) and their derivatives df_mu/dr, each (P, K).

        ``ti``/``tj`` are the species of the central atom and of the neighbour.
        """
        m = self.mtp
        Q, dQ = self.radial_basis(r)
        coeffs = m.radial_coeffs[ti, tj]  # (P, K, R)
        scale = m.effective_radial_scaling
        f = scale * np.einsum("pkn,pn->pk", coeffs, Q)
        df = scale * np.einsum("pkn,pn->pk", coeffs, dQ)
        return f, df

    # -------------------------------------------------------------- angular part

    def angular(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Monomials g_b(u) = u_x^a u_y^b u_z^c (P, nb) and their u-gradients (P, nb, 3)."""
        powers = self._powers
        upow = u[:, None, :] ** powers[None, :, :]  # (P, nb, 3)
        g = upow.prod(axis=2)
        grad = np.empty(g.shape + (3,))
        for d in range(3):
            lowered = u[:, None, d] ** np.maximum(powers[None, :, d] - 1, 0)
            others = np.prod(np.delete(upow, d, axis=2), axis=2)
            grad[:, :, d] = powers[None, :, d] * lowered * others
        return g, grad

    # -------------------------------------------------------------- moments

    def _pair_terms(self, nb: Neighbours, types: np.ndarray, with_gradient: bool):
        """phi[p, b] = f_mu(r_p) g_b(u_p) and, if asked, d phi / d r_p (P, nb, 3)."""
        r = np.linalg.norm(nb.vectors, axis=1)
        u = nb.vectors / r[:, None]
        f, df = self.radial(r, types[nb.i], types[nb.j])
        g, dg_du = self.angular(u)
        f_b, df_b = f[:, self._mu], df[:, self._mu]  # (P, nb)
        phi = f_b * g
        if not with_gradient:
            return phi, None
        # gradient of g(r_vec / r) with respect to r_vec: (dg/du - n g u) / r
        order = self._powers.sum(axis=1)  # n = a + b + c
        dg_dvec = (dg_du - (order[None, :] * g)[:, :, None] * u[:, None, :]) / r[:, None, None]
        dphi = (df_b * g)[:, :, None] * u[:, None, :] + f_b[:, :, None] * dg_dvec
        return phi, dphi

    def _moments(self, n_atoms: int, nb: Neighbours, phi: np.ndarray):
        """All moment slots (N, M) plus the operand values each times entry used."""
        m = self.mtp
        mom = np.zeros((n_atoms, m.alpha_moments_count))
        basic = np.zeros((n_atoms, m.alpha_index_basic_count))
        np.add.at(basic, nb.i, phi)
        mom[:, : basic.shape[1]] = basic
        operands = []
        for i, j, mult, k in m.alpha_index_times.tolist():
            left, right = mom[:, i].copy(), mom[:, j].copy()
            operands.append((left, right))
            mom[:, k] += mult * left * right
        return mom, operands

    def _moment_gradient(self, mom: np.ndarray, operands) -> np.ndarray:
        """dV_i / d mom_i[slot] (N, M), back-propagated through the times list."""
        m = self.mtp
        grad = np.zeros_like(mom)
        for slot, coeff in zip(m.alpha_moment_mapping.tolist(), m.moment_coeffs.tolist()):
            grad[:, slot] += coeff
        for (i, j, mult, k), (left, right) in zip(
            reversed(m.alpha_index_times.tolist()), reversed(operands)
        ):
            gk = grad[:, k].copy()
            grad[:, i] += mult * gk * right
            grad[:, j] += mult * gk * left
        return grad

    # -------------------------------------------------------------- public API

    def types(self, atoms: Atoms, type_map: TypeMap | None = None) -> np.ndarray:
        """Species index of every atom (see :func:`resolve_types`)."""
        return resolve_types(atoms, self.mtp.species_count, type_map, self.mtp.elements)

    def site_energies(self, atoms: Atoms, type_map: TypeMap | None = None) -> np.ndarray:
        """Site energies V_i in eV, shape (N,)."""
        types = self.types(atoms, type_map)
        nb = neighbour_pairs(atoms, self.mtp.cutoff)
        phi, _ = self._pair_terms(nb, types, with_gradient=False)
        mom, _ = self._moments(len(atoms), nb, phi)
        return self._site_energies(types, mom)

    def _site_energies(self, types: np.ndarray, mom: np.ndarray) -> np.ndarray:
        m = self.mtp
        return m.species_coeffs[types] + mom[:, m.alpha_moment_mapping] @ m.moment_coeffs

    def calculate(self, atoms: Atoms, type_map: TypeMap | None = None) -> dict:
        """Energy (eV), forces (N, 3, eV/A), stress (ASE Voigt, eV/A^3, None unless
        periodic in 3D), virial (3x3, eV, MLIP convention) and site energies (eV)."""
        types = self.types(atoms, type_map)
        nb = neighbour_pairs(atoms, self.mtp.cutoff)
        phi, dphi = self._pair_terms(nb, types, with_gradient=True)
        mom, operands = self._moments(len(atoms), nb, phi)
        site = self._site_energies(types, mom)
        grad = self._moment_gradient(mom, operands)
        n_basic = self.mtp.alpha_index_basic_count
        # dV_i / d r_ij for every pair p = (i, j): (P, 3)
        dV_dr = np.einsum("pb,pbd->pd", grad[nb.i, :n_basic], dphi)
        forces = np.zeros((len(atoms), 3))
        np.add.at(forces, nb.i, dV_dr)
        np.add.at(forces, nb.j, -dV_dr)
        virial = -np.einsum("pa,pb->ab", dV_dr, nb.vectors)
        stress = None
        if np.all(atoms.pbc):
            volume = abs(np.linalg.det(atoms.cell.array))
            sigma = -virial / volume
            sigma = 0.5 * (sigma + sigma.T)
            stress = sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        return {
            "energy": float(site.sum()),
            "forces": forces,
            "stress": stress,
            "virial": virial,
            "site_energies": site,
        }


class ReferenceCalculator(Calculator):
    """ASE calculator around :class:`ReferenceMTP` (slow; for tests and checks).

    ``mtp`` is an :class:`MTP` or the path of an ``.mtp`` file; ``type_map``
    maps chemical symbols to species (see :func:`resolve_types`).
    Stress is available for cells periodic in all three directions.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, mtp: MTP | str | os.PathLike[str], type_map: TypeMap | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = ReferenceMTP(mtp if isinstance(mtp, MTP) else MTP.read(mtp))
        self.type_map = type_map

    def calculate(self, atoms: Atoms | None = None, properties=("energy",),
                  system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        out = self.model.calculate(self.atoms, self.type_map)
        if "stress" in properties and out["stress"] is None:
            raise PropertyNotImplementedError("stress needs a cell periodic in all directions")
        self.results = {
            "energy": out["energy"],
            "free_energy": out["energy"],
            "energies": out["site_energies"],
            "forces": out["forces"],
        }
        if out["stress"] is not None:
            self.results["stress"] = out["stress"]
