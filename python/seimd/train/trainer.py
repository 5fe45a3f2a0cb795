"""Fit the parameters of an MTP to labelled configurations.

:func:`train` minimises the loss of :mod:`seimd.train.loss` over all
parameters theta = [radial | species | moment]:

1. Start: an untrained template gets small random radial coefficients
   (reproducible from ``seed``); a trained potential is a warm start (its
   parameters as they are).
2. Linear start (default for untrained templates, ``linear_init``): with the
   radial functions fixed the model is linear in the species and moment
   coefficients, and the loss is an exact linear least-squares problem in
   them. It is solved with energies of all configurations and forces and
   virials of a seeded random subset of them (each basis function's forces
   cost one kernel evaluation per configuration, so the subset is capped at
   about 10 loss evaluations' worth of work; all configurations when S is small).
3. SciPy L-BFGS-B on all parameters with the exact-to-1e-8 gradient.

Why L-BFGS-B: the loss is a smooth sum of squares in a few hundred to a few
thousand parameters; a quasi-Newton method needs only loss + gradient (which
the adjoint trick gives for the price of ~2 energy/force evaluations, while a
Gauss-Newton / Levenberg-Marquardt method would need the full force Jacobian,
3N x n_parameters per configuration); it is what MLIP (BFGS) and motep use;
SciPy's implementation is mature Fortran with a robust Wolfe line search, no
learning rate to tune and memory O(m n). An alternating scheme ("solve the
linear part exactly, L-BFGS on the radial part", ``mode="alternating"``) is
available but measured slower: on the level-08 teacher-student problem of the
tests (24 cells of 52 atoms, 3 seeds, 400 iterations) joint L-BFGS reached
losses of 2e-5..5e-4 eV^2, alternating 4e-4..6e-3; so ``joint`` is the default.

Preconditioning (default on): L-BFGS runs on x = theta / s with
s_p = 1 / sqrt(diag(J^T J))_p, J the Jacobian of the weighted residuals at the
start, estimated by :meth:`Loss.gauss_newton_diagonal` (about 3 loss
evaluations). The parameters differ in scale by orders of magnitude (moment
coefficients of products of 1..4 moments, Chebyshev orders); on the same
problem this gave 10-100x lower losses after 400 iterations than plain
L-BFGS-B (no-preconditioner losses 3e-3..8e-3 eV^2).
L-BFGS memory 50 (20 and 100 measured: 50 and 100 alike, both better than 20).

Ideas shared with motep's trainer (MIT; studied, no code taken): L-BFGS-B on
all parameters as the main step, and a column-equilibrated least-squares
solve for the linear coefficients. Different here: the force/stress gradient
by the adjoint identity instead of motep's explicit dF/dtheta arrays, the
force rows of the linear start on a bounded subset, the QR reduction over MPI
ranks, the Gauss-Newton diagonal preconditioner.

Stopping: ``max_iter`` L-BFGS iterations, or when the loss decreased by a
relative amount smaller than ``tol`` over the last ``tol_window`` iterations
(MLIP's convention for ``--bfgs-conv-tol``), or when L-BFGS-B's line search
cannot improve any further, or when the loss is below 1e-28 times the loss of
an all-zero prediction (residuals at round-off level, e.g. a warm start from
the potential that made the labels).

MPI: pass ``comm`` (an mpi4py communicator); every rank calls :func:`train`
with the same arguments, configurations are split over the ranks, every rank
returns the same potential; only rank 0 prints (``log``). The ``seimd train``
command does this by itself under ``mpiexec``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..mtp.model import MTP
from .data import (
    TrainingConfiguration,
    kfold_splits,
    load_training_set,
    species_map_from_string,
    split_holdout,
    to_training_set,
)
from .loss import SCALING_ALIASES, WEIGHTINGS, Errors, Loss, LossValue, LossWeights, SerialComm

__all__ = ["train", "cross_validate", "initial_parameters", "TrainingReport",
           "prepare_template", "add_train_subcommand"]


# --------------------------------------------------------------------------- report


@dataclass
class TrainingReport:
    """What :func:`train` did and how well the result fits."""

    iterations: int = 0
    evaluations: int = 0
    """Loss-and-gradient evaluations (each: 1 energy/force + 3 parameter-gradient passes)."""
    loss_initial: float = float("nan")
    """Loss (eV^2) at the start of the nonlinear fit (after the linear start, if any)."""
    loss_start: float = float("nan")
    """Loss at the very start (before the linear start)."""
    loss_final: float = float("nan")
    message: str = ""
    converged: bool = False
    train_errors: Errors = field(default_factory=Errors)
    holdout_errors: Errors | None = None
    history: list = field(default_factory=list)
    """One dict per iteration: iteration, loss, energy/force/stress RMSE, seconds."""
    linear_init: dict | None = None
    seconds: float = 0.0
    seconds_per_evaluation: float = float("nan")
    timings: dict = field(default_factory=dict)
    """Wall seconds of the phases: setup (neighbour lists), linear_init, starts (the random
    starts, if several), preconditioner (all its estimates), optimisation (the L-BFGS
    iterations), holdout."""
    seed: int = 0
    starts: list = field(default_factory=list)
    """With ``starts`` > 1: one dict per random start (seed, loss after its iterations)."""
    n_train: int = 0
    n_holdout: int = 0
    n_parameters: int = 0
    ranks: int = 1

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["train_errors"] = self.train_errors.as_dict()
        d["holdout_errors"] = self.holdout_errors.as_dict() if self.holdout_errors else None
        return d


# --------------------------------------------------------------------------- starting point


def prepare_template(mtp: MTP, species_count: int | None = None,
                     elements: Sequence[str] | None = None) -> MTP:
    """The potential to train, with ``species_count`` species (untrained templates are resized).

    A trained potential must already have ``species_count`` species. ``elements``
    (symbols of species 0, 1, ...) are written into the potential tag when given.
    """
    out = mtp
    if species_count is not None and species_count != mtp.species_count:
        if mtp.is_trained:
            if species_count > mtp.species_count:
                raise ValueError(
                    f"the data has {species_count} species but the trained potential has "
                    f"{mtp.species_count}")
        else:
            out = dataclasses.replace(mtp, species_count=species_count)
    if elements is not None:
        if len(elements) != out.species_count:
            raise ValueError(f"species map {list(elements)} has {len(elements)} symbols for a "
                             f"potential with {out.species_count} species")
        if out.elements != list(elements):
            out = out.with_elements(elements)
    return out


def initial_parameters(mtp: MTP, seed: int = 0, radial_scale: float = 0.5) -> np.ndarray:
    """Starting parameter vector: a trained potential's own, else a reproducible random start.

    Untrained: radial coefficients c[s1, s2, mu, xi] ~ N(0, radial_scale^2) /
    (1 + xi) / (max_dist - min_dist)^2 (a decaying Chebyshev spectrum, so each
    radial function is O(radial_scale) near min_dist and smooth), species and
    moment coefficients 0 (the linear start then fits them).
    """
    if mtp.is_trained:
        return mtp.parameters
    rng = np.random.default_rng(seed)
    C, K, R = mtp.species_count, mtp.radial_funcs_count, mtp.radial_basis_size
    width = mtp.max_dist - mtp.min_dist
    radial = rng.normal(0.0, radial_scale, (C, C, K, R)) / (1.0 + np.arange(R)) / width**2
    theta = np.zeros(mtp.n_parameters)
    theta[mtp.parameter_slices[0]] = radial.ravel()
    return theta


def _force_subset(loss: Loss, seed: int) -> tuple[set[int] | None, float, int]:
    """Configurations whose forces/virials enter the linear start, and the row scale."""
    labelled = [item for part in loss.comm.allgather(loss.local_force_configurations)
                for item in part]
    labelled.sort()
    if not labelled:
        return None, 1.0, 0
    S = loss.template.alpha_scalar_moments
    C = loss.template.species_count
    n = len(labelled)
    budget = max(1, math.ceil(10.0 * n / (S + 1)))
    order = np.random.default_rng(seed + 7919).permutation(n)
    chosen, rows = [], 0
    for k in order:
        if len(chosen) >= budget and rows >= 20 * (C + S):
            break
        chosen.append(labelled[k])
        rows += 3 * labelled[k][1]
    if len(chosen) == n:
        return None, 1.0, n
    scale = sum(a for _, a in labelled) / sum(a for _, a in chosen)
    return {i for i, _ in chosen}, scale, len(chosen)


# --------------------------------------------------------------------------- objective


class _Objective:
    """Loss and gradient for SciPy in scaled variables x = theta[free] / scale[free].

    Keeps a small cache of evaluations (SciPy asks for the same point twice)."""

    def __init__(self, loss: Loss, theta_fixed: np.ndarray, free: np.ndarray,
                 scale: np.ndarray | None = None):
        self.loss = loss
        self.theta_fixed = theta_fixed
        self.free = free
        self.scale = np.ones(theta_fixed.size) if scale is None else scale
        self.cache: dict[bytes, LossValue] = {}
        self.evaluations = 0
        self.eval_seconds = 0.0

    def to_x(self, theta: np.ndarray) -> np.ndarray:
        return theta[self.free] / self.scale[self.free]

    def full(self, x: np.ndarray) -> np.ndarray:
        theta = self.theta_fixed.copy()
        theta[self.free] = x * self.scale[self.free]
        return theta

    def at(self, theta: np.ndarray) -> LossValue:
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if key not in self.cache:
            v = self.loss.evaluate(theta, gradient=True)
            self.evaluations += 1
            self.eval_seconds += v.seconds
            if len(self.cache) > 8:
                self.cache.pop(next(iter(self.cache)))
            self.cache[key] = v
        return self.cache[key]

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        v = self.at(self.full(x))
        return v.value, v.gradient[self.free] * self.scale[self.free]


def _log_header(log) -> None:
    if log:
        log(f"{'iter':>6} {'loss (eV^2)':>22}   {'energy RMSE':>13}   {'force RMSE':>11}   "
            f"{'stress RMSE':>11} {'time':>9}")
        log(f"{'':>6} {'':>22}   {'meV/atom':>13}   {'eV/A':>11}   {'GPa':>11} {'s':>9}")


def _log_line(log, it: int, v: LossValue, seconds: float) -> None:
    if not log:
        return
    e = v.errors

    def f(x, spec):
        return format(x, spec) if np.isfinite(x) else "-".rjust(len(format(1.0, spec)))

    log(f"{it:6d} {v.value:22.15e}   {f(e.energy_rmse, '13.6f')}   {f(e.force_rmse, '11.6f')}   "
        f"{f(e.stress_rmse, '11.6f')} {seconds:9.2f}")


# --------------------------------------------------------------------------- training


def _default_log(comm):
    if comm.rank != 0:
        return None

    def log(line: str) -> None:
        print(line, flush=True)

    return log


def train(
    mtp: MTP,
    configurations,
    weights: LossWeights | dict | None = None,
    *,
    max_iter: int = 1000,
    tol: float = 1e-8,
    tol_window: int = 50,
    seed: int = 0,
    comm=None,
    callback: Callable[[int, np.ndarray, LossValue], bool | None] | None = None,
    validation=None,
    linear_init: str | bool = "auto",
    mode: str = "joint",
    inner_iter: int = 50,
    precondition: bool = True,
    history_size: int = 50,
    type_map=None,
    log: Callable[[str], None] | None | str = "default",
    threads: int = 1,
    adjoint: str = "fd",
    polish: bool = False,
    starts: int | None = None,
    start_iter: int = 100,
    precondition_every: int | None = None,
) -> tuple[MTP, TrainingReport]:
    """Train ``mtp`` on ``configurations``; returns (trained MTP, :class:`TrainingReport`).

    Parameters
    ----------
    mtp : untrained template (random start, ``seed``) or trained potential (warm start).
    configurations : TrainingConfiguration / seimd Configuration / ase.Atoms objects, or
        paths of ``.cfg`` / extended-XYZ files (see :mod:`seimd.train.data`).
    weights : :class:`LossWeights` or a dict of its fields (energy, forces, stress, weighting).
    max_iter : maximum number of L-BFGS iterations (0: only the linear start, if any).
    tol, tol_window : stop when the loss fell by less than ``tol`` (relative) over the
        last ``tol_window`` iterations.
    seed : random radial start and the linear start's force subset.
    comm : mpi4py communicator (None: this process alone).
    callback : ``callback(iteration, theta, LossValue)`` after each iteration on every
        rank; returning True stops the training.
    validation : configurations to report errors on (not trained on).
    linear_init : "auto" (for untrained templates), True/"yes" or False/"no".
    mode : "joint" (L-BFGS on all parameters) or "alternating" (exact linear solve, then
        ``inner_iter`` L-BFGS iterations on the radial coefficients, repeated).
    inner_iter : L-BFGS iterations per cycle of the alternating mode.
    precondition : scale the parameters by an estimate of the diagonal of the Gauss-Newton
        matrix (see :meth:`Loss.gauss_newton_diagonal`) before L-BFGS.
    history_size : L-BFGS memory (pairs of correction vectors).
    type_map : symbols of species 0, 1, ... (or dict) for ase.Atoms without ``mtp_type``.
    log : callable taking one line; "default" prints on rank 0; None is silent.
    threads : OpenMP threads of each kernel call (parallelism is meant to come from MPI).
    adjoint : "fd" (central difference of the exact parameter gradient, default) or
        "exact" (the kernel's forward-mode derivative); see :mod:`seimd.train.loss`.
    polish : after L-BFGS, re-solve the species and moment coefficients by least squares
        on all energies, forces and virials (kept only if the loss falls).
    starts : untrained templates only: try this many random starts (seeds ``seed``,
        ``seed + 1``, ...), each a linear start and ``start_iter`` L-BFGS iterations, and
        continue from the one with the lowest training loss. The starts' iterations count
        towards ``max_iter`` (all of them), so the wall time stays about that of
        ``max_iter`` iterations. None (default): 4 for an untrained template with
        ``max_iter`` >= 1000, else 1.
    precondition_every : re-estimate the Gauss-Newton diagonal at the current parameters
        and restart L-BFGS every this many iterations (0: once, at the start). None
        (default): 250 with ``max_iter`` >= 1000, else 0. Measured on bench/bench_train.py
        (level 08, 166/42 configurations, one core, 2026-12-04): 1000 iterations held-out
        11.1 meV/atom, 0.181 eV/A, 0.48 GPa with one start and one preconditioner, 9.97,
        0.134, 0.43 with 4 starts and renewal every 250, at the same wall time.
    """
    t0 = time.perf_counter()
    comm = comm if comm is not None else SerialComm()
    if log == "default":
        log = _default_log(comm)
    elif log is not None and comm.rank != 0:
        log = None
    if isinstance(weights, dict):
        weights = LossWeights(**weights)
    weights = weights or LossWeights()
    if mode not in ("joint", "alternating"):
        raise ValueError(f"mode must be 'joint' or 'alternating', got {mode!r}")
    long_fit = max_iter >= 1000
    if starts is None:
        starts = 4 if long_fit and not mtp.is_trained else 1
    if precondition_every is None:
        precondition_every = 250 if long_fit else 0
    if starts < 1 or start_iter < 0 or precondition_every < 0:
        raise ValueError(f"starts must be >= 1 and start_iter, precondition_every >= 0, got "
                         f"{starts}, {start_iter}, {precondition_every}")
    if mtp.is_trained:
        starts = 1                       # a warm start has one starting point: its own
    start_budget = starts * start_iter if starts > 1 else 0
    if start_budget > max_iter:
        raise ValueError(f"{starts} starts of {start_iter} iterations need more than "
                         f"max_iter = {max_iter} iterations")
    train_set = _as_training_set(configurations, mtp, type_map)
    valid_set = _as_training_set(validation, mtp, type_map) if validation is not None else None
    for c in train_set + (valid_set or []):
        if c.n_atoms == 0:
            raise ValueError(f"{c.source or 'a configuration'}: configuration without atoms")
    if not any(c.energy is not None or c.forces is not None or c.virial is not None
               for c in train_set):
        # a silent "fit" of nothing would write an all-zero potential
        raise ValueError("the training configurations have no energy, force or stress labels")
    n_species = max(int(c.species.max()) for c in train_set + (valid_set or [])) + 1
    template = prepare_template(mtp, max(n_species, mtp.species_count) if not mtp.is_trained
                                else None)
    if n_species > template.species_count:
        raise ValueError(f"the data has species up to {n_species - 1} but the potential has "
                         f"{template.species_count} species")
    theta = initial_parameters(template, seed)
    loss = Loss(template, train_set, weights, comm, threads=threads, adjoint=adjoint)
    timings = {"setup": time.perf_counter() - t0}
    report = TrainingReport(seed=seed, n_train=len(train_set),
                            n_holdout=len(valid_set) if valid_set else 0,
                            n_parameters=template.n_parameters, ranks=comm.size)
    if log:
        log(f"training {template.n_parameters} parameters ({template.n_radial_parameters} radial, "
            f"{template.species_count} species, {template.alpha_scalar_moments} moment) on "
            f"{len(train_set)} configurations ({loss.n_atoms} atoms, {loss.n_pairs} pairs; "
            f"{loss.n_energy_labels} energies, {loss.n_force_labels} with forces, "
            f"{loss.n_virial_labels} with virials), {comm.size} MPI rank(s)")
        d = {0: "1", 1: "N", 2: "N^2"}[weights.power]
        log(f"loss = sum_c w_E dE^2/{d} + w_F |dF|^2 + w_S |dW|^2/{d} (weighting "
            f"{weights.weighting}) with w_E = {weights.energy:g}, w_F = {weights.forces:g} A^2, "
            f"w_S = {weights.stress:g} (eV^2)")
    do_linear = (not mtp.is_trained) if linear_init in ("auto", None) else (
        linear_init in (True, "yes", "true", "on"))
    if do_linear or mode == "alternating":
        report.loss_start = loss.evaluate(theta, gradient=False).value
    if do_linear:
        theta = _linear_step(loss, theta, seed, log, report)
        timings["linear_init"] = report.linear_init["seconds"]

    everything = np.arange(theta.size)
    if start_budget:
        ts = time.perf_counter()
        theta = _best_start(loss, template, theta, seed, starts, start_iter, do_linear,
                            precondition, history_size, log, report)
        timings["starts"] = time.perf_counter() - ts
    scale = None
    if precondition:
        tp = time.perf_counter()
        scale = _preconditioner(loss, theta, seed)
        timings["preconditioner"] = time.perf_counter() - tp
        if log:
            log(f"preconditioner: diagonal Gauss-Newton estimate (4 probes), "
                f"{time.perf_counter() - tp:.2f} s"
                + (f", renewed every {precondition_every} iterations" if precondition_every
                   else ""))
    objective = _Objective(loss, theta, everything, scale)
    state = dict(iteration=0, stop=False, losses=[])
    _log_header(log)
    first = objective.at(theta)
    if not np.isfinite(report.loss_start):
        report.loss_start = first.value
    report.loss_initial = first.value

    def record(theta_now: np.ndarray, v: LossValue) -> bool:
        it = state["iteration"]
        seconds = time.perf_counter() - t0
        state["losses"].append(v.value)
        report.history.append(dict(iteration=it, loss=v.value,
                                   energy_rmse=v.errors.energy_rmse,
                                   force_rmse=v.errors.force_rmse,
                                   stress_rmse=v.errors.stress_rmse, seconds=seconds))
        _log_line(log, it, v, seconds)
        stop = False
        if callback is not None and callback(it, theta_now, v):
            report.message = "stopped by the callback"
            stop = True
        losses = state["losses"]
        if len(losses) > tol_window and tol > 0:
            old = losses[-1 - tol_window]
            if old - losses[-1] <= tol * abs(old):
                report.message = (f"loss fell by less than {tol:g} (relative) over "
                                  f"{tol_window} iterations")
                report.converged = True
                stop = True
        if v.value <= 1e-28 * loss.label_norm:
            report.message = "loss at round-off level (residuals ~1e-14 of the labels)"
            report.converged = stop = True
        state["stop"] = stop
        return stop

    stopped = record(theta, first)
    t_opt = time.perf_counter()
    best = theta
    message = ""
    main_iter = max_iter - start_budget
    if mode == "joint":
        remaining = 0 if stopped else main_iter
        while remaining > 0:
            # one L-BFGS run per preconditioner: the diagonal of J^T J drifts by orders of
            # magnitude as the radial functions grow, and a stale scaling slows L-BFGS down
            n = min(remaining, precondition_every) if precondition_every else remaining
            before = state["iteration"]
            best, message = _lbfgs(objective, best, everything, n, history_size, state, record)
            done = state["iteration"] - before
            remaining -= done
            if state["stop"] or done == 0 or remaining <= 0 or not (precondition
                                                                   and precondition_every):
                break
            tp = time.perf_counter()
            objective.scale = _preconditioner(loss, best, seed)
            timings["preconditioner"] = timings.get("preconditioner", 0.0) + (
                time.perf_counter() - tp)
    else:
        radial = np.arange(template.n_radial_parameters)
        while not state["stop"] and state["iteration"] < main_iter:
            before = state["iteration"]
            best, message = _lbfgs(objective, best, radial, min(inner_iter, main_iter - before),
                                   history_size, state, record)
            if state["stop"] or state["iteration"] >= main_iter or state["iteration"] == before:
                break
            best = _linear_step(loss, best, seed, None, None)
            record(best, objective.at(best))
    report.message = report.message or message
    if polish:
        # L-BFGS leaves the linear coefficients short of their optimum for the final radial
        # functions; with every force row the least-squares solve is that optimum exactly
        polished = _linear_step(loss, best, seed, log, None, all_forces=True)
        if objective.at(polished).value < objective.at(best).value:
            best = polished
    final = objective.at(best)
    timings["optimisation"] = time.perf_counter() - t_opt
    report.iterations = state["iteration"] + start_budget
    report.evaluations = objective.evaluations
    report.loss_final = final.value
    report.train_errors = final.errors
    report.seconds_per_evaluation = (objective.eval_seconds / objective.evaluations
                                     if objective.evaluations else float("nan"))
    if not report.message:
        report.message = "reached max_iter" if report.iterations >= max_iter else "done"
    trained = template.with_parameters(best)
    if valid_set:
        th = time.perf_counter()
        report.holdout_errors = Loss(template, valid_set, weights, comm, threads).errors(best)
        timings["holdout"] = time.perf_counter() - th
    report.timings = timings
    report.seconds = time.perf_counter() - t0
    if log:
        log(f"stopped after {report.iterations} iterations, {report.evaluations} loss+gradient "
            f"evaluations ({report.seconds_per_evaluation:.3f} s each), {report.seconds:.1f} s: "
            f"{report.message}")
        log(f"training set   ({report.n_train:5d} cfgs): {report.train_errors.line()}")
        if report.holdout_errors is not None:
            log(f"held-out set   ({report.n_holdout:5d} cfgs): {report.holdout_errors.line()}")
    return trained, report


def _preconditioner(loss: Loss, theta: np.ndarray, seed: int) -> np.ndarray:
    """Parameter scales s_p = 1 / sqrt(diag(J^T J))_p (floored at 1e-12 of the largest)."""
    diag = loss.gauss_newton_diagonal(theta, probes=4, seed=seed)
    top = float(diag.max()) if diag.size and diag.max() > 0 else 1.0
    return 1.0 / np.sqrt(np.maximum(diag, 1e-12 * top))


def _best_start(loss: Loss, template: MTP, theta0: np.ndarray, seed: int, starts: int,
                start_iter: int, linear: bool, precondition: bool, history_size: int, log,
                report: TrainingReport) -> np.ndarray:
    """The lowest-loss of ``starts`` random starts after ``start_iter`` L-BFGS iterations each.

    Why: from a random radial start L-BFGS ends in one of many local minima (on the
    level-08 Li-P-S-Cl benchmark, bench/bench_train.py, seeds 0 and 1 gave held-out 11.1
    and 9.8 meV/atom after 1000 iterations), and the losses of the starts already differ
    by tens of per cent after 100 iterations.
    """
    everything = np.arange(theta0.size)
    tried = []
    for s in range(starts):
        theta = theta0 if s == 0 else initial_parameters(template, seed + s)
        if s and linear:
            theta = _linear_step(loss, theta, seed + s, None, None)
        objective = _Objective(loss, theta, everything,
                               _preconditioner(loss, theta, seed + s) if precondition else None)
        state = dict(iteration=0)
        end, _ = _lbfgs(objective, theta, everything, start_iter, history_size, state,
                        lambda theta_now, v: False)
        value = objective.at(end).value
        tried.append(dict(seed=seed + s, loss=value, iterations=state["iteration"], theta=end))
        if log:
            log(f"start {s + 1}/{starts} (seed {seed + s}): loss {value:.6e} eV^2 after "
                f"{state['iteration']} iterations")
    pick = min(range(starts), key=lambda k: tried[k]["loss"])
    report.starts = [{k: v for k, v in t.items() if k != "theta"} for t in tried]
    if log:
        log(f"continuing from start {pick + 1} (seed {tried[pick]['seed']})")
    return tried[pick]["theta"]


def _linear_step(loss: Loss, theta: np.ndarray, seed: int, log, report,
                 all_forces: bool = False) -> np.ndarray:
    subset, scale, n_used = (None, 1.0, loss.n_force_labels) if all_forces else _force_subset(
        loss, seed)
    theta, info = loss.solve_linear(theta, subset, scale, scale)
    info["force_configurations"] = n_used
    if report is not None:
        report.linear_init = info
    if log:
        log(f"linear start: species + moment coefficients by least squares on "
            f"{loss.n_energy_labels} energies and the forces/virials of {n_used} configurations "
            f"({info['rows']} rows, rank {info['rank']}/{info['columns']}, "
            f"condition {info['condition']:.2e}, {info['seconds']:.2f} s)")
    return theta


def _lbfgs(objective: _Objective, theta: np.ndarray, free: np.ndarray, max_iter: int,
           history_size: int, state: dict, record) -> tuple[np.ndarray, str]:
    """L-BFGS-B over theta[free] (the rest fixed), at most max_iter iterations."""
    from scipy.optimize import minimize

    objective.theta_fixed = np.array(theta, dtype=np.float64)
    objective.free = free
    best = [objective.theta_fixed.copy()]

    def cb(intermediate_result):
        state["iteration"] += 1
        theta_now = objective.full(np.asarray(intermediate_result.x))
        best[0] = theta_now
        if record(theta_now, objective.at(theta_now)):
            raise StopIteration

    result = minimize(objective, objective.to_x(objective.theta_fixed), jac=True,
                      method="L-BFGS-B", callback=cb,
                      options=dict(maxiter=max_iter, maxfun=max(20 * max_iter, 100),
                                   maxcor=history_size, ftol=0.0, gtol=0.0, maxls=40))
    message = str(result.message)
    if "ABNORMAL" in message.upper() or "REDUCTION OF F" in message.upper():
        message = "L-BFGS-B made no further progress (round-off level)"
    elif "ITERATIONS REACHED LIMIT" in message.upper():
        message = "reached max_iter"
    final = objective.full(np.asarray(result.x))
    if objective.at(final).value <= objective.at(best[0]).value:
        best[0] = final
    return best[0], message


def _as_training_set(items, mtp: MTP, type_map) -> list[TrainingConfiguration]:
    if items is None:
        return []
    if isinstance(items, (str, os.PathLike)):
        items = [items]
    items = list(items)
    if not items:
        raise ValueError("no configurations to train on")
    if all(isinstance(i, (str, os.PathLike)) for i in items):
        return load_training_set(items, type_map, None, mtp.elements)
    return to_training_set(items, type_map, None, mtp.elements)


def cross_validate(mtp: MTP, configurations, k: int = 5, seed: int = 0, **kwargs
                   ) -> list[TrainingReport]:
    """k-fold cross-validation: one :func:`train` per fold (same keyword arguments).

    The folds are a seeded random partition; fold f is held out in the f-th run.
    Returns the k reports (``holdout_errors`` = errors on the held-out fold).
    """
    data = _as_training_set(configurations, mtp, kwargs.get("type_map"))
    reports = []
    for train_idx, test_idx in kfold_splits(len(data), k, seed):
        _, report = train(mtp, [data[i] for i in train_idx],
                          validation=[data[i] for i in test_idx], seed=seed, **kwargs)
        reports.append(report)
    return reports


# --------------------------------------------------------------------------- command line

_TRAIN_HELP = """\
Fit an MTP (MLIP-2 .mtp) to labelled configurations (.cfg, extended XYZ).

INIT.mtp is an untrained template (e.g. from `seimd basis 8 --species 4`; its
radial coefficients start random from --seed, its species and moment
coefficients from a linear least-squares fit) or a trained potential (warm
start: training continues from its parameters).

Loss, summed over the training configurations c with N_c atoms (eV^2):
    L = sum_c w_c [ w_E (E_c - E_c_ref)^2 / d_c
                  + w_F sum_{atoms k of c} |F_k - F_k_ref|^2
                  + w_S sum_{xx,yy,zz,yz,xz,xy} (W_c - W_c_ref)^2 / d_c ]
with d_c set by --weighting:
    vibrations  d_c = N_c    (default; MLIP-2's default weighting)
    structures  d_c = N_c^2  (energy and virial errors per atom)
    molecules   d_c = 1      (total energy and virial)
E total energy (eV), F forces (eV/A, not scaled by N_c), W the virial in eV
(the .cfg PlusStress, = -volume x ASE stress, positive under compression),
w_c the configuration weight (1). A configuration contributes only the labels
it has. --energy-scaling N / N2 / none is the earlier name of --weighting
vibrations / structures / molecules.

Printed errors: energy RMSE in meV/atom, force RMSE per Cartesian component in
eV/A, stress RMSE per Voigt component in GPa (periodic cells).

Species: in .cfg files the type column is the MTP species (0-based). Atoms of
extended-XYZ files are mapped by chemical symbol through --species-map (or the
elements the potential declares); --species-map Li,P,S,Cl also names the
species in the output potential.

Parallel: mpiexec -n 4 seimd train ... splits the configurations over 4 ranks.
"""


def add_train_subcommand(subparsers) -> argparse.ArgumentParser:
    """Add `train` to the `seimd` command's subparsers."""
    p = subparsers.add_parser(
        "train", help="fit an MTP to labelled .cfg / extended-XYZ data",
        description=_TRAIN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("potential", metavar="INIT.mtp",
                   help="untrained template or trained potential (warm start)")
    p.add_argument("data", nargs="+", metavar="DATA",
                   help="training data: .cfg files (MLIP) or extended XYZ / any ASE-readable file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mtp",
                   help="trained potential to write (rank 0)")
    g = p.add_argument_group("loss")
    g.add_argument("--energy-weight", type=float, default=1.0, metavar="W_E",
                   help="weight of the energy term (default 1)")
    g.add_argument("--force-weight", type=float, default=0.01, metavar="W_F",
                   help="weight of the force term, A^2 (default 0.01)")
    g.add_argument("--stress-weight", type=float, default=0.001, metavar="W_S",
                   help="weight of the virial term (virial in eV; default 0.001)")
    w = g.add_mutually_exclusive_group()
    w.add_argument("--weighting", choices=tuple(WEIGHTINGS), default=None,
                   help="d_c dividing the squared energy and virial errors: N_c (vibrations, "
                        "default), N_c^2 (structures) or 1 (molecules)")
    w.add_argument("--energy-scaling", choices=tuple(SCALING_ALIASES), default=None,
                   help="earlier name of --weighting: N = vibrations, N2 = structures, "
                        "none or 1 = molecules")
    g = p.add_argument_group("optimisation")
    g.add_argument("--max-iter", type=int, default=1000, help="L-BFGS iterations (default 1000)")
    g.add_argument("--tol", type=float, default=1e-8,
                   help="stop when the loss fell by less than this (relative) over --tol-window "
                        "iterations (default 1e-8)")
    g.add_argument("--tol-window", type=int, default=50, help="see --tol (default 50)")
    g.add_argument("--seed", type=int, default=0,
                   help="random radial start, hold-out / k-fold split, linear-start subset")
    g.add_argument("--linear-init", choices=("auto", "yes", "no"), default="auto",
                   help="least-squares start of species+moment coefficients (auto: untrained)")
    g.add_argument("--mode", choices=("joint", "alternating"), default="joint",
                   help="L-BFGS on all parameters (default) or alternate exact linear solve / "
                        "L-BFGS on radial coefficients")
    g.add_argument("--history", type=int, default=50, help="L-BFGS memory (default 50)")
    g.add_argument("--adjoint", choices=("fd", "exact"), default="fd",
                   help="force/stress gradient: central difference of the exact parameter "
                        "gradient (fd, default, ~1e-8 relative) or the kernel's exact "
                        "forward-mode derivative (about 10%% slower at level 16)")
    g.add_argument("--no-precondition", dest="precondition", action="store_false",
                   help="do not scale the parameters by the Gauss-Newton diagonal estimate")
    g.add_argument("--starts", type=int, default=None, metavar="N",
                   help="untrained templates: N random starts (seeds SEED, SEED+1, ...) of "
                        "--start-iterations each, continue from the lowest loss; their "
                        "iterations count towards --max-iter (default 4 with --max-iter "
                        ">= 1000, else 1)")
    g.add_argument("--start-iterations", type=int, default=100, metavar="M",
                   help="L-BFGS iterations of each start with --starts (default 100)")
    g.add_argument("--precondition-every", type=int, default=None, metavar="K",
                   help="renew the Gauss-Newton diagonal and restart L-BFGS every K "
                        "iterations (default 250 with --max-iter >= 1000, else 0: once)")
    g = p.add_argument_group("data")
    g.add_argument("--species-map", metavar="Li,P,S,Cl",
                   help="chemical symbols of species 0, 1, ... (extended XYZ; names the output)")
    v = g.add_mutually_exclusive_group()
    v.add_argument("--holdout", type=float, default=0.0, metavar="FRACTION",
                   help="hold out this random fraction (seeded) and report its errors")
    v.add_argument("--kfold", type=int, default=0, metavar="K",
                   help="K-fold cross-validation report, then train on everything")
    g.add_argument("--report", metavar="FILE.json", help="write the training report as JSON")
    g.add_argument("--quiet", action="store_true", help="print only the summary")
    p.set_defaults(func=_train_command)
    return p


def mpi_world():
    """MPI.COMM_WORLD when started by mpiexec with more than one rank, else None."""
    keys = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "PMI_RANK")
    if not any(k in os.environ for k in keys):
        return None
    from mpi4py import MPI

    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


def _train_command(args: argparse.Namespace) -> int:
    comm = mpi_world()
    rank = comm.Get_rank() if comm is not None else 0
    log = (lambda line: print(line, flush=True)) if rank == 0 else None
    symbols = species_map_from_string(args.species_map)
    mtp = MTP.read(args.potential)
    data = load_training_set(args.data, symbols, None, symbols or mtp.elements)
    if symbols is not None:
        mtp = prepare_template(mtp, len(symbols) if not mtp.is_trained else None, symbols)
    weighting = (SCALING_ALIASES[args.energy_scaling] if args.energy_scaling
                 else args.weighting or "vibrations")
    weights = LossWeights(args.energy_weight, args.force_weight, args.stress_weight, weighting)
    common = dict(weights=weights, max_iter=args.max_iter, tol=args.tol,
                  tol_window=args.tol_window, seed=args.seed, comm=comm,
                  linear_init=args.linear_init, mode=args.mode, history_size=args.history,
                  precondition=args.precondition, adjoint=args.adjoint, starts=args.starts,
                  start_iter=args.start_iterations,
                  precondition_every=args.precondition_every,
                  log=None if args.quiet else log)
    out: dict = {}
    if args.kfold:
        folds = kfold_splits(len(data), args.kfold, args.seed)
        fold_reports = []
        for f, (tr, te) in enumerate(folds):
            if log:
                log(f"--- fold {f + 1}/{args.kfold}: {len(tr)} training, {len(te)} held out")
            _, rep = train(mtp, [data[i] for i in tr], validation=[data[i] for i in te], **common)
            fold_reports.append(rep)
            if log and args.quiet:
                log(f"fold {f + 1}: held-out {rep.holdout_errors.line()}")
        out["folds"] = [r.as_dict() for r in fold_reports]
        if log:
            log(f"--- {args.kfold}-fold cross-validation (held-out folds):")
            for name, unit in (("energy_rmse", "meV/atom"), ("force_rmse", "eV/A"),
                               ("stress_rmse", "GPa")):
                vals = np.array([getattr(r.holdout_errors, name) for r in fold_reports])
                if np.isfinite(vals).any():
                    log(f"  {name:12s} mean {np.nanmean(vals):.6f} {unit}  "
                        f"(folds {' '.join(f'{v:.6f}' for v in vals)})")
            log("--- final fit on all configurations")
        trained, report = train(mtp, data, **common)
    elif args.holdout > 0:
        tr, te = split_holdout(len(data), args.holdout, args.seed)
        trained, report = train(mtp, [data[i] for i in tr], validation=[data[i] for i in te],
                                **common)
    else:
        trained, report = train(mtp, data, **common)
    if args.quiet and log:
        log(f"{report.iterations} iterations, loss {report.loss_final:.6e}: {report.message}")
        log(f"training set: {report.train_errors.line()}")
        if report.holdout_errors is not None:
            log(f"held-out set: {report.holdout_errors.line()}")
    if rank == 0:
        trained.write(args.output)
        if log:
            log(f"wrote {args.output}")
        if args.report:
            out.update(report.as_dict())
            Path(args.report).write_text(json.dumps(out, indent=1, default=_json_default))
    return 0


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="seimd")
    add_train_subcommand(parser.add_subparsers(dest="command", required=True))
    a = parser.parse_args()
    sys.exit(a.func(a))
