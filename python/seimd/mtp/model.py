"""The Moment Tensor Potential (MTP) model and its MLIP-2 ``.mtp`` text format.

:class:`MTP` holds everything an MLIP-2 ``.mtp`` file (``version = 1.1.0``)
holds: the radial basis (Chebyshev polynomials on ``[min_dist, max_dist]``,
distances in Angstrom), the moment basis (``alpha_*`` index lists) and, for a
trained potential, the parameters (radial coefficients, per-species energies
in eV and the linear moment coefficients in eV).

``MTP.read`` / ``MTP.from_text`` parse the format; ``MTP.write`` /
``MTP.to_text`` write it with the same layout MLIP-2 uses (tab indentation,
numbers as ``%.15e``), so a file written by MLIP-2 is reproduced byte for byte.
The math the numbers feed is described in ``docs/mtp-formats.md``
and implemented in :mod:`seimd.mtp.reference`.

seimd stores the chemical symbols of the species inside ``potential_tag`` as a
token ``elements:Li,P,S,Cl`` (no "=", which some readers such as motep split on) so that
MLIP-2 and motep still read the file.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Sequence

import numpy as np

__all__ = [
    "MTP",
    "MTPFormatError",
    "MTPLayout",
    "UnsupportedMTPError",
    "SUPPORTED_RADIAL_BASIS_TYPES",
    "FORMAT_VERSION",
]

FORMAT_VERSION = "1.1.0"
SUPPORTED_RADIAL_BASIS_TYPES = ("RBChebyshev",)
KNOWN_RADIAL_BASIS_TYPES = (
    "RBChebyshev",
    "RBChebyshev_repuls",
    "RBShapeev",
    "RBTaylor",
    "RBvdW",
)
_ELEMENTS_TOKEN = "elements:"
_SYMBOL_RE = re.compile(r"^[A-Z][a-z]{0,2}$")


# --------------------------------------------------------------------------- errors


class MTPFormatError(ValueError):
    """A malformed or inconsistent ``.mtp`` file.

    The message names the file (``source``), the 1-based line number and the
    key concerned whenever they are known.
    """

    def __init__(
        self,
        message: str,
        source: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.source = source
        self.line = line
        self.key = key
        self.reason = message
        where = []
        if source is not None:
            where.append(str(source))
        if line is not None:
            where.append(f"line {line}")
        prefix = ", ".join(where)
        keypart = f"key '{key}': " if key else ""
        super().__init__(f"{prefix}: {keypart}{message}" if prefix else f"{keypart}{message}")


class UnsupportedMTPError(MTPFormatError, NotImplementedError):
    """A valid MLIP feature that seimd does not implement (e.g. RBShapeev)."""


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class MTPLayout:
    """Text-layout details of a source file that carry no model meaning.

    They let :meth:`MTP.to_text` reproduce the source byte for byte; they are
    ignored when comparing two :class:`MTP` objects.
    """

    scaling_line: bool = True
    """Write ``scaling = ...`` even when the scaling is 1."""
    potential_tag_line: bool = True
    """Write ``potential_tag = ...`` even when the tag is empty."""
    trailing_newline: bool = False
    """End the text with a newline (MLIP-2 writes none after the last line)."""


_FLOAT_ARRAYS = ("radial_coeffs", "species_coeffs", "moment_coeffs")
_INT_ARRAYS = ("alpha_index_basic", "alpha_index_times", "alpha_moment_mapping")


@dataclass(eq=False, repr=False)
class MTP:
    """A Moment Tensor Potential as stored in an MLIP-2 ``.mtp`` file.

    Shapes use C = ``species_count``, K = ``radial_funcs_count``,
    R = ``radial_basis_size``, S = ``alpha_scalar_moments``.
    Distances are in Angstrom, energies (species and moment coefficients) in eV.
    Arrays are converted to float64 / int64 copies on construction and the
    whole object is checked for consistency (``ValueError`` otherwise).
    Two MTPs compare equal when all fields agree bit for bit (``layout`` is
    ignored).
    """

    species_count: int
    min_dist: float
    max_dist: float
    radial_basis_size: int
    radial_funcs_count: int
    alpha_moments_count: int
    alpha_index_basic: np.ndarray
    """(nb, 4) int: ``{mu, a, b, c}`` per basic moment."""
    alpha_index_times: np.ndarray
    """(nt, 4) int: ``{i, j, m, k}`` meaning ``mom[k] += m * mom[i] * mom[j]``."""
    alpha_moment_mapping: np.ndarray
    """(S,) int: moment slot of each basis function."""
    radial_coeffs: np.ndarray | None = None
    """(C, C, K, R) float ``[s1, s2, mu, xi]`` or None when untrained."""
    species_coeffs: np.ndarray | None = None
    """(C,) float, eV, or None when untrained."""
    moment_coeffs: np.ndarray | None = None
    """(S,) float, eV, or None when untrained."""
    potential_name: str | None = None
    scaling: float = 1.0
    potential_tag: str = ""
    radial_basis_type: str = "RBChebyshev"
    radial_scaling: float | None = None
    """The optional inner ``scaling`` of the radial basis (multiplies ``scaling``)."""
    layout: MTPLayout = field(default_factory=MTPLayout, compare=False)

    # ------------------------------------------------------------ construction

    def __post_init__(self) -> None:
        self.species_count = int(self.species_count)
        self.radial_basis_size = int(self.radial_basis_size)
        self.radial_funcs_count = int(self.radial_funcs_count)
        self.alpha_moments_count = int(self.alpha_moments_count)
        self.min_dist = float(self.min_dist)
        self.max_dist = float(self.max_dist)
        self.scaling = float(self.scaling)
        if self.radial_scaling is not None:
            self.radial_scaling = float(self.radial_scaling)
        self.potential_tag = str(self.potential_tag)
        self.alpha_index_basic = _int_table(self.alpha_index_basic, 4, "alpha_index_basic")
        self.alpha_index_times = _int_table(self.alpha_index_times, 4, "alpha_index_times")
        self.alpha_moment_mapping = np.array(self.alpha_moment_mapping, dtype=np.int64).reshape(-1)
        for name in _FLOAT_ARRAYS:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, np.array(value, dtype=np.float64))
        problems = consistency_problems(self)
        if problems:
            key, message = problems[0]
            raise ValueError(f"inconsistent MTP: key '{key}': {message}")

    # ------------------------------------------------------------ properties

    @property
    def is_trained(self) -> bool:
        """True when radial, species and moment coefficients are all present."""
        return all(getattr(self, name) is not None for name in _FLOAT_ARRAYS)

    @property
    def cutoff(self) -> float:
        """Cutoff radius in Angstrom (``max_dist``)."""
        return self.max_dist

    @property
    def alpha_index_basic_count(self) -> int:
        return int(self.alpha_index_basic.shape[0])

    @property
    def alpha_index_times_count(self) -> int:
        return int(self.alpha_index_times.shape[0])

    @property
    def alpha_scalar_moments(self) -> int:
        """S, the number of basis functions (scalar moments)."""
        return int(self.alpha_moment_mapping.shape[0])

    @property
    def effective_radial_scaling(self) -> float:
        """``scaling * radial_scaling`` (the inner scaling defaults to 1)."""
        inner = 1.0 if self.radial_scaling is None else self.radial_scaling
        return self.scaling * inner

    @property
    def n_radial_parameters(self) -> int:
        """K R C^2."""
        return self.radial_funcs_count * self.radial_basis_size * self.species_count**2

    @property
    def n_parameters(self) -> int:
        """K R C^2 + C + S: the length of :attr:`parameters`."""
        return self.n_radial_parameters + self.species_count + self.alpha_scalar_moments

    @property
    def parameter_slices(self) -> tuple[slice, slice, slice]:
        """Slices of the radial, species and moment blocks in :attr:`parameters`."""
        nr = self.n_radial_parameters
        nc = nr + self.species_count
        return slice(0, nr), slice(nr, nc), slice(nc, nc + self.alpha_scalar_moments)

    @property
    def parameters(self) -> np.ndarray:
        """Flat parameter vector ``[radial | species | moment]`` (a copy).

        The radial coefficient ``c[s1, s2, mu, xi]`` sits at flat index
        ``((s1*C + s2)*K + mu)*R + xi``.
        """
        if not self.is_trained:
            raise ValueError("the potential is untrained: it has no parameters yet")
        assert self.radial_coeffs is not None
        assert self.species_coeffs is not None and self.moment_coeffs is not None
        return np.concatenate(
            [self.radial_coeffs.ravel(), self.species_coeffs, self.moment_coeffs]
        )

    def with_parameters(self, vector: Sequence[float] | np.ndarray) -> "MTP":
        """A copy with all parameters taken from a flat vector (see :attr:`parameters`).

        Works on untrained templates too (the result is trained).
        """
        vec = np.asarray(vector, dtype=np.float64)
        if vec.shape != (self.n_parameters,):
            raise ValueError(
                f"parameter vector has shape {vec.shape}, expected ({self.n_parameters},) "
                f"= K R C^2 + C + S with K={self.radial_funcs_count}, "
                f"R={self.radial_basis_size}, C={self.species_count}, "
                f"S={self.alpha_scalar_moments}"
            )
        if not np.all(np.isfinite(vec)):
            raise ValueError("parameter vector contains non-finite values")
        radial, species, moment = self.parameter_slices
        C, K, R = self.species_count, self.radial_funcs_count, self.radial_basis_size
        return dataclasses.replace(
            self,
            radial_coeffs=vec[radial].reshape(C, C, K, R),
            species_coeffs=vec[species],
            moment_coeffs=vec[moment],
        )

    @property
    def elements(self) -> list[str] | None:
        """Chemical symbols of species 0..C-1 from the ``elements:`` tag token, or None."""
        return _elements_from_tag(self.potential_tag)

    def with_elements(self, symbols: Sequence[str]) -> "MTP":
        """A copy whose ``potential_tag`` declares ``symbols`` (one per species)."""
        symbols = [str(s) for s in symbols]
        if len(symbols) != self.species_count:
            raise ValueError(
                f"{len(symbols)} element symbols given for a potential with "
                f"{self.species_count} species"
            )
        for symbol in symbols:
            if not _SYMBOL_RE.match(symbol):
                raise ValueError(f"'{symbol}' is not a chemical symbol")
        kept = [t for t in self.potential_tag.split() if not t.startswith(_ELEMENTS_TOKEN)]
        kept.append(_ELEMENTS_TOKEN + ",".join(symbols))
        return dataclasses.replace(self, potential_tag=" ".join(kept))

    # ------------------------------------------------------------ comparison

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MTP):
            return NotImplemented
        for f in dataclasses.fields(self):
            if not f.compare:
                continue
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None:
                    return False
                if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
                    return False
            elif isinstance(a, float) and isinstance(b, float):
                if np.float64(a).tobytes() != np.float64(b).tobytes():
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        state = "trained" if self.is_trained else "untrained"
        return (
            f"MTP({state}, name={self.potential_name!r}, species={self.species_count}, "
            f"K={self.radial_funcs_count}, R={self.radial_basis_size}, "
            f"basic={self.alpha_index_basic_count}, times={self.alpha_index_times_count}, "
            f"moments={self.alpha_moments_count}, S={self.alpha_scalar_moments}, "
            f"r=[{self.min_dist}, {self.max_dist}] A, tag={self.potential_tag!r})"
        )

    # ------------------------------------------------------------ I/O

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> "MTP":
        """Read an MLIP-2 ``.mtp`` file (LF or CRLF line endings)."""
        p = Path(path)
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise MTPFormatError("file not found", source=str(p)) from None
        except OSError as exc:
            raise MTPFormatError(f"cannot read file: {exc}", source=str(p)) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MTPFormatError(f"not a UTF-8 text file ({exc})", source=str(p)) from None
        return cls.from_text(text, source=str(p))

    @classmethod
    def from_text(cls, text: str, source: str = "<string>") -> "MTP":
        """Parse the text of an ``.mtp`` file; ``source`` names it in error messages."""
        return _Parser(text, source).parse()

    def to_text(self) -> str:
        """The ``.mtp`` text in MLIP-2's layout."""
        return _format_mtp(self)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the ``.mtp`` file (LF line endings)."""
        Path(path).write_bytes(self.to_text().encode("utf-8"))


# --------------------------------------------------------------------------- helpers


def _int_table(value: Any, width: int, name: str) -> np.ndarray:
    arr = np.array(value, dtype=np.int64)
    if arr.size == 0:
        return arr.reshape(0, width)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{name} must have shape (n, {width}), got {arr.shape}")
    return arr


def _elements_from_tag(tag: str) -> list[str] | None:
    tokens = [t for t in tag.split() if t.startswith(_ELEMENTS_TOKEN)]
    if not tokens:
        return None
    if len(tokens) > 1:
        raise ValueError(f"potential_tag declares elements more than once: {tag!r}")
    return tokens[0][len(_ELEMENTS_TOKEN):].split(",")


def consistency_problems(mtp: "MTP | SimpleNamespace") -> list[tuple[str, str]]:
    """Every inconsistency of ``mtp`` as ``(key, message)``; empty when valid.

    ``mtp`` is an :class:`MTP` or any object with the same attributes (the
    parser checks its values this way before building the model).
    """
    out: list[tuple[str, str]] = []
    C, K, R = mtp.species_count, mtp.radial_funcs_count, mtp.radial_basis_size
    M = mtp.alpha_moments_count
    if C < 1:
        out.append(("species_count", f"must be >= 1, got {C}"))
    if R < 1:
        out.append(("radial_basis_size", f"must be >= 1, got {R}"))
    if K < 1:
        out.append(("radial_funcs_count", f"must be >= 1, got {K}"))
    if not (math.isfinite(mtp.min_dist) and math.isfinite(mtp.max_dist)):
        out.append(("max_dist", "min_dist and max_dist must be finite"))
    elif not 0.0 <= mtp.min_dist < mtp.max_dist:
        out.append(
            ("max_dist", f"need 0 <= min_dist < max_dist, got {mtp.min_dist} and {mtp.max_dist}")
        )
    if not math.isfinite(mtp.scaling):
        out.append(("scaling", "must be finite"))
    if mtp.radial_basis_type not in SUPPORTED_RADIAL_BASIS_TYPES:
        out.append(("radial_basis_type", f"unsupported type '{mtp.radial_basis_type}'"))
    basic, times, mapping = mtp.alpha_index_basic, mtp.alpha_index_times, mtp.alpha_moment_mapping
    nb = basic.shape[0]
    if M < nb:
        out.append(
            ("alpha_moments_count", f"{M} slots cannot hold {nb} basic moments")
        )
    if nb:
        bad = np.flatnonzero((basic[:, 0] < 0) | (basic[:, 0] >= K))
        if bad.size:
            out.append(
                ("alpha_index_basic", f"entry {bad[0]}: radial function index mu="
                 f"{basic[bad[0], 0]} outside 0..{K - 1} (radial_funcs_count = {K})")
            )
        bad = np.flatnonzero(np.any(basic[:, 1:] < 0, axis=1))
        if bad.size:
            out.append(
                ("alpha_index_basic", f"entry {bad[0]}: negative power {basic[bad[0]].tolist()}")
            )
    if times.shape[0]:
        ijk = times[:, [0, 1, 3]]
        bad = np.flatnonzero(np.any((ijk < 0) | (ijk >= M), axis=1))
        if bad.size:
            out.append(
                ("alpha_index_times", f"entry {bad[0]} {times[bad[0]].tolist()}: moment index "
                 f"outside 0..{M - 1} (alpha_moments_count = {M})")
            )
    bad = np.flatnonzero((mapping < 0) | (mapping >= M))
    if bad.size:
        out.append(
            ("alpha_moment_mapping", f"entry {bad[0]} = {mapping[bad[0]]} outside 0..{M - 1} "
             f"(alpha_moments_count = {M})")
        )
    if mtp.radial_coeffs is not None and mtp.radial_coeffs.shape != (C, C, K, R):
        out.append(
            ("radial_coeffs", f"shape {mtp.radial_coeffs.shape}, expected (C, C, K, R) = "
             f"{(C, C, K, R)}")
        )
    if mtp.species_coeffs is not None and mtp.species_coeffs.shape != (C,):
        out.append(
            ("species_coeffs", f"{mtp.species_coeffs.size} values, expected species_count = {C}")
        )
    if mtp.moment_coeffs is not None and mtp.moment_coeffs.shape != mapping.shape:
        out.append(
            ("moment_coeffs", f"{mtp.moment_coeffs.size} values, expected "
             f"alpha_scalar_moments = {mapping.size}")
        )
    for name in _FLOAT_ARRAYS:
        value = getattr(mtp, name)
        if value is not None and not np.all(np.isfinite(value)):
            out.append((name, "contains non-finite values"))
    try:
        elements = _elements_from_tag(mtp.potential_tag)
    except ValueError as exc:
        out.append(("potential_tag", str(exc)))
    else:
        if elements is not None:
            if len(elements) != C:
                out.append(
                    ("potential_tag", f"declares {len(elements)} elements {elements} for "
                     f"species_count = {C}")
                )
            for symbol in elements:
                if not _SYMBOL_RE.match(symbol):
                    out.append(("potential_tag", f"'{symbol}' is not a chemical symbol"))
    return out


# --------------------------------------------------------------------------- writer


def format_float(x: float) -> str:
    """``%.15e``, or ``%.16e`` when 16 significant digits do not round-trip ``x``."""
    text = "%.15e" % x
    if float(text) != x and not math.isnan(x):
        text = "%.16e" % x
    return text


def _braced(items: Iterator[str] | list[str]) -> str:
    return "{" + ", ".join(items) + "}"


def _format_mtp(mtp: MTP) -> str:
    C, K = mtp.species_count, mtp.radial_funcs_count
    lines = ["MTP", f"version = {FORMAT_VERSION}"]
    if mtp.potential_name is not None:
        lines.append(f"potential_name = {mtp.potential_name}")
    if mtp.layout.scaling_line or mtp.scaling != 1.0:
        lines.append(f"scaling = {format_float(mtp.scaling)}")
    lines.append(f"species_count = {C}")
    if mtp.layout.potential_tag_line or mtp.potential_tag:
        lines.append(f"potential_tag = {mtp.potential_tag}")
    lines.append(f"radial_basis_type = {mtp.radial_basis_type}")
    if mtp.radial_scaling is not None:
        lines.append(f"\tscaling = {format_float(mtp.radial_scaling)}")
    lines.append(f"\tmin_dist = {format_float(mtp.min_dist)}")
    lines.append(f"\tmax_dist = {format_float(mtp.max_dist)}")
    lines.append(f"\tradial_basis_size = {mtp.radial_basis_size}")
    lines.append(f"\tradial_funcs_count = {K}")
    if mtp.radial_coeffs is not None:
        lines.append("\tradial_coeffs")
        for s1 in range(C):
            for s2 in range(C):
                lines.append(f"\t\t{s1}-{s2}")
                for mu in range(K):
                    row = mtp.radial_coeffs[s1, s2, mu]
                    lines.append("\t\t\t" + _braced([format_float(v) for v in row.tolist()]))
    lines.append(f"alpha_moments_count = {mtp.alpha_moments_count}")
    lines.append(f"alpha_index_basic_count = {mtp.alpha_index_basic_count}")
    lines.append("alpha_index_basic = " + _format_table(mtp.alpha_index_basic))
    lines.append(f"alpha_index_times_count = {mtp.alpha_index_times_count}")
    lines.append("alpha_index_times = " + _format_table(mtp.alpha_index_times))
    lines.append(f"alpha_scalar_moments = {mtp.alpha_scalar_moments}")
    lines.append(
        "alpha_moment_mapping = " + _braced([str(v) for v in mtp.alpha_moment_mapping.tolist()])
    )
    if mtp.species_coeffs is not None:
        lines.append(
            "species_coeffs = " + _braced([format_float(v) for v in mtp.species_coeffs.tolist()])
        )
    if mtp.moment_coeffs is not None:
        lines.append(
            "moment_coeffs = " + _braced([format_float(v) for v in mtp.moment_coeffs.tolist()])
        )
    return "\n".join(lines) + ("\n" if mtp.layout.trailing_newline else "")


def _format_table(table: np.ndarray) -> str:
    return _braced([_braced([str(v) for v in row]) for row in table.tolist()])


# --------------------------------------------------------------------------- parser

# key -> converter for `key = value` lines outside the radial block
_TOP_KEYS: dict[str, str] = {
    "potential_name": "str",
    "scaling": "float",
    "species_count": "int",
    "potential_tag": "str",
    "radial_basis_type": "str",
    "alpha_moments_count": "int",
    "alpha_index_basic_count": "int",
    "alpha_index_basic": "table",
    "alpha_index_times_count": "int",
    "alpha_index_times": "table",
    "alpha_scalar_moments": "int",
    "alpha_moment_mapping": "ints",
    "species_coeffs": "floats",
    "moment_coeffs": "floats",
}
# keys of the indented block that follows radial_basis_type
_RADIAL_KEYS: dict[str, str] = {
    "scaling": "float",
    "min_dist": "float",
    "max_dist": "float",
    "radial_basis_size": "int",
    "radial_funcs_count": "int",
    "radial_coeffs": "block",
}
_REQUIRED = (
    "species_count",
    "radial_basis_type",
    "min_dist",
    "max_dist",
    "radial_basis_size",
    "radial_funcs_count",
    "alpha_moments_count",
    "alpha_index_basic_count",
    "alpha_index_basic",
    "alpha_index_times_count",
    "alpha_scalar_moments",
    "alpha_moment_mapping",
)
_TABLE_RE = re.compile(r"\s*\{[^{}]*\}\s*(?:,\s*\{[^{}]*\}\s*)*")
_GROUP_RE = re.compile(r"\{([^{}]*)\}")


class _Parser:
    """Line-by-line parser of ``.mtp`` text; one instance per text."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        if text.startswith("\ufeff"):
            text = text[1:]
        self.trailing_newline = text.endswith("\n")
        self.lines = [line.rstrip("\r") for line in text.split("\n")]
        if self.trailing_newline:
            self.lines.pop()
        self.pos = 0  # index of the next line to read
        self.values: dict[str, Any] = {}
        self.key_lines: dict[str, int] = {}

    # -------------------------------------------------------- error helpers

    def error(
        self, message: str, line: int | None = None, key: str | None = None
    ) -> MTPFormatError:
        return MTPFormatError(message, source=self.source, line=line, key=key)

    # -------------------------------------------------------- main loop

    def parse(self) -> MTP:
        self._header()
        in_radial = False
        while self.pos < len(self.lines):
            lineno = self.pos + 1
            raw = self.lines[self.pos]
            self.pos += 1
            stripped = raw.strip()
            if not stripped:
                continue
            key, sep, value = stripped.partition("=")
            key = key.strip()
            value = value.strip()
            if in_radial and key in _RADIAL_KEYS:
                name = "radial_scaling" if key == "scaling" else key
                kind = _RADIAL_KEYS[key]
            elif key in _TOP_KEYS:
                in_radial = False
                name, kind = key, _TOP_KEYS[key]
            elif key in _RADIAL_KEYS:
                raise self.error(
                    "belongs to the radial basis block and must follow radial_basis_type",
                    lineno, key,
                )
            else:
                raise self.error(f"unknown key (line reads {stripped!r})", lineno, key)
            if name in self.values:
                raise self.error(
                    f"given twice (first on line {self.key_lines[name]})", lineno, key
                )
            if kind == "block":
                if sep:
                    raise self.error("takes no '= value'; its data follow on the next lines",
                                     lineno, key)
                self.key_lines[name] = lineno
                self.values[name] = self._radial_coeffs(lineno)
                continue
            if not sep:
                raise self.error("expected 'key = value'", lineno, key)
            self.key_lines[name] = lineno
            self.values[name] = self._convert(kind, value, lineno, key)
            if key == "radial_basis_type":
                self._check_basis_type(value, lineno)
                in_radial = True
        return self._build()

    def _header(self) -> None:
        """``MTP`` then ``version = 1.1.0`` (blank lines around them are tolerated)."""
        lineno, text = self._next_nonblank()
        if text is None:
            raise self.error("empty file: expected 'MTP' on the first line", 1)
        if text != "MTP":
            raise self.error(f"expected 'MTP' on the first line, found {text or ''!r}", lineno)
        lineno, text = self._next_nonblank()
        if text is None:
            raise self.error(f"expected 'version = {FORMAT_VERSION}', found end of file", lineno)
        key, sep, value = text.partition("=")
        if key.strip() != "version" or not sep:
            raise self.error(f"expected 'version = {FORMAT_VERSION}', found {text!r}", lineno)
        if value.strip() != FORMAT_VERSION:
            raise self.error(
                f"unsupported format version {value.strip()!r} (seimd reads "
                f"version = {FORMAT_VERSION})", lineno, "version",
            )

    def _check_basis_type(self, value: str, lineno: int) -> None:
        if value in SUPPORTED_RADIAL_BASIS_TYPES:
            return
        if value in KNOWN_RADIAL_BASIS_TYPES:
            raise UnsupportedMTPError(
                f"radial basis '{value}' is not implemented by seimd (supported: "
                f"{', '.join(SUPPORTED_RADIAL_BASIS_TYPES)})",
                source=self.source, line=lineno, key="radial_basis_type",
            )
        raise self.error(
            f"unknown radial basis type '{value}' (known: {', '.join(KNOWN_RADIAL_BASIS_TYPES)})",
            lineno, "radial_basis_type",
        )

    # -------------------------------------------------------- values

    def _convert(self, kind: str, value: str, lineno: int, key: str) -> Any:
        if kind == "str":
            return value
        if kind == "int":
            return self._int(value, lineno, key)
        if kind == "float":
            return self._float(value, lineno, key)
        if kind == "ints":
            return self._flat_list(value, lineno, key, lambda t: self._int(t, lineno, key))
        if kind == "floats":
            return self._flat_list(value, lineno, key, lambda t: self._float(t, lineno, key))
        if kind == "table":
            return self._table(value, lineno, key)
        raise AssertionError(kind)

    def _int(self, token: str, lineno: int, key: str) -> int:
        token = token.strip()
        if not re.fullmatch(r"[+-]?\d+", token):
            raise self.error(f"expected an integer, found {token!r}", lineno, key)
        return int(token)

    def _float(self, token: str, lineno: int, key: str) -> float:
        token = token.strip()
        try:
            number = float(token)
        except ValueError:
            raise self.error(f"expected a number, found {token!r}", lineno, key) from None
        if "_" in token or not math.isfinite(number):
            raise self.error(f"expected a finite number, found {token!r}", lineno, key)
        return number

    def _flat_list(
        self, value: str, lineno: int, key: str, conv: Callable[[str], Any]
    ) -> list[Any]:
        if not (value.startswith("{") and value.endswith("}")):
            raise self.error(f"expected '{{v1, v2, ...}}', found {value[:60]!r}", lineno, key)
        inner = value[1:-1].strip()
        if "{" in inner or "}" in inner:
            raise self.error("expected a flat list '{v1, v2, ...}'", lineno, key)
        if not inner:
            return []
        return [conv(tok) for tok in inner.split(",")]

    def _table(self, value: str, lineno: int, key: str) -> list[list[int]]:
        if not (value.startswith("{") and value.endswith("}")):
            raise self.error(
                f"expected '{{{{a, b, c, d}}, ...}}', found {value[:60]!r}", lineno, key
            )
        inner = value[1:-1].strip()
        if not inner:
            return []
        if not _TABLE_RE.fullmatch(inner):
            raise self.error("malformed list of 4-tuples '{{a, b, c, d}, ...}'", lineno, key)
        rows = []
        for n, group in enumerate(_GROUP_RE.findall(inner)):
            row = [self._int(tok, lineno, key) for tok in group.split(",")]
            if len(row) != 4:
                raise self.error(f"entry {n} has {len(row)} numbers, expected 4", lineno, key)
            rows.append(row)
        return rows

    def _radial_coeffs(self, key_line: int) -> np.ndarray:
        key = "radial_coeffs"
        need = ("species_count", "radial_funcs_count", "radial_basis_size")
        for name in need:
            if name not in self.values:
                raise self.error(f"must come after {name}", key_line, key)
        C = self.values["species_count"]
        K = self.values["radial_funcs_count"]
        R = self.values["radial_basis_size"]
        if C < 1 or K < 1 or R < 1:
            raise self.error(
                f"needs species_count, radial_funcs_count, radial_basis_size >= 1, got "
                f"{C}, {K}, {R}", key_line, key,
            )
        coeffs = np.empty((C, C, K, R))
        for s1 in range(C):
            for s2 in range(C):
                label = f"{s1}-{s2}"
                lineno, text = self._next_nonblank()
                if text is None:
                    raise self.error(
                        f"truncated: expected pair label '{label}', reached end of file",
                        lineno, key,
                    )
                if text.replace(" ", "") != label:
                    raise self.error(
                        f"expected pair label '{label}' (pairs in row-major order "
                        f"s1-s2 for species_count = {C}), found {text!r}", lineno, key,
                    )
                for mu in range(K):
                    lineno, text = self._next_nonblank()
                    where = f"pair {label}, radial function {mu}"
                    if text is None:
                        raise self.error(
                            f"truncated: expected {K} lines of {R} numbers for {where}, "
                            "reached end of file", lineno, key,
                        )
                    if not text.startswith("{"):
                        raise self.error(
                            f"{where}: expected a line {{c_0, ..., c_{R - 1}}}, found "
                            f"{text[:40]!r} (truncated radial_coeffs?)", lineno, key,
                        )
                    row = self._flat_list(
                        text, lineno, key, lambda t, n=lineno: self._float(t, n, key)
                    )
                    if len(row) != R:
                        raise self.error(
                            f"{where}: {len(row)} numbers, expected radial_basis_size = {R}",
                            lineno, key,
                        )
                    coeffs[s1, s2, mu] = row
        return coeffs

    def _next_nonblank(self) -> tuple[int, str | None]:
        while self.pos < len(self.lines):
            self.pos += 1
            text = self.lines[self.pos - 1].strip()
            if text:
                return self.pos, text
        return len(self.lines) + 1, None

    # -------------------------------------------------------- assembly

    def _build(self) -> MTP:
        v = self.values
        for name in _REQUIRED:
            if name not in v:
                raise self.error(f"required key '{name}' is missing", key=name)
        times = v.get("alpha_index_times")
        if times is None:
            if v["alpha_index_times_count"] != 0:
                raise self.error("required key 'alpha_index_times' is missing",
                                 key="alpha_index_times")
            times = []
        counts = (
            ("alpha_index_basic", "alpha_index_basic_count", len(v["alpha_index_basic"])),
            ("alpha_index_times", "alpha_index_times_count", len(times)),
            ("alpha_moment_mapping", "alpha_scalar_moments", len(v["alpha_moment_mapping"])),
        )
        for array_key, count_key, n in counts:
            if v[count_key] != n:
                raise self.error(
                    f"{array_key} has {n} entries but {count_key} = {v[count_key]} "
                    f"(line {self.key_lines[count_key]})",
                    self.key_lines.get(array_key), array_key,
                )
        fields = dict(
            species_count=v["species_count"],
            min_dist=v["min_dist"],
            max_dist=v["max_dist"],
            radial_basis_size=v["radial_basis_size"],
            radial_funcs_count=v["radial_funcs_count"],
            alpha_moments_count=v["alpha_moments_count"],
            alpha_index_basic=_int_table(v["alpha_index_basic"], 4, "alpha_index_basic"),
            alpha_index_times=_int_table(times, 4, "alpha_index_times"),
            alpha_moment_mapping=np.array(v["alpha_moment_mapping"], dtype=np.int64),
            radial_coeffs=v.get("radial_coeffs"),
            species_coeffs=(
                np.array(v["species_coeffs"]) if "species_coeffs" in v else None
            ),
            moment_coeffs=np.array(v["moment_coeffs"]) if "moment_coeffs" in v else None,
            potential_name=v.get("potential_name"),
            scaling=v.get("scaling", 1.0),
            potential_tag=v.get("potential_tag", ""),
            radial_basis_type=v["radial_basis_type"],
            radial_scaling=v.get("radial_scaling"),
        )
        # Run the model's consistency checks with line numbers before construction.
        for key, message in consistency_problems(SimpleNamespace(**fields)):
            line = self.key_lines.get(key)
            if key == "max_dist" and "min_dist" in message:
                line = self.key_lines.get("max_dist")
            raise self.error(message, line, key)
        layout = MTPLayout(
            scaling_line="scaling" in v,
            potential_tag_line="potential_tag" in v,
            trailing_newline=self.trailing_newline,
        )
        return MTP(**fields, layout=layout)
