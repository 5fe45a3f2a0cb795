"""The training loss of an MTP and its gradient with respect to all parameters.

Loss (eV^2), summed over the training configurations c (N_c atoms, weight w_c)::

    L = sum_c w_c [ w_E (E_c - E_c^ref)^2 / d_c                           energy
                  + w_F sum_{k in c} |F_k - F_k^ref|^2                    forces
                  + w_S sum_{ab in xx,yy,zz,yz,xz,xy} (W_ab - W_ab^ref)^2 / d_c ]   virial

    d_c = N_c    weighting "vibrations" (the default, as MLIP-2's default)
    d_c = N_c^2  weighting "structures" (energy and virial errors per atom)
    d_c = 1      weighting "molecules"  (total energies and virials)

* E: total energy (eV); F: forces (eV/A); W: the virial in eV, MLIP convention
  ``W_ab = -sum_ij (dV_i/dr_ij)_a (r_ij)_b`` symmetrised -- what a ``.cfg`` stores
  as ``PlusStress`` (= -V * ASE stress, positive under compression). The
  virial term needs no volume (non-periodic configurations carry no stress label).
* Why N_c and not N_c^2 by default: the energy of a configuration is a sum of
  N_c site energies, so its error grows like sqrt(N_c) when the site errors are
  independent (thermal vibrations); dividing its square by N_c weighs every atom
  alike, as the force term does. N_c^2 (per-atom errors) makes a large cell's
  energy count as little as a small cell's; on the Li-P-S-Cl benchmark of
  ``bench/bench_train.py`` (level 08, 1000 iterations) it gave held-out
  33 meV/atom, 1.5 GPa against 24 meV/atom, 0.6 GPa for N_c.
* The old names of the weighting ("scaling"): "N" = vibrations, "N2" = structures,
  "none" = molecules.
* Defaults w_E = 1, w_F = 0.01 A^2 (MLIP's ``--force-weight``), w_S = 0.001
  (MLIP's ``--stress-weight``, applied to the virial in eV as here), w_c = 1.
  Every term is in eV^2 (w_F carries A^2).
* A configuration contributes only the terms whose labels it has.

Gradient with respect to theta = ``MTP.parameters`` = [radial | species | moment]:

* energy term: exact, ``dE/dtheta = sum_i dV_i/dtheta`` from the kernel's
  ``parameter_gradients``;
* force and virial terms through the adjoint identity. With
  ``lambda_k = 2 w_c w_F (F_k - F_k^ref)`` and the symmetric matrix ``Lambda``
  (``Lambda_aa = 2 c dW_aa``, ``Lambda_ab = c dW_ab`` for a != b,
  ``c = w_c w_S / d_c``; off-diagonals halved because each off-diagonal
  component enters once but W_ab and W_ba both carry it)::

      dL_F/dtheta + dL_S/dtheta = sum_k lambda_k . dF_k/dtheta + Lambda : dW/dtheta
                                = - d/deps [ dE/dtheta (r_ij(eps)) ] at eps = 0,
      r_ij(eps) = (I + eps Lambda) r_ij + eps (lambda_j - lambda_i),

  i.e. the derivative of the exact parameter gradient along the combined
  displacement "atoms moved by eps lambda, cell and atoms strained by
  I + eps Lambda". It is taken by a central difference in eps with eps chosen
  so that the largest change of any r_ij is ``displacement`` = 1e-4 A: the
  truncation error is O((1e-4 A / length scale)^2) ~ 1e-8 relative, the
  round-off ~1e-16 / 1e-4 ~ 1e-12 relative. The neighbour list is held fixed
  while the pairs move; a pair within 1e-4 A of the cutoff may cross it, which
  costs at most ~1e-4 of that single pair's (already vanishing, ~(Rc - r)^2)
  contribution. Cost: 1 energy/force evaluation + 3 parameter-gradient
  evaluations of every configuration per loss-and-gradient evaluation, with
  no (3N x n_parameters) Jacobian ever formed.
* ``adjoint="exact"`` replaces the central difference by the kernel's exact
  forward-mode directional derivative (``Kernel.parameter_gradient_directional``,
  one pass that also returns dE/dtheta). Measured on level 08/16 cells it agrees
  with the central difference to 2e-8 (relative); its pass costs 1.30 ms against
  0.99 ms for the three parameter-gradient passes of a 52-atom level-16 cell,
  1.75 against 1.57 ms per cell for a whole loss-and-gradient evaluation, so
  the central difference stays the default and the exact mode serves as its check.

Errors reported alongside (unweighted, over the configurations that have the
label): energy RMSE per atom (meV/atom), force RMSE per Cartesian component
(eV/A, as ``seimd evaluate``), stress RMSE per Voigt component (GPa, from
-W / V, periodic cells only).

Parallelism: the configurations are split over the ranks of an MPI
communicator (mpi4py); partial sums are combined with ``Allreduce`` and then
broadcast from rank 0 so that every rank holds bit-identical values (the
optimiser runs on every rank in lock step and must take identical decisions).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..mtp.calculator import load_kernel, neighbour_csr
from ..mtp.model import MTP
from .data import TrainingConfiguration

__all__ = ["LossWeights", "Errors", "LossValue", "Loss", "SerialComm", "EV_PER_A3_IN_GPA",
           "WEIGHTINGS", "SCALING_ALIASES"]

EV_PER_A3_IN_GPA = 160.21766208
_VOIGT_A = np.array([0, 1, 2, 1, 0, 0])
_VOIGT_B = np.array([0, 1, 2, 2, 2, 1])
WEIGHTINGS = {"vibrations": 1, "structures": 2, "molecules": 0}
"""Weighting -> the power p of d_c = N_c^p (see the module docstring)."""
SCALING_ALIASES = {"N": "vibrations", "N2": "structures", "none": "molecules", "1": "molecules"}
"""The earlier ``scaling`` / ``--energy-scaling`` values and the weighting each one means."""


class SerialComm:
    """The few mpi4py communicator calls the trainer uses, for a single process."""

    rank = 0
    size = 1

    def Allreduce(self, sendbuf, recvbuf, op=None):  # noqa: N802 (mpi4py name)
        recvbuf[...] = sendbuf

    def Bcast(self, buf, root=0):  # noqa: N802
        return None

    def bcast(self, obj, root=0):
        return obj

    def gather(self, obj, root=0):
        return [obj]

    def allgather(self, obj):
        return [obj]

    def allreduce(self, obj, op=None):
        return obj

    def Barrier(self):  # noqa: N802
        return None


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (see the module docstring for the formula)."""

    energy: float = 1.0
    """w_E, dimensionless (the energy term is in eV^2 [/atom^p])."""
    forces: float = 0.01
    """w_F in A^2 (MLIP's --force-weight)."""
    stress: float = 0.001
    """w_S on the virial in eV (MLIP's --stress-weight)."""
    weighting: str = "vibrations"
    """d_c of the energy and virial terms: "vibrations" N_c, "structures" N_c^2, "molecules" 1."""
    scaling: str | None = None
    """Earlier name of ``weighting``: "N" / "N2" / "none"; when given it sets ``weighting``."""

    def __post_init__(self) -> None:
        if self.scaling is not None:
            if self.scaling not in SCALING_ALIASES:
                raise ValueError(f"scaling must be one of {sorted(SCALING_ALIASES)}, "
                                 f"got {self.scaling!r}")
            object.__setattr__(self, "weighting", SCALING_ALIASES[self.scaling])
            object.__setattr__(self, "scaling", None)
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, "
                             f"got {self.weighting!r}")
        for name in ("energy", "forces", "stress"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} weight must be finite and >= 0, got {value}")

    @property
    def power(self) -> int:
        """p of d_c = N_c^p."""
        return WEIGHTINGS[self.weighting]


@dataclass
class Errors:
    """RMS errors of a potential on a set of configurations (unweighted)."""

    energy_rmse: float = float("nan")
    """meV/atom, over configurations with an energy label."""
    force_rmse: float = float("nan")
    """eV/A, per Cartesian component, over atoms with force labels."""
    stress_rmse: float = float("nan")
    """GPa, per Voigt component, over periodic configurations with a virial label."""
    n_configurations: int = 0
    n_energies: int = 0
    n_force_components: int = 0
    n_stress_components: int = 0

    def line(self) -> str:
        def fmt(v, spec):
            return format(v, spec) if np.isfinite(v) else "-".rjust(len(format(1.0, spec)))

        return (f"E {fmt(self.energy_rmse, '9.4f')} meV/atom  F {fmt(self.force_rmse, '8.5f')} "
                f"eV/A  S {fmt(self.stress_rmse, '8.5f')} GPa")

    def as_dict(self) -> dict:
        return dict(energy_rmse_meV_per_atom=self.energy_rmse, force_rmse_eV_per_A=self.force_rmse,
                    stress_rmse_GPa=self.stress_rmse, n_configurations=self.n_configurations,
                    n_energies=self.n_energies, n_force_components=self.n_force_components,
                    n_stress_components=self.n_stress_components)


@dataclass
class LossValue:
    """Loss (eV^2), its three terms, optional gradient and the errors at one theta."""

    value: float
    energy_term: float
    force_term: float
    stress_term: float
    errors: Errors
    gradient: np.ndarray | None = None
    seconds: float = 0.0


# --------------------------------------------------------------------------- preparation


@dataclass
class _Prepared:
    """One configuration with its (fixed) neighbour list."""

    index: int
    species: np.ndarray
    offsets: np.ndarray
    neighbours: np.ndarray
    rij: np.ndarray
    n_atoms: int
    energy: float | None
    forces: np.ndarray | None
    virial: np.ndarray | None
    volume: float | None
    weight: float


@dataclass
class _Chunk:
    """Several configurations concatenated into one CSR neighbour list (one kernel call)."""

    index: np.ndarray          # (nc,) global configuration indices
    species: np.ndarray        # (Na,) int32
    offsets: np.ndarray        # (Na+1,) int64
    neighbours: np.ndarray     # (M,) int32, chunk-local atom index
    rij: np.ndarray            # (M, 3)
    centre: np.ndarray         # (M,) chunk-local index of the central atom
    atom_start: np.ndarray     # (nc,)
    pair_start: np.ndarray     # (nc,)
    pair_cfg: np.ndarray       # (M,) chunk-local configuration of each pair
    atom_cfg: np.ndarray       # (Na,)
    n_atoms: np.ndarray        # (nc,) float
    weight: np.ndarray         # (nc,)
    has_e: np.ndarray          # (nc,) bool
    e_ref: np.ndarray          # (nc,)
    has_f: np.ndarray          # (Na,) bool (per atom, from its configuration)
    has_f_cfg: np.ndarray      # (nc,) bool
    f_ref: np.ndarray          # (Na, 3)
    has_w: np.ndarray          # (nc,) bool
    w_ref: np.ndarray          # (nc, 3, 3)
    volume: np.ndarray         # (nc,) nan where not periodic in 3-d


def _prepare(index: int, cfg: TrainingConfiguration, cutoff: float) -> _Prepared:
    if cfg.n_atoms == 0:
        raise ValueError(f"{cfg.source or index}: configuration without atoms")
    offsets, neighbours, rij = neighbour_csr(cfg.to_atoms(), cutoff)
    return _Prepared(index, cfg.species.astype(np.int32), offsets, neighbours, rij, cfg.n_atoms,
                     cfg.energy, cfg.forces, cfg.virial, cfg.volume, cfg.weight)


def _make_chunk(items: Sequence[_Prepared]) -> _Chunk:
    na = np.array([p.n_atoms for p in items], dtype=np.int64)
    npairs = np.array([p.neighbours.size for p in items], dtype=np.int64)
    atom_start = np.concatenate([[0], np.cumsum(na)[:-1]])
    pair_start = np.concatenate([[0], np.cumsum(npairs)[:-1]])
    offsets = np.concatenate(
        [[0]] + [p.offsets[1:] + ps for p, ps in zip(items, pair_start)]).astype(np.int64)
    neighbours = np.concatenate(
        [p.neighbours.astype(np.int64) + a0 for p, a0 in zip(items, atom_start)]).astype(np.int32)
    rij = np.concatenate([p.rij for p in items]).reshape(-1, 3)
    total = int(na.sum())
    centre = np.repeat(np.arange(total), np.diff(offsets))
    atom_cfg = np.repeat(np.arange(len(items)), na)
    pair_cfg = np.repeat(np.arange(len(items)), npairs)
    has_e = np.array([p.energy is not None for p in items])
    has_f_cfg = np.array([p.forces is not None for p in items])
    has_w = np.array([p.virial is not None for p in items])
    f_ref = np.concatenate([p.forces if p.forces is not None else np.zeros((p.n_atoms, 3))
                            for p in items])
    w_ref = np.array([p.virial if p.virial is not None else np.zeros((3, 3)) for p in items])
    return _Chunk(
        index=np.array([p.index for p in items]),
        species=np.concatenate([p.species for p in items]).astype(np.int32),
        offsets=offsets, neighbours=neighbours, rij=np.ascontiguousarray(rij), centre=centre,
        atom_start=atom_start, pair_start=pair_start, pair_cfg=pair_cfg, atom_cfg=atom_cfg,
        n_atoms=na.astype(np.float64), weight=np.array([p.weight for p in items]),
        has_e=has_e, e_ref=np.array([p.energy if p.energy is not None else 0.0 for p in items]),
        has_f=has_f_cfg[atom_cfg], has_f_cfg=has_f_cfg, f_ref=f_ref, has_w=has_w, w_ref=w_ref,
        volume=np.array([p.volume if p.volume is not None else np.nan for p in items]),
    )


def _chunks(items: Sequence[_Prepared], max_atoms: int) -> list[_Chunk]:
    out, group, atoms = [], [], 0
    for p in items:
        if group and atoms + p.n_atoms > max_atoms:
            out.append(_make_chunk(group))
            group, atoms = [], 0
        group.append(p)
        atoms += p.n_atoms
    if group:
        out.append(_make_chunk(group))
    return out


def shard(n_atoms: Sequence[int], size: int) -> list[list[int]]:
    """Deterministic balanced split of configurations over `size` ranks (largest first)."""
    load = np.zeros(size)
    parts: list[list[int]] = [[] for _ in range(size)]
    for i in sorted(range(len(n_atoms)), key=lambda i: (-n_atoms[i], i)):
        r = int(np.argmin(load))
        parts[r].append(i)
        load[r] += n_atoms[i]
    return [sorted(p) for p in parts]


def _reduce_segments(values: np.ndarray, starts: np.ndarray, total: int) -> np.ndarray:
    """Sum of values[starts[c]:starts[c+1]] (empty segments give 0)."""
    out = np.zeros((starts.size,) + values.shape[1:], dtype=values.dtype)
    if values.shape[0] == 0:
        return out
    ends = np.append(starts[1:], total)
    nonempty = ends > starts
    if nonempty.any():
        out[nonempty] = np.add.reduceat(values, starts[nonempty], axis=0)
        # reduceat sums up to the next listed start, which skips empty segments correctly
    return out


# --------------------------------------------------------------------------- loss


class Loss:
    """The loss of :mod:`seimd.train.loss` on one set of configurations.

    ``template`` fixes the basis (its coefficients, if any, are not used:
    :meth:`evaluate` takes the parameter vector). Each rank of ``comm``
    (``None``: one process) keeps only its share of ``configurations`` and
    computes their neighbour lists once (the cutoff is the template's).
    Every rank must call :meth:`evaluate` with the same theta.
    """

    def __init__(self, template: MTP, configurations: Sequence[TrainingConfiguration],
                 weights: LossWeights | None = None, comm=None, threads: int = 1,
                 displacement: float = 1e-4, chunk_bytes: float = 2e6,
                 adjoint: str = "fd") -> None:
        self.template = template
        self.weights = weights or LossWeights()
        self.comm = comm if comm is not None else SerialComm()
        self.threads = int(threads)
        self.displacement = float(displacement)
        if adjoint not in ("fd", "exact"):
            raise ValueError(f"adjoint must be 'fd' or 'exact', got {adjoint!r}")
        self.adjoint = adjoint
        self.n_parameters = template.n_parameters
        self.n_configurations = len(configurations)
        for n, c in enumerate(configurations):
            if c.n_atoms and int(c.species.max()) >= template.species_count:
                raise ValueError(f"{c.source or n}: species {int(c.species.max())} but the "
                                 f"potential has {template.species_count} species")
        sizes = [c.n_atoms for c in configurations]
        self.local_indices = shard(sizes, self.comm.size)[self.comm.rank]
        t0 = time.perf_counter()
        self._prepared = [_prepare(i, configurations[i], template.cutoff)
                          for i in self.local_indices]
        self.max_chunk_atoms = max(64, int(chunk_bytes / (8 * self.n_parameters)))
        self._chunks = _chunks(self._prepared, self.max_chunk_atoms)
        self.setup_seconds = time.perf_counter() - t0
        counts = np.array([
            sum(p.n_atoms for p in self._prepared),
            sum(p.neighbours.size for p in self._prepared),
            sum(p.energy is not None for p in self._prepared),
            sum(p.forces is not None for p in self._prepared),
            sum(p.virial is not None for p in self._prepared),
            sum(p.n_atoms for p in self._prepared if p.forces is not None),
            sum(self._label_norm(p) for p in self._prepared),
        ], dtype=np.float64)
        total = np.zeros_like(counts)
        self.comm.Allreduce(counts, total)
        (self.n_atoms, self.n_pairs, self.n_energy_labels, self.n_force_labels,
         self.n_virial_labels, self.n_force_atoms) = (int(v) for v in total[:6])
        self.label_norm = float(total[6])
        """The loss of a potential that predicts zero for everything (the labels' size, eV^2)."""

    def _label_norm(self, p: _Prepared) -> float:
        w = self.weights
        out = 0.0
        if p.energy is not None:
            out += w.energy * p.energy**2 / p.n_atoms**w.power
        if p.forces is not None:
            out += w.forces * float(np.sum(p.forces**2))
        if p.virial is not None:
            out += w.stress * float(np.sum(p.virial[_VOIGT_A, _VOIGT_B] ** 2)) / p.n_atoms**w.power
        return p.weight * out

    # ------------------------------------------------------------ evaluation

    def kernel(self, theta: np.ndarray):
        return load_kernel(self.template.with_parameters(theta))

    def evaluate(self, theta: np.ndarray, gradient: bool = True) -> LossValue:
        """Loss, terms, errors and (optionally) the gradient at ``theta`` (all ranks)."""
        t0 = time.perf_counter()
        theta = np.asarray(theta, dtype=np.float64)
        P = self.n_parameters
        nstat = 10
        buf = np.zeros(nstat + (P if gradient else 0))
        try:
            kernel = self.kernel(theta)
            for chunk in self._chunks:
                self._chunk_terms(kernel, chunk, gradient, buf)
        except Exception as exc:  # keep the ranks in step: every rank raises together
            buf[:] = 0.0
            buf[9] = 1.0
            error = exc
        else:
            error = None
        total = np.zeros_like(buf)
        self.comm.Allreduce(buf, total)
        self.comm.Bcast(total, root=0)
        if total[9] != 0.0:
            if error is not None:
                raise error
            raise RuntimeError("loss evaluation failed on another MPI rank")
        loss_e, loss_f, loss_s = total[0], total[1], total[2]
        errors = Errors(
            energy_rmse=1000.0 * np.sqrt(total[3] / total[4]) if total[4] else float("nan"),
            force_rmse=np.sqrt(total[5] / total[6]) if total[6] else float("nan"),
            stress_rmse=np.sqrt(total[7] / total[8]) if total[8] else float("nan"),
            n_configurations=self.n_configurations, n_energies=int(total[4]),
            n_force_components=int(total[6]), n_stress_components=int(total[8]),
        )
        return LossValue(
            value=float(loss_e + loss_f + loss_s), energy_term=float(loss_e),
            force_term=float(loss_f), stress_term=float(loss_s), errors=errors,
            gradient=total[nstat:].copy() if gradient else None,
            seconds=time.perf_counter() - t0,
        )

    def errors(self, theta: np.ndarray) -> Errors:
        """Errors only (one energy/force evaluation per configuration)."""
        return self.evaluate(theta, gradient=False).errors

    def _chunk_terms(self, kernel, ch: _Chunk, gradient: bool, buf: np.ndarray) -> None:
        w = self.weights
        out = kernel.compute(ch.species, ch.offsets, ch.neighbours, ch.rij, self.threads)
        total_atoms = ch.species.size
        energy = _reduce_segments(out["site_energies"], ch.atom_start, total_atoms)
        virial = _reduce_segments(out["atom_virial"], ch.atom_start, total_atoms).reshape(-1, 3, 3)
        virial = 0.5 * (virial + virial.transpose(0, 2, 1))
        div = ch.n_atoms ** w.power

        d_e = np.where(ch.has_e, energy - ch.e_ref, 0.0)
        d_f = np.where(ch.has_f[:, None], out["forces"] - ch.f_ref, 0.0)
        d_w = np.where(ch.has_w[:, None, None], virial - ch.w_ref, 0.0)
        d_w6 = d_w[:, _VOIGT_A, _VOIGT_B]
        buf[0] += w.energy * np.sum(ch.weight * d_e**2 / div)
        buf[1] += w.forces * np.sum(ch.weight[ch.atom_cfg] * np.sum(d_f**2, axis=1))
        buf[2] += w.stress * np.sum(ch.weight * np.sum(d_w6**2, axis=1) / div)
        buf[3] += np.sum((d_e / ch.n_atoms) ** 2)
        buf[4] += np.count_nonzero(ch.has_e)
        buf[5] += np.sum(d_f**2)
        buf[6] += 3 * np.count_nonzero(ch.has_f)
        with_volume = ch.has_w & np.isfinite(ch.volume)
        if with_volume.any():
            s = d_w6[with_volume] / ch.volume[with_volume, None] * EV_PER_A3_IN_GPA
            buf[7] += np.sum(s**2)
            buf[8] += s.size
        if not gradient:
            return
        grad = buf[10:]
        args = (ch.species, ch.offsets, ch.neighbours)
        coef_e = 2.0 * w.energy * ch.weight * d_e / div
        lam = 2.0 * w.forces * ch.weight[ch.atom_cfg, None] * d_f
        c = w.stress * ch.weight / div
        big_lambda = c[:, None, None] * (d_w + d_w * np.eye(3))
        if self.adjoint == "exact":
            grad += self._exact_terms(kernel, ch, coef_e, lam, big_lambda)
            return
        if np.any(coef_e != 0.0):
            g0 = _reduce_segments(kernel.parameter_gradients(*args, ch.rij), ch.atom_start,
                                  total_atoms)
            grad += coef_e @ g0
        adjoint = self._adjoint(kernel, ch, lam, big_lambda)
        if adjoint is not None:
            grad += adjoint.sum(axis=0)

    def _exact_terms(self, kernel, ch: _Chunk, coef_e: np.ndarray, lam: np.ndarray,
                     big_lambda: np.ndarray) -> np.ndarray:
        """Energy + force/virial gradient with the kernel's exact forward-mode derivative.

        ``parameter_gradient_directional`` returns, for one configuration, dE/dtheta and
        sum_ij d(dV_i/dtheta)/dr_ij . drij exactly (no finite difference); one call per
        configuration (the first output must stay per configuration for the energy term).
        """
        drij = (np.einsum("mab,mb->ma", big_lambda[ch.pair_cfg], ch.rij)
                + lam[ch.neighbours] - lam[ch.centre])
        out = np.zeros(self.n_parameters)
        ends = np.append(ch.atom_start[1:], ch.species.size)
        for c, (a0, a1) in enumerate(zip(ch.atom_start, ends)):
            p0, p1 = ch.offsets[a0], ch.offsets[a1]
            g0, directional = kernel.parameter_gradient_directional(
                ch.species[a0:a1], ch.offsets[a0:a1 + 1] - p0,
                (ch.neighbours[p0:p1] - a0).astype(np.int32), ch.rij[p0:p1], drij[p0:p1])
            out += coef_e[c] * g0 - directional
        return out

    # ------------------------------------------------------------ preconditioning

    def gauss_newton_diagonal(self, theta: np.ndarray, probes: int = 4, seed: int = 0
                              ) -> np.ndarray:
        """Estimate of diag(J^T J), J the Jacobian of the weighted residuals (loss = |r|^2).

        Energy rows exactly (from the per-configuration dE/dtheta); force and
        virial rows by Hutchinson's estimator: for random signs z on the
        residuals of one configuration, ``E[(J_c^T z)_p^2] = sum_rows J_rp^2``,
        and ``J_c^T z`` is the adjoint product of the gradient (two
        parameter-gradient passes per probe), squared per configuration and
        averaged over ``probes`` draws. Cost: 1 + 2 probes parameter-gradient passes.
        """
        w = self.weights
        P = self.n_parameters
        diag = np.zeros(P)
        kernel = self.kernel(np.asarray(theta, dtype=np.float64))
        for ch in self._chunks:
            args = (ch.species, ch.offsets, ch.neighbours)
            total_atoms = ch.species.size
            div = ch.n_atoms ** w.power
            if ch.has_e.any():
                g0 = _reduce_segments(kernel.parameter_gradients(*args, ch.rij), ch.atom_start,
                                      total_atoms)
                diag += ((w.energy * ch.weight * ch.has_e / div) @ (g0**2))
            if not ((ch.has_f.any() and w.forces > 0) or (ch.has_w.any() and w.stress > 0)):
                continue
            # Random signs drawn per configuration (seeded by its global index), so the
            # estimate does not depend on how the configurations are split over ranks.
            signs = [np.random.default_rng([seed, int(i), 104729]).choice(
                [-1.0, 1.0], size=(probes, int(n) + 2, 3)) for i, n in zip(ch.index, ch.n_atoms)]
            for q in range(probes):
                zf = np.concatenate([z[q, :-2] for z in signs]) * ch.has_f[:, None]
                lam = np.sqrt(w.forces * ch.weight[ch.atom_cfg])[:, None] * zf
                zw = np.array([z[q, -2:].ravel() for z in signs]) * ch.has_w[:, None]
                y = np.sqrt(w.stress * ch.weight / div)[:, None] * zw
                big_lambda = np.empty((ch.index.size, 3, 3))
                for v, (a, b) in enumerate(zip(_VOIGT_A, _VOIGT_B)):
                    if a == b:
                        big_lambda[:, a, a] = y[:, v]
                    else:
                        big_lambda[:, a, b] = big_lambda[:, b, a] = 0.5 * y[:, v]
                jtz = self._adjoint(kernel, ch, lam, big_lambda)
                if jtz is not None:
                    diag += np.sum(jtz**2, axis=0) / probes
        total = np.zeros_like(diag)
        self.comm.Allreduce(diag, total)
        self.comm.Bcast(total, root=0)
        return total

    def _adjoint(self, kernel, ch: _Chunk, lam: np.ndarray, big_lambda: np.ndarray
                 ) -> np.ndarray | None:
        """Per configuration, sum_k lam_k . dF_k/dtheta + Lambda : dW/dtheta, (nc, P); None if 0."""
        step = (np.einsum("mab,mb->ma", big_lambda[ch.pair_cfg], ch.rij)
                + lam[ch.neighbours] - lam[ch.centre])
        size = np.sqrt(np.sum(step**2, axis=1))
        dmax = np.zeros(ch.index.size)
        np.maximum.at(dmax, ch.pair_cfg, size)
        active = dmax > 0.0
        if not active.any():
            return None
        eps = np.where(active, self.displacement / np.where(active, dmax, 1.0), 0.0)
        step *= eps[ch.pair_cfg, None]
        args = (ch.species, ch.offsets, ch.neighbours)
        g_plus = _reduce_segments(kernel.parameter_gradients(*args, ch.rij + step),
                                  ch.atom_start, ch.species.size)
        g_minus = _reduce_segments(kernel.parameter_gradients(*args, ch.rij - step),
                                   ch.atom_start, ch.species.size)
        out = np.zeros_like(g_plus)
        out[active] = -(g_plus[active] - g_minus[active]) / (2.0 * eps[active, None])
        return out

    # ------------------------------------------------------------ linear least squares

    def linear_rows(self, theta: np.ndarray, force_subset: set[int] | None = None,
                    force_scale: float = 1.0, stress_scale: float = 1.0,
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Local rows (A, b) of the weighted least-squares problem in the linear parameters.

        Columns: species coefficients (C) then moment coefficients (S); radial
        coefficients fixed at ``theta``. ``||A x - b||^2`` equals the loss as a
        function of x = theta[species | moment], except that forces and virials
        enter only for the configurations in ``force_subset`` (all when None),
        their squared rows multiplied by ``force_scale`` / ``stress_scale``.
        Energy rows use every configuration with an energy label (exact).
        """
        w = self.weights
        C, S = self.template.species_count, self.template.alpha_scalar_moments
        radial, species_sl, moment_sl = self.template.parameter_slices
        kernel = self.kernel(theta)
        rows_a, rows_b = [], []
        for ch in self._chunks:
            if not ch.has_e.any():
                continue
            g0 = _reduce_segments(
                kernel.parameter_gradients(ch.species, ch.offsets, ch.neighbours, ch.rij),
                ch.atom_start, ch.species.size)
            scale = np.sqrt(w.energy * ch.weight / ch.n_atoms ** w.power)[ch.has_e]
            rows_a.append(scale[:, None] * g0[ch.has_e, species_sl.start:])
            rows_b.append(scale * ch.e_ref[ch.has_e])
        chosen = [p for p in self._prepared
                  if (p.forces is not None or p.virial is not None)
                  and (force_subset is None or p.index in force_subset)]
        if chosen and (w.forces > 0.0 or w.stress > 0.0):
            base = np.array(theta, dtype=np.float64)
            base[radial.stop:] = 0.0
            kernels = []
            for s in range(S):
                unit = base.copy()
                unit[moment_sl.start + s] = 1.0
                kernels.append(self.kernel(unit))
            for ch in _chunks(chosen, self.max_chunk_atoms):
                cols_f, cols_w = [], []
                for k in kernels:
                    out = k.compute(ch.species, ch.offsets, ch.neighbours, ch.rij, self.threads)
                    cols_f.append(out["forces"][ch.has_f].ravel())
                    vir = _reduce_segments(out["atom_virial"], ch.atom_start,
                                           ch.species.size).reshape(-1, 3, 3)
                    vir = 0.5 * (vir + vir.transpose(0, 2, 1))
                    cols_w.append(vir[ch.has_w][:, _VOIGT_A, _VOIGT_B].ravel())
                if w.forces > 0.0 and ch.has_f.any():
                    sf = np.sqrt(force_scale * w.forces * ch.weight[ch.atom_cfg][ch.has_f])
                    sf = np.repeat(sf, 3)
                    block = np.zeros((sf.size, C + S))
                    block[:, C:] = np.array(cols_f).T * sf[:, None]
                    rows_a.append(block)
                    rows_b.append(ch.f_ref[ch.has_f].ravel() * sf)
                if w.stress > 0.0 and ch.has_w.any():
                    sw = np.sqrt(stress_scale * w.stress * ch.weight / ch.n_atoms ** w.power)
                    sw = np.repeat(sw[ch.has_w], 6)
                    block = np.zeros((sw.size, C + S))
                    block[:, C:] = np.array(cols_w).T * sw[:, None]
                    rows_a.append(block)
                    rows_b.append(ch.w_ref[ch.has_w][:, _VOIGT_A, _VOIGT_B].ravel() * sw)
        if not rows_a:
            return np.zeros((0, C + S)), np.zeros(0)
        return np.vstack(rows_a), np.concatenate(rows_b)

    def solve_linear(self, theta: np.ndarray, force_subset: set[int] | None = None,
                     force_scale: float = 1.0, stress_scale: float = 1.0,
                     rcond: float = 1e-10) -> tuple[np.ndarray, dict]:
        """theta with its species and moment coefficients replaced by the least-squares optimum.

        Rows from :meth:`linear_rows` on every rank; solved by a communication-
        avoiding QR (local QR per rank, the stacked R factors QR'd on rank 0)
        with column equilibration and singular values below ``rcond`` times the
        largest dropped (minimum-norm solution). Returns (theta, info).
        """
        t0 = time.perf_counter()
        a, b = self.linear_rows(theta, force_subset, force_scale, stress_scale)
        ncol = a.shape[1]
        sq = np.sum(a**2, axis=0)
        tot = np.zeros_like(sq)
        self.comm.Allreduce(sq, tot)
        norms = np.sqrt(tot)
        norms[norms == 0.0] = 1.0
        ab = np.hstack([a / norms, b[:, None]])
        if ab.shape[0] > ab.shape[1]:
            r = np.linalg.qr(ab, mode="r")
        else:
            r = ab
        blocks = self.comm.gather(r, root=0)
        nrows = self.comm.allreduce(int(a.shape[0]))
        solution = np.zeros(ncol)
        info: dict = {}
        if self.comm.rank == 0:
            stacked = np.vstack(blocks)
            r2 = np.linalg.qr(stacked, mode="r") if stacked.shape[0] > ncol + 1 else stacked
            x, _, rank, sv = np.linalg.lstsq(r2[:, :ncol], r2[:, ncol], rcond=rcond)
            solution = x / norms
            info = dict(rows=nrows, columns=ncol, rank=int(rank),
                        condition=float(sv[0] / sv[-1]) if sv.size and sv[-1] > 0 else np.inf)
        self.comm.Bcast(solution, root=0)
        info = self.comm.bcast(info, root=0)
        info["seconds"] = time.perf_counter() - t0
        out = np.array(theta, dtype=np.float64)
        out[self.template.parameter_slices[1].start:] = solution
        return out, info

    @property
    def local_force_configurations(self) -> list[tuple[int, int]]:
        """(global index, atoms) of the local configurations with force or virial labels."""
        return [(p.index, p.n_atoms) for p in self._prepared
                if p.forces is not None or p.virial is not None]
