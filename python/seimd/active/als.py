"""MLIP-2's ``.als`` active-learning state file: potential, active set, selected configurations.

Layout (``docs/mtp-formats.md``), n = number of MTP parameters::

    <the .mtp text>                      (as MTP.to_text writes it, no final newline)
    "\\n^"                                (2 bytes)
    4 raw float64 weights                (nbh, energy, force, stress; 32 bytes)
    "\\n#"                                (2 bytes)
    A                                    (n x n raw float64, row-major; 8 n^2 bytes)
    A^-1, transposed                     (i.e. (A^-1)^T row-major = A^-1 column-major)
    "\\n"
    n lines "row cfg_index"              (one per row of A, in the order of A's rows)
    the selected configurations          (.cfg text)

Raw numbers are little-endian IEEE doubles (what MLIP-2 writes on x86-64).

The two integers of each row line are kept exactly as read. seimd writes, for
row k of ``A``, the neighbourhood (atom) index of that row inside its
configuration as ``row`` (-1 for a "cfg" mode row, i.e. one row per
configuration) and the index of its configuration among the configurations
stored in the file as ``cfg_index`` (``-1 -1`` for a placeholder row of the
regularised start ``threshold_init * I``).

The weights say which rows the selection used: ``(1, 0, 0, 0)`` for "nbh" mode
(one row per neighbourhood), ``(0, 1, 0, 0)`` for "cfg" mode (energy rows,
``dE/dtheta / N``). seimd selects with nbh or energy rows only, and grades only files
with one of these two weightings (the C++ kernel refuses others: ``grades.grade_mode``).

Reading then writing reproduces the file byte for byte: the raw ``.mtp`` and
``.cfg`` texts are kept and written back as long as the parsed potential and
configurations are unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from seimd.io.cfg import Configuration, format_cfg, read_cfg
from seimd.mtp.model import MTP

from .maxvol import DEFAULT_THRESHOLD_INIT, ActiveSet

__all__ = ["ALSState", "ALSFormatError", "read_als", "write_als", "NBH_WEIGHTS", "CFG_WEIGHTS"]

NBH_WEIGHTS = (1.0, 0.0, 0.0, 0.0)
"""(nbh, energy, force, stress) weights of "nbh" mode selection."""
CFG_WEIGHTS = (0.0, 1.0, 0.0, 0.0)
"""(nbh, energy, force, stress) weights of "cfg" mode selection."""

_F8 = np.dtype("<f8")


class ALSFormatError(ValueError):
    """A malformed ``.als`` file (the message says where)."""


@dataclass(eq=False)
class ALSState:
    """The contents of an ``.als`` file."""

    mtp: MTP
    """The potential (trained or not) the active set was computed with."""
    weights: np.ndarray
    """(4,) float64 selection weights (nbh, energy, force, stress)."""
    A: np.ndarray
    """(n, n) float64 active set matrix, n = ``mtp.n_parameters``."""
    A_inv: np.ndarray
    """(n, n) float64 inverse of ``A`` (the file stores its transpose)."""
    rows: np.ndarray
    """(n,) int64: first integer of each row line (seimd: atom index, -1 cfg mode/placeholder)."""
    cfg_indices: np.ndarray
    """(n,) int64: second integer (index into :attr:`configurations`, -1 placeholder)."""
    configurations: list[Configuration] = field(default_factory=list)
    """The selected configurations."""
    mtp_text: str | None = None
    """Raw ``.mtp`` text as read (written back while it still parses to :attr:`mtp`)."""
    cfg_text: str | None = None
    """Raw ``.cfg`` text as read (written back while it still parses to :attr:`configurations`)."""
    full_precision: bool = False
    """Write configurations with 17 significant digits instead of MLIP-2's fixed decimals."""

    def __post_init__(self) -> None:
        self.weights = np.array(self.weights, dtype=np.float64).reshape(4)
        self.A = np.array(self.A, dtype=np.float64)
        self.A_inv = np.array(self.A_inv, dtype=np.float64)
        n = self.mtp.n_parameters
        for name in ("A", "A_inv"):
            if getattr(self, name).shape != (n, n):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, the potential "
                                 f"has n = {n} parameters")
        self.rows = np.array(self.rows, dtype=np.int64).reshape(-1)
        self.cfg_indices = np.array(self.cfg_indices, dtype=np.int64).reshape(-1)
        if self.rows.shape != (n,) or self.cfg_indices.shape != (n,):
            raise ValueError(f"need n = {n} row / cfg_index entries, got {self.rows.size} and "
                             f"{self.cfg_indices.size}")
        self.configurations = list(self.configurations)

    @property
    def n(self) -> int:
        return int(self.A.shape[0])

    # ------------------------------------------------------------ active set

    def active_set(self, threshold_init: float = DEFAULT_THRESHOLD_INIT) -> ActiveSet:
        """An :class:`ActiveSet` with this ``A``, ``A^-1`` and provenance
        ``[cfg_index, row]`` (configuration indices refer to :attr:`configurations`)."""
        prov = np.stack([self.cfg_indices, self.rows], axis=1)
        return ActiveSet.from_matrices(self.A, self.A_inv, prov, threshold_init)

    @classmethod
    def from_active_set(cls, mtp: MTP, active: ActiveSet,
                        configurations: Sequence[Configuration],
                        weights: Sequence[float] | None = None,
                        full_precision: bool = False) -> "ALSState":
        """The state of ``active`` whose provenance indexes ``configurations`` (e.g. the
        whole training set): only the configurations holding rows of ``A`` are stored,
        renumbered in order of first appearance. ``weights`` default to "nbh" mode
        (``(1, 0, 0, 0)``) unless every row is a cfg-mode row (atom -1), then "cfg"."""
        prov = active.provenance
        used: dict[int, int] = {}
        stored: list[Configuration] = []
        cfg_indices = np.full(active.n, -1, dtype=np.int64)
        for k, (c, _) in enumerate(prov.tolist()):
            if c < 0:
                continue
            if c >= len(configurations):
                raise ValueError(f"active set row {k} comes from configuration {c}, but only "
                                 f"{len(configurations)} configurations were given")
            if c not in used:
                used[c] = len(stored)
                stored.append(configurations[c])
            cfg_indices[k] = used[c]
        rows = np.where(prov[:, 0] >= 0, prov[:, 1], -1)
        if weights is None:
            filled = prov[:, 0] >= 0
            cfg_mode = bool(filled.any()) and bool(np.all(prov[filled, 1] < 0))
            weights = CFG_WEIGHTS if cfg_mode else NBH_WEIGHTS
        return cls(mtp=mtp, weights=weights, A=active.A, A_inv=active.A_inv, rows=rows,
                   cfg_indices=cfg_indices, configurations=stored,
                   full_precision=full_precision)

    # ------------------------------------------------------------ bytes

    def to_bytes(self) -> bytes:
        mtp_text = self.mtp_text
        if mtp_text is None or _parse_mtp(mtp_text) != self.mtp:
            mtp_text = self.mtp.to_text()
        cfg_text = self.cfg_text
        if cfg_text is None or not _same_configurations(cfg_text, self.configurations):
            cfg_text = "".join(format_cfg(c, self.full_precision) + "\n"
                               for c in self.configurations)
        lines = "".join(f"{r} {c}\n" for r, c in zip(self.rows.tolist(),
                                                     self.cfg_indices.tolist()))
        return b"".join([
            mtp_text.encode("utf-8"),
            b"\n^",
            self.weights.astype(_F8).tobytes(),
            b"\n#",
            np.ascontiguousarray(self.A, dtype=_F8).tobytes(),
            np.ascontiguousarray(self.A_inv.T, dtype=_F8).tobytes(),
            b"\n",
            lines.encode("ascii"),
            cfg_text.encode("utf-8"),
        ])

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<bytes>") -> "ALSState":
        def fail(message: str) -> ALSFormatError:
            return ALSFormatError(f"{source}: {message}")

        cut = data.find(b"\n^")
        if cut < 0:
            raise fail("no '\\n^' after the potential text (is this an .als file?)")
        try:
            mtp_text = data[:cut].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise fail(f"potential text is not UTF-8 ({exc})") from None
        mtp = _parse_mtp(mtp_text, source)
        n = mtp.n_parameters
        pos = cut + 2
        need = 32 + 2 + 16 * n * n + 1
        if len(data) < pos + need:
            raise fail(f"truncated: the potential has n = {n} parameters, so the weights and "
                       f"matrices need {need} bytes after '\\n^', found {len(data) - pos}")
        weights = np.frombuffer(data, _F8, 4, pos).copy()
        pos += 32
        if data[pos:pos + 2] != b"\n#":
            raise fail(f"expected '\\n#' at byte {pos} after the 4 weights, found "
                       f"{data[pos:pos + 2]!r}")
        pos += 2
        A = np.frombuffer(data, _F8, n * n, pos).reshape(n, n).copy()
        pos += 8 * n * n
        A_inv = np.frombuffer(data, _F8, n * n, pos).reshape(n, n).T.copy()
        pos += 8 * n * n
        if data[pos:pos + 1] != b"\n":
            raise fail(f"expected a newline at byte {pos} after A^-1, found {data[pos:pos + 1]!r}"
                       f" (does A have n = {n} rows?)")
        pos += 1
        rows = np.empty(n, dtype=np.int64)
        cfg_indices = np.empty(n, dtype=np.int64)
        for k in range(n):
            end = data.find(b"\n", pos)
            if end < 0:
                raise fail(f"truncated: row line {k + 1} of {n} is missing")
            fields = data[pos:end].split()
            try:
                if len(fields) != 2:
                    raise ValueError
                rows[k], cfg_indices[k] = int(fields[0]), int(fields[1])
            except ValueError:
                raise fail(f"row line {k + 1} of {n}: expected 'row cfg_index', found "
                           f"{data[pos:end][:60]!r}") from None
            pos = end + 1
        try:
            cfg_text = data[pos:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise fail(f"configuration text is not UTF-8 ({exc})") from None
        configurations = read_cfg_text(cfg_text, source)
        bad = np.flatnonzero(cfg_indices >= len(configurations))
        if bad.size:
            raise fail(f"row {bad[0]} refers to configuration {cfg_indices[bad[0]]}, the file "
                       f"holds {len(configurations)}")
        return cls(mtp=mtp, weights=weights, A=A, A_inv=A_inv, rows=rows,
                   cfg_indices=cfg_indices, configurations=configurations,
                   mtp_text=mtp_text, cfg_text=cfg_text)


def read_cfg_text(text: str, source: str = "<string>") -> list[Configuration]:
    """Configurations of ``.cfg`` text (empty text: none)."""
    if not text.strip():
        return []
    if "BEGIN_CFG" not in text:
        raise ALSFormatError(f"{source}: text after the row lines is not .cfg text: "
                             f"{text.strip()[:60]!r}")
    try:
        return read_cfg(text)
    except ValueError as exc:
        raise ALSFormatError(f"{source}: selected configurations: {exc}") from None


def _parse_mtp(text: str, source: str = "<string>") -> MTP:
    return MTP.from_text(text, source=source)


def _same_configurations(text: str, configurations: Sequence[Configuration]) -> bool:
    try:
        parsed = read_cfg_text(text)
    except ValueError:
        return False
    return len(parsed) == len(configurations) and all(
        a == b for a, b in zip(parsed, configurations))


def read_als(path: str | os.PathLike[str]) -> ALSState:
    """Read an MLIP-2 ``.als`` file."""
    p = Path(path)
    return ALSState.from_bytes(p.read_bytes(), source=str(p))


def write_als(path: str | os.PathLike[str], state: ALSState) -> None:
    """Write an ``.als`` file."""
    Path(path).write_bytes(state.to_bytes())
