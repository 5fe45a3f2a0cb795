"""MaxVol active set and extrapolation grades (MLIP-style active learning).

The active set is a square matrix ``A`` (n x n, n = number of MTP parameters)
whose rows are n candidate rows ``b`` (parameter gradients of site energies,
see :mod:`seimd.mtp.reference_gradients`) chosen to make ``|det A|`` as large
as possible (MaxVol). The extrapolation grade of a row is

    grade(b) = max_j |(b A^-1)_j|

= the largest factor by which ``|det A|`` would grow if ``b`` replaced one of
the rows of ``A``. Grade <= 1: the neighbourhood is an interpolation of the
training set; well above 1 (MLIP users stop at 2 to 10): extrapolation.

Selection (:meth:`ActiveSet.select`) swaps candidate rows into ``A`` while some
candidate has ``|(b A^-1)_j| > threshold`` (the *swap threshold*, default
:data:`DEFAULT_SWAP_THRESHOLD` = 1.001, i.e. a swap must grow ``|det A|`` by
more than 0.1 %; any value > 1 works, closer to 1 means more swaps for little
gain). Each swap updates ``A^-1`` and the candidates' coefficients by a rank-1
(Sherman-Morrison) update, and ``A^-1`` is recomputed from an LU factorisation
of ``A`` regularly and always before convergence is declared, so the result
is converged with respect to the exact inverse. Swaps strictly grow
``|det A|``, so the loop terminates; at the end every candidate row grades
``<= threshold`` and no single swap of a candidate into ``A`` grows
``|det A|`` by more than ``threshold`` (local optimality).

Rank deficiency. Rows of a degenerate or untrained basis, or too few
neighbourhoods, need not span all n directions. As in MLIP, a fresh active
set therefore starts from ``A = threshold_init * I`` (default
:data:`DEFAULT_THRESHOLD_INIT` = 1e-5): n *placeholder* rows (provenance
``(-1, -1)``) that candidates replace only where that grows ``|det A|``.
Directions the candidates do not span (to within about ``threshold_init``)
keep their placeholder, ``A`` stays invertible, and a row with a component
along such a direction grades about ``|component| / threshold_init``: very
high, as an unseen direction should. ``threshold_init`` is absolute, so it
assumes rows of order 1 or larger (MTP parameter gradients are).

Start. When all slots still hold placeholders, selection starts from a
rank-revealing choice: column-pivoted QR of ``B^T`` picks the candidate rows
whose new components exceed ``threshold_init`` (up to n of them), a pivoted
QR of those rows picks the slots (columns) they take, the other slots keep
their placeholders; the swap iteration then refines this.

Provenance of a row: ``(configuration index, atom index)``, atom index -1 for
a "cfg" mode row (one row per configuration); ``(-1, -1)`` marks a
placeholder slot.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import scipy.linalg as sla

__all__ = [
    "ActiveSet",
    "maxvol",
    "candidate_rows",
    "DEFAULT_SWAP_THRESHOLD",
    "DEFAULT_THRESHOLD_INIT",
]

DEFAULT_SWAP_THRESHOLD = 1.001
"""Swap a candidate in when it grows |det A| by more than this factor."""
DEFAULT_THRESHOLD_INIT = 1e-5
"""A fresh active set is ``threshold_init * I`` (MLIP's regularised start)."""


def _as_rows(B: np.ndarray | Sequence, n: int | None = None) -> np.ndarray:
    B = np.asarray(B, dtype=np.float64)
    if B.ndim == 1:
        B = B[None, :]
    if B.ndim != 2:
        raise ValueError(f"candidate rows must be a 2-D array (m, n), got shape {B.shape}")
    if n is not None and B.shape[1] != n:
        raise ValueError(f"candidate rows have {B.shape[1]} columns, the active set has n = {n}")
    if not np.all(np.isfinite(B)):
        raise ValueError("candidate rows contain non-finite values")
    return B


def _as_provenance(provenance, m: int) -> np.ndarray:
    """(m, 2) int64 [configuration, atom]; None -> (row index, -1); 1-D -> (value, -1)."""
    if provenance is None:
        out = np.full((m, 2), -1, dtype=np.int64)
        out[:, 0] = np.arange(m)
        return out
    p = np.asarray(provenance, dtype=np.int64)
    if p.ndim == 1:
        if p.size != m:
            raise ValueError(f"{p.size} provenance entries for {m} rows")
        out = np.full((m, 2), -1, dtype=np.int64)
        out[:, 0] = p
        return out
    if p.shape != (m, 2):
        raise ValueError(f"provenance must have shape ({m}, 2) [configuration, atom], got "
                         f"{p.shape}")
    return p.copy()


def _check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not threshold > 1.0 or not np.isfinite(threshold):
        raise ValueError(f"the swap threshold must be a finite number > 1, got {threshold}")
    return threshold


class ActiveSet:
    """A MaxVol active set: ``A`` (n x n), its inverse, and where each row came from.

    ``ActiveSet(n)`` is the regularised start ``threshold_init * I`` (all slots
    placeholders). Fill it with :meth:`select` or build it with
    :meth:`from_training_set`; :meth:`grades` gives extrapolation grades.
    """

    def __init__(self, n: int, threshold_init: float = DEFAULT_THRESHOLD_INIT) -> None:
        n = int(n)
        if n < 1:
            raise ValueError(f"an active set needs n >= 1, got {n}")
        threshold_init = float(threshold_init)
        if not threshold_init > 0.0 or not np.isfinite(threshold_init):
            raise ValueError(f"threshold_init must be a finite number > 0, got {threshold_init}")
        self.threshold_init = threshold_init
        self.A = threshold_init * np.eye(n)
        self.A_inv = np.eye(n) / threshold_init
        self.provenance = np.full((n, 2), -1, dtype=np.int64)
        """(n, 2) ``[configuration index, atom index]`` of each row; (-1, -1): placeholder."""
        self.n_swaps = 0
        """Total number of rows swapped in so far."""

    # ------------------------------------------------------------ construction

    @classmethod
    def from_training_set(cls, rows: np.ndarray, provenance=None,
                          threshold: float = DEFAULT_SWAP_THRESHOLD,
                          threshold_init: float = DEFAULT_THRESHOLD_INIT,
                          max_swaps: int | None = None) -> "ActiveSet":
        """MaxVol selection over all ``rows`` (m x n) of a training set, from the
        regularised start. ``provenance``: (m, 2) ``[configuration, atom]``
        (atom -1 in cfg mode), or (m,) configuration indices, or None (row index)."""
        rows = _as_rows(rows)
        active = cls(rows.shape[1], threshold_init)
        active.select(rows, provenance, threshold, max_swaps=max_swaps)
        return active

    @classmethod
    def from_matrices(cls, A: np.ndarray, A_inv: np.ndarray | None = None, provenance=None,
                      threshold_init: float = DEFAULT_THRESHOLD_INIT) -> "ActiveSet":
        """An active set from a stored ``A`` (and ``A^-1``; computed from ``A`` when None).

        ``provenance`` (n, 2); None marks every row as a placeholder (-1, -1).
        """
        A = np.array(A, dtype=np.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be square, got shape {A.shape}")
        n = A.shape[0]
        active = cls(n, threshold_init)
        active.A = A
        if A_inv is None:
            active.refresh()
        else:
            A_inv = np.array(A_inv, dtype=np.float64)
            if A_inv.shape != A.shape:
                raise ValueError(f"A^-1 has shape {A_inv.shape}, A has {A.shape}")
            active.A_inv = A_inv
        if provenance is not None:
            active.provenance = _as_provenance(provenance, n)
        return active

    def copy(self) -> "ActiveSet":
        out = ActiveSet(self.n, self.threshold_init)
        out.A, out.A_inv = self.A.copy(), self.A_inv.copy()
        out.provenance, out.n_swaps = self.provenance.copy(), self.n_swaps
        return out

    # ------------------------------------------------------------ properties

    @property
    def n(self) -> int:
        """Size of the active set (= number of parameters)."""
        return int(self.A.shape[0])

    @property
    def filled(self) -> np.ndarray:
        """(n,) bool: True where the slot holds a selected row (not a placeholder)."""
        return self.provenance[:, 0] >= 0

    @property
    def n_filled(self) -> int:
        return int(self.filled.sum())

    def log_abs_det(self) -> float:
        """``log |det A|``."""
        return float(np.linalg.slogdet(self.A)[1])

    def refresh(self) -> None:
        """Recompute ``A^-1`` from an LU factorisation of ``A``."""
        lu = sla.lu_factor(self.A, check_finite=False)
        self.A_inv = sla.lu_solve(lu, np.eye(self.n), check_finite=False)

    # ------------------------------------------------------------ grades

    def coefficients(self, B: np.ndarray, method: str = "inverse") -> np.ndarray:
        """``B A^-1`` (m x n): with the stored inverse (``"inverse"``) or by solving
        ``A^T X = B^T`` with an LU factorisation of ``A`` (``"solve"``)."""
        B = _as_rows(B, self.n)
        if method == "inverse":
            return B @ self.A_inv
        if method == "solve":
            lu = sla.lu_factor(self.A, check_finite=False)
            return sla.lu_solve(lu, B.T, trans=1, check_finite=False).T
        raise ValueError(f"method must be 'inverse' or 'solve', got {method!r}")

    def grades(self, B: np.ndarray, method: str = "inverse") -> np.ndarray:
        """Extrapolation grade ``max_j |(b A^-1)_j|`` of every row b of B, shape (m,)."""
        C = self.coefficients(B, method)
        if C.shape[0] == 0:
            return np.zeros(0)
        return np.abs(C).max(axis=1)

    # ------------------------------------------------------------ selection

    def select(self, B: np.ndarray, provenance=None,
               threshold: float = DEFAULT_SWAP_THRESHOLD, *,
               max_swaps: int | None = None) -> np.ndarray:
        """Swap candidate rows into ``A`` while one grows ``|det A|`` by > ``threshold``.

        ``B`` (m x n) candidate rows, ``provenance`` as in :meth:`from_training_set`.
        Returns the (ascending) indices of the candidates that are in the active set
        at the end (a candidate swapped in and later out again is not listed).
        ``max_swaps`` (default ``100 n + m``) bounds the number of swaps; reaching it
        gives a ``RuntimeWarning``.
        """
        threshold = _check_threshold(threshold)
        B = _as_rows(B, self.n)
        m, n = B.shape
        prov = _as_provenance(provenance, m)
        slot_source = np.full(n, -1, dtype=np.int64)  # candidate index in each slot
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        if max_swaps is None:
            max_swaps = 100 * n + m
        if not self.filled.any():
            self._rank_revealing_start(B, prov, slot_source)

        refresh_every = max(16, n // 2)
        since_refresh = 0
        swaps = 0
        C = B @ self.A_inv
        while True:
            flat = int(np.argmax(np.abs(C)))
            i, j = divmod(flat, n)
            cij = C[i, j]
            if not abs(cij) > threshold:
                if since_refresh == 0:
                    break
                # converge with respect to the exact inverse, not the updated one
                self.refresh()
                C = B @ self.A_inv
                since_refresh = 0
                continue
            if swaps >= max_swaps:
                warnings.warn(f"MaxVol stopped after {swaps} swaps (max_swaps) with a "
                              f"candidate still grading {abs(cij):.6g} > {threshold}",
                              RuntimeWarning, stacklevel=2)
                break
            # Swap candidate i into slot j: A' = A + e_j (b_i - a_j)^T and, with
            # c = b_i A^-1 and d = c - e_j, A'^-1 = A^-1 - A^-1[:, j] d / c_j.
            d = C[i].copy()
            d[j] -= 1.0
            self.A_inv -= np.outer(self.A_inv[:, j] / cij, d)
            C -= np.outer(C[:, j] / cij, d)
            C[i] = 0.0
            C[i, j] = 1.0
            self.A[j] = B[i]
            self.provenance[j] = prov[i]
            slot_source[j] = i
            swaps += 1
            self.n_swaps += 1
            since_refresh += 1
            if since_refresh >= refresh_every:
                self.refresh()
                C = B @ self.A_inv
                since_refresh = 0
        return np.sort(slot_source[slot_source >= 0])

    def _rank_revealing_start(self, B: np.ndarray, prov: np.ndarray,
                              slot_source: np.ndarray) -> None:
        """Fill placeholder slots from a column-pivoted QR of B^T (see module doc)."""
        n = self.n
        _, R, piv = sla.qr(B.T, mode="economic", pivoting=True, check_finite=False)
        diag = np.abs(np.diag(R))
        k = int(np.sum(diag > self.threshold_init))
        k = min(k, n)
        if k == 0:
            return
        chosen = piv[:k]
        S = B[chosen]  # (k, n)
        # slots: the k columns of S that a column-pivoted QR of S picks first
        _, _, cols = sla.qr(S, mode="economic", pivoting=True, check_finite=False)
        slots = cols[:k]
        A = self.threshold_init * np.eye(n)
        A[slots] = S
        try:
            lu = sla.lu_factor(A, check_finite=False)
            A_inv = sla.lu_solve(lu, np.eye(n), check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            return  # keep the placeholders; the swap iteration will proceed from there
        if not np.all(np.isfinite(A_inv)):
            return
        self.A, self.A_inv = A, A_inv
        self.provenance[slots] = prov[chosen]
        slot_source[slots] = chosen
        self.n_swaps += k


def maxvol(B: np.ndarray, threshold: float = DEFAULT_SWAP_THRESHOLD,
           threshold_init: float = DEFAULT_THRESHOLD_INIT,
           max_swaps: int | None = None) -> np.ndarray:
    """MaxVol on the rows of ``B`` (m x n, m >= n): the row chosen for each of the n slots.

    Returns an (n,) int array: the index of the row of ``B`` in each slot of the
    active set, or -1 where ``B`` is rank deficient and the slot keeps its
    ``threshold_init`` placeholder. ``B[idx]`` (full rank case) is the selected
    n x n submatrix; no single swap of another row of ``B`` into it grows
    ``|det|`` by more than ``threshold``.
    """
    B = _as_rows(B)
    active = ActiveSet(B.shape[1], threshold_init)
    active.select(B, None, threshold, max_swaps=max_swaps)
    return active.provenance[:, 0].copy()


def candidate_rows(mtp, atoms, mode: str = "nbh", type_map=None) -> np.ndarray:
    """MaxVol rows of one configuration: (N, n) in "nbh" mode (``dV_i/dtheta`` per
    atom), (1, n) in "cfg" mode (``dE/dtheta / N``)."""
    from seimd.mtp.reference_gradients import site_parameter_gradients

    grads = site_parameter_gradients(mtp, atoms, type_map)
    if mode == "nbh":
        return grads
    if mode == "cfg":
        return grads.sum(axis=0, keepdims=True) / max(len(atoms), 1)
    raise ValueError(f"mode must be 'nbh' or 'cfg', got {mode!r}")
