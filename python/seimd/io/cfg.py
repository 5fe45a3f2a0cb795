"""MLIP ``.cfg`` configuration files: reading, writing and ASE conversion.

A ``.cfg`` file holds any number of labelled configurations::

    BEGIN_CFG
     Size
        N
     Supercell                 (0 to 3 lattice vectors, Angstrom; absent = non-periodic)
         ax ay az
     AtomData:  id type cartes_x cartes_y cartes_z fx fy fz
        1 0 ...                (ids 1..N; types 0-based; forces eV/A)
     Energy
        E                      (total energy, eV)
     PlusStress:  xx yy zz yz xz xy
        ...                    (virial, eV: V * pressure tensor, positive under compression)
     Feature   key<TAB>value   (any number, repeats allowed)
    END_CFG

AtomData columns follow the header names; ``direct_x/y/z`` (fractional
coordinates) and any other per-atom column (``site_en``, ``charge``, ...) are
kept in :attr:`Configuration.extra_columns`.

The writer reproduces MLIP-2's fixed-width layout (6 decimals for coordinates
and forces, 12 for the energy, 5 for the stress), so a file written by MLIP-2
round-trips byte for byte; ``write_cfg(..., full_precision=True)`` writes every
number with 17 significant digits instead.

ASE conversion: ASE stress (Voigt xx yy zz yz xz xy, eV/A^3) = -PlusStress / V.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "CFGFormatError",
    "Configuration",
    "read_cfg",
    "write_cfg",
    "format_cfg",
    "to_atoms",
    "from_atoms",
    "STRESS_COMPONENTS",
]

STRESS_COMPONENTS = ("xx", "yy", "zz", "yz", "xz", "xy")
_CARTESIAN = ("cartes_x", "cartes_y", "cartes_z")
_DIRECT = ("direct_x", "direct_y", "direct_z")
_FORCES = ("fx", "fy", "fz")
DEFAULT_COLUMNS = ("id", "type") + _CARTESIAN + _FORCES
_STRESS_INDEX = {"xx": (0, 0), "yy": (1, 1), "zz": (2, 2), "yz": (1, 2), "xz": (0, 2), "xy": (0, 1)}


class CFGFormatError(ValueError):
    """A malformed ``.cfg`` file; the message names the file and the line."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = ", ".join(
            part for part in (source, f"line {line}" if line is not None else None) if part
        )
        super().__init__(f"{where}: {message}" if where else message)


# --------------------------------------------------------------------------- data


@dataclass(eq=False)
class Configuration:
    """One labelled configuration of an MLIP ``.cfg`` file.

    Distances in Angstrom, energy in eV, forces in eV/A, ``plus_stress`` in eV
    (order xx yy zz yz xz xy; the virial, = -V * ASE stress).
    """

    types: np.ndarray
    """(N,) int, 0-based MTP species."""
    positions: np.ndarray
    """(N, 3) Cartesian positions, Angstrom."""
    cell: np.ndarray | None = None
    """(k, 3) lattice vectors as rows, k = 0..3 Supercell rows as given; None when absent."""
    forces: np.ndarray | None = None
    """(N, 3) eV/A, or None."""
    energy: float | None = None
    """Total energy, eV, or None."""
    plus_stress: np.ndarray | None = None
    """(6,) virial in eV, order xx yy zz yz xz xy, or None."""
    features: list[tuple[str, str]] = field(default_factory=list)
    """``Feature`` lines as (key, value), in file order."""
    extra_columns: dict[str, np.ndarray] = field(default_factory=dict)
    """Other per-atom columns (direct_x.., site_en, charge, ...), (N,) each."""
    columns: tuple[str, ...] | None = None
    """AtomData column order as read; None means the default (id type cartes fx fy fz)."""

    def __post_init__(self) -> None:
        self.types = np.array(self.types, dtype=np.int64).reshape(-1)
        n = self.types.size
        self.positions = np.array(self.positions, dtype=np.float64).reshape(n, 3)
        if self.cell is not None:
            self.cell = np.array(self.cell, dtype=np.float64).reshape(-1, 3)
            if self.cell.shape[0] > 3:
                raise ValueError(f"a cell has at most 3 lattice vectors, got {self.cell.shape[0]}")
        if self.forces is not None:
            self.forces = np.array(self.forces, dtype=np.float64).reshape(n, 3)
        if self.energy is not None:
            self.energy = float(self.energy)
        if self.plus_stress is not None:
            self.plus_stress = np.array(self.plus_stress, dtype=np.float64).reshape(6)
        self.features = [(str(k), str(v)) for k, v in self.features]
        self.extra_columns = {
            str(k): np.array(v, dtype=np.float64).reshape(n) for k, v in self.extra_columns.items()
        }
        if self.columns is not None:
            self.columns = tuple(self.columns)

    @property
    def n_atoms(self) -> int:
        return int(self.types.size)

    @property
    def pbc(self) -> tuple[bool, bool, bool]:
        """Periodic along the first k lattice vectors (k Supercell rows)."""
        k = 0 if self.cell is None else self.cell.shape[0]
        return (k > 0, k > 1, k > 2)

    @property
    def volume(self) -> float | None:
        """Cell volume in A^3 (None unless 3 lattice vectors are given)."""
        if self.cell is None or self.cell.shape[0] != 3:
            return None
        return float(abs(np.linalg.det(self.cell)))

    def feature(self, key: str) -> str | None:
        """Value of the first Feature ``key`` (None if absent)."""
        for k, v in self.features:
            if k == key:
                return v
        return None

    def __eq__(self, other: object) -> bool:
        """Exact equality of every field (arrays bit for bit)."""
        if not isinstance(other, Configuration):
            return NotImplemented
        return (
            _same(self.types, other.types)
            and _same(self.positions, other.positions)
            and _same(self.cell, other.cell)
            and _same(self.forces, other.forces)
            and self.energy == other.energy
            and _same(self.plus_stress, other.plus_stress)
            and self.features == other.features
            and self.extra_columns.keys() == other.extra_columns.keys()
            and all(_same(v, other.extra_columns[k]) for k, v in self.extra_columns.items())
            and self.columns == other.columns
        )

    __hash__ = None  # type: ignore[assignment]


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and np.array_equal(a, b)


# --------------------------------------------------------------------------- reader


def read_cfg(path_or_text: str | os.PathLike[str]) -> list[Configuration]:
    """All configurations of a ``.cfg`` file (gzip-compressed when the name ends in
    ``.gz``, e.g. ``train.cfg.gz``), or of ``.cfg`` text.

    A ``str`` containing a newline or ``BEGIN_CFG`` is taken as the text itself,
    anything else as a path. LF and CRLF line endings are accepted.
    """
    if isinstance(path_or_text, str) and ("\n" in path_or_text or "BEGIN_CFG" in path_or_text):
        return _CfgParser(path_or_text, "<string>").parse()
    path = Path(path_or_text)
    try:
        if path.name.lower().endswith(".gz"):
            import gzip

            with gzip.open(path, "rt", encoding="utf-8") as f:
                text = f.read()
        else:
            text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CFGFormatError("file not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise CFGFormatError(f"cannot read file: {exc}", source=str(path)) from None
    return _CfgParser(text, str(path)).parse()


class _CfgParser:
    """State machine over the lines of ``.cfg`` text."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines = [line.rstrip("\r") for line in text.split("\n")]
        self.pos = 0

    def error(self, message: str, line: int | None = None) -> CFGFormatError:
        return CFGFormatError(message, self.source, line if line is not None else self.pos)

    def _next(self) -> tuple[int, str | None]:
        """Next non-blank line (1-based number, stripped text); text None at end of file."""
        while self.pos < len(self.lines):
            self.pos += 1
            text = self.lines[self.pos - 1].strip()
            if text:
                return self.pos, text
        return self.pos + 1, None

    def _peek(self) -> str | None:
        saved = self.pos
        _, text = self._next()
        self.pos = saved
        return text

    def parse(self) -> list[Configuration]:
        configs = []
        while True:
            lineno, text = self._next()
            if text is None:
                return configs
            if text != "BEGIN_CFG":
                raise self.error(f"expected BEGIN_CFG, found {text!r}", lineno)
            configs.append(self._configuration(lineno))

    def _floats(self, text: str, lineno: int, count: int | None, what: str) -> list[float]:
        tokens = text.split()
        if count is not None and len(tokens) != count:
            raise self.error(f"{what}: expected {count} numbers, found {len(tokens)}: {text!r}",
                             lineno)
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            raise self.error(f"{what}: expected numbers, found {text!r}", lineno) from None
        if not all(math.isfinite(v) for v in values):
            raise self.error(f"{what}: non-finite number in {text!r}", lineno)
        return values

    def _configuration(self, begin_line: int) -> Configuration:
        size: int | None = None
        cell: list[list[float]] | None = None
        table: dict[str, np.ndarray] | None = None
        columns: tuple[str, ...] | None = None
        energy: float | None = None
        stress: np.ndarray | None = None
        features: list[tuple[str, str]] = []
        seen: set[str] = set()
        while True:
            lineno, text = self._next()
            if text is None:
                raise self.error(f"END_CFG missing for the configuration begun on line "
                                 f"{begin_line}", lineno)
            keyword = text.split()[0].rstrip(":")
            if keyword == "END_CFG":
                break
            if keyword in seen and keyword != "Feature":
                raise self.error(f"block {keyword!r} given twice in one configuration", lineno)
            seen.add(keyword)
            if keyword == "Size":
                n_line, n_text = self._next()
                if n_text is None or not n_text.isdigit():
                    raise self.error(f"Size: expected a number of atoms, found {n_text!r}", n_line)
                size = int(n_text)
            elif keyword == "Supercell":
                cell = []
                while len(cell) < 3:
                    peek = self._peek()
                    if peek is None or not _looks_numeric(peek):
                        break
                    row_line, row_text = self._next()
                    cell.append(self._floats(row_text, row_line, 3, "Supercell row"))
            elif keyword == "AtomData":
                if size is None:
                    raise self.error("AtomData before Size", lineno)
                columns = tuple(text.split(":", 1)[1].split()) if ":" in text else ()
                table = self._atom_data(columns, size, lineno)
            elif keyword == "Energy":
                e_line, e_text = self._next()
                if e_text is None:
                    raise self.error("Energy: value missing", e_line)
                energy = self._floats(e_text, e_line, 1, "Energy")[0]
            elif keyword == "PlusStress":
                names = text.split(":", 1)[1].split() if ":" in text else []
                if sorted(names) != sorted(STRESS_COMPONENTS):
                    raise self.error(f"PlusStress: expected the components "
                                     f"{' '.join(STRESS_COMPONENTS)}, found {names}", lineno)
                s_line, s_text = self._next()
                if s_text is None:
                    raise self.error("PlusStress: values missing", s_line)
                values = dict(zip(names, self._floats(s_text, s_line, 6, "PlusStress")))
                stress = np.array([values[c] for c in STRESS_COMPONENTS])
            elif keyword == "Feature":
                rest = text[len("Feature"):].strip()
                if not rest:
                    raise self.error("Feature without a name", lineno)
                parts = rest.split(None, 1)
                features.append((parts[0], parts[1] if len(parts) > 1 else ""))
            elif _looks_numeric(text):
                raise self.error(f"unexpected numbers {text!r} (more lines than Size or "
                                 "Supercell allow?)", lineno)
            else:
                raise self.error(f"unknown block {text.split()[0]!r} (known: Size, Supercell, "
                                 "AtomData, Energy, PlusStress, Feature, END_CFG)", lineno)
        if size is None:
            raise self.error(f"configuration begun on line {begin_line} has no Size", begin_line)
        if table is None:
            if size:
                raise self.error(f"configuration begun on line {begin_line} has no AtomData",
                                 begin_line)
            table, columns = {"type": np.zeros(0)}, None
        if (not all(c in table for c in _CARTESIAN) and all(c in table for c in _DIRECT)
                and (cell is None or len(cell) != 3)):
            raise self.error("direct (fractional) coordinates need 3 Supercell rows", begin_line)
        return _assemble(table, columns, size, cell, energy, stress, features)

    def _atom_data(self, columns: tuple[str, ...], size: int, lineno: int) -> dict[str, np.ndarray]:
        if len(set(columns)) != len(columns):
            raise self.error(f"AtomData: repeated column name in {columns}", lineno)
        for required in ("id", "type"):
            if required not in columns:
                raise self.error(f"AtomData: no '{required}' column in {columns}", lineno)
        for group in (_CARTESIAN, _DIRECT, _FORCES):
            present = [c for c in group if c in columns]
            if present and len(present) != 3:
                raise self.error(f"AtomData: columns {present} given without the rest of "
                                 f"{group}", lineno)
        if not any(c in columns for c in _CARTESIAN + _DIRECT):
            raise self.error("AtomData: no positions (cartes_x.. or direct_x..)", lineno)
        rows = np.empty((size, len(columns)))
        for n in range(size):
            row_line, row_text = self._next()
            if row_text is None or not _looks_numeric(row_text):
                raise self.error(f"AtomData: expected {size} atom lines, found {n} "
                                 f"(next line: {row_text!r})", row_line)
            rows[n] = self._floats(row_text, row_line, len(columns), "AtomData")
            ident, kind = rows[n, columns.index("id")], rows[n, columns.index("type")]
            if ident != n + 1:
                raise self.error(f"AtomData: atom id {row_text.split()[columns.index('id')]}, "
                                 f"expected {n + 1} (ids run 1..N in order)", row_line)
            if kind != int(kind) or kind < 0:
                raise self.error(f"AtomData: type must be an integer >= 0, found {kind}", row_line)
        return {name: rows[:, c] for c, name in enumerate(columns)}


def _looks_numeric(text: str) -> bool:
    try:
        float(text.split()[0])
    except (ValueError, IndexError):
        return False
    return True


def _assemble(table: dict[str, np.ndarray], columns: tuple[str, ...] | None, size: int,
              cell: list[list[float]] | None, energy: float | None, stress: np.ndarray | None,
              features: list[tuple[str, str]]) -> Configuration:
    cell_array = None if cell is None else np.array(cell, dtype=np.float64).reshape(-1, 3)
    if all(c in table for c in _CARTESIAN):
        positions = np.stack([table[c] for c in _CARTESIAN], axis=1)
    elif all(c in table for c in _DIRECT) and cell_array is not None:
        positions = np.stack([table[c] for c in _DIRECT], axis=1) @ cell_array
    else:
        positions = np.zeros((size, 3))
    forces = np.stack([table[c] for c in _FORCES], axis=1) if "fx" in table else None
    known = set(("id", "type") + _CARTESIAN + _FORCES)
    extra = {name: values for name, values in table.items() if name not in known}
    return Configuration(
        types=table["type"].astype(np.int64),
        positions=positions,
        cell=cell_array,
        forces=forces,
        energy=energy,
        plus_stress=stress,
        features=features,
        extra_columns=extra,
        columns=None if columns == DEFAULT_COLUMNS else columns,
    )


# --------------------------------------------------------------------------- writer

# (width, decimals) of each AtomData column in MLIP-2's layout
_COLUMN_FORMAT = {
    "cartes_x": (15, 6), "cartes_y": (14, 6), "cartes_z": (14, 6),
    "direct_x": (15, 6), "direct_y": (14, 6), "direct_z": (14, 6),
    "fx": (13, 6), "fy": (12, 6), "fz": (12, 6),
}
_OTHER_COLUMN_FORMAT = (14, 6)


def _number(value: float, width: int, decimals: int, full: bool) -> str:
    if full:
        return " " + format(value, ".16e").rjust(max(width - 1, 23))
    return format(value, f"{width}.{decimals}f")


def format_cfg(config: Configuration, full_precision: bool = False) -> str:
    """The ``BEGIN_CFG ... END_CFG`` text of one configuration (ends with a newline)."""
    full = full_precision
    columns = config.columns or DEFAULT_COLUMNS
    if config.forces is None:
        columns = tuple(c for c in columns if c not in _FORCES)
    lines = ["BEGIN_CFG", " Size", f"    {config.n_atoms}"]
    if config.cell is not None:
        lines.append(" Supercell")
        for row in config.cell.tolist():
            lines.append("    " + _number(row[0], 13, 6, full) + _number(row[1], 14, 6, full)
                         + _number(row[2], 14, 6, full))
    values = _column_values(config, columns)
    header = " AtomData:  id type"
    widths = []
    for name in columns[2:]:
        width, decimals = _COLUMN_FORMAT.get(name, _OTHER_COLUMN_FORMAT)
        if full:
            width = 24
        width = max(width, len(name) + 1)
        widths.append((width, decimals))
        header += name.rjust(width)
    lines.append(header)
    for n in range(config.n_atoms):
        row = f"{n + 1:14d}{int(config.types[n]):5d}"
        for name, (width, decimals) in zip(columns[2:], widths):
            row += _number(float(values[name][n]), width, decimals, full)
        lines.append(row)
    if config.energy is not None:
        lines.append(" Energy")
        lines.append(_number(config.energy, 24, 12, full))
    if config.plus_stress is not None:
        lines.append(" PlusStress:  xx" + "".join(c.rjust(12) for c in STRESS_COMPONENTS[1:]))
        lines.append("    " + "".join(_number(v, 12, 5, full) for v in config.plus_stress))
    for key, value in config.features:
        lines.append(f" Feature   {key}\t{value}")
    lines.append("END_CFG")
    return "\n".join(lines) + "\n"


def _column_values(config: Configuration, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = dict(config.extra_columns)
    for d, name in enumerate(_CARTESIAN):
        values[name] = config.positions[:, d]
    if config.forces is not None:
        for d, name in enumerate(_FORCES):
            values[name] = config.forces[:, d]
    for name in columns[2:]:
        if name not in values:
            if name in _DIRECT and config.volume is not None:
                frac = np.linalg.solve(config.cell.T, config.positions.T).T
                for d, direct in enumerate(_DIRECT):
                    values.setdefault(direct, frac[:, d])
            else:
                raise ValueError(f"no values for AtomData column {name!r}")
    if columns[:2] != ("id", "type"):
        raise ValueError(f"AtomData columns must start with 'id type', got {columns}")
    return values


def write_cfg(path: str | os.PathLike[str], configs: Iterable[Configuration] | Configuration,
              full_precision: bool = False) -> None:
    """Write configurations to ``path`` (blank line between configurations).

    ``full_precision`` writes 17 significant digits instead of MLIP-2's
    fixed decimals (6 for coordinates and forces).
    """
    if isinstance(configs, Configuration):
        configs = [configs]
    text = "\n".join(format_cfg(c, full_precision) for c in configs)
    Path(path).write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- ASE


def to_atoms(config: Configuration, symbols: Sequence[str] | None = None):
    """An ``ase.Atoms`` with a SinglePointCalculator holding energy, forces and stress.

    ``symbols[t]`` is the chemical symbol of type t; without it every atom is
    'X'. The MTP types are kept in ``atoms.arrays['mtp_type']``, Feature lines in
    ``atoms.info['cfg_features']``, extra columns in ``atoms.arrays['cfg_<name>']``.
    ASE stress (eV/A^3, Voigt xx yy zz yz xz xy) = -PlusStress / V.
    """
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    n = config.n_atoms
    if symbols is not None:
        if np.any(config.types >= len(symbols)):
            raise ValueError(f"type {config.types.max()} has no symbol in {list(symbols)}")
        names = [symbols[t] for t in config.types]
    else:
        names = ["X"] * n
    cell = np.zeros((3, 3))
    rows = 0 if config.cell is None else config.cell.shape[0]
    if rows:
        cell[:rows] = config.cell
    atoms = Atoms(symbols=names, positions=config.positions, cell=cell, pbc=config.pbc)
    atoms.arrays["mtp_type"] = config.types.copy()
    for name, values in config.extra_columns.items():
        atoms.arrays["cfg_" + name] = values.copy()
    atoms.info["cfg_features"] = list(config.features)
    atoms.info["cfg_cell_rows"] = -1 if config.cell is None else rows
    if config.columns is not None:
        atoms.info["cfg_columns"] = config.columns
    results: dict[str, object] = {}
    if config.energy is not None:
        results["energy"] = config.energy
        results["free_energy"] = config.energy
    if config.forces is not None:
        results["forces"] = config.forces.copy()
    if config.plus_stress is not None:
        volume = config.volume
        if volume is None:
            raise ValueError("PlusStress needs 3 lattice vectors to convert to an ASE stress")
        results["stress"] = -config.plus_stress / volume
    if results:
        atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def from_atoms(atoms, type_map: Mapping[str, int] | Sequence[str] | None = None) -> Configuration:
    """The :class:`Configuration` of an ``ase.Atoms`` (inverse of :func:`to_atoms`).

    Types come from ``type_map`` (dict symbol -> type, or the list of symbols
    of types 0, 1, ...) or, without it, from ``atoms.arrays['mtp_type']``.
    Energy, forces and stress are taken from ``atoms.calc.results`` when present
    (nothing is computed); PlusStress = -stress * V.
    """
    if type_map is not None:
        lookup = (dict(type_map) if isinstance(type_map, Mapping)
                  else {s: t for t, s in enumerate(type_map)})
        symbols = atoms.get_chemical_symbols()
        missing = sorted(set(symbols) - set(lookup))
        if missing:
            raise ValueError(f"element(s) {missing} missing from the type map {lookup}")
        types = np.array([lookup[s] for s in symbols], dtype=np.int64)
    elif "mtp_type" in atoms.arrays:
        types = np.asarray(atoms.arrays["mtp_type"], dtype=np.int64)
    else:
        raise ValueError("from_atoms needs a type_map (or atoms.arrays['mtp_type'])")
    rows = atoms.info.get("cfg_cell_rows")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if rows is None:
        rows = int(pbc.sum()) if pbc.any() else -1
        if pbc.any() and not pbc[:rows].all():
            raise ValueError(f"a .cfg cell is periodic along its first vectors only; pbc = {pbc}")
    cell = None if rows < 0 else atoms.cell.array[:rows].copy()
    extra = {name[4:]: atoms.arrays[name].copy() for name in atoms.arrays
             if name.startswith("cfg_")}
    results = atoms.calc.results if atoms.calc is not None else {}
    stress = results.get("stress")
    plus_stress = None
    if stress is not None:
        stress = np.asarray(stress, dtype=np.float64)
        if stress.shape == (3, 3):
            stress = np.array([stress[a, b] for a, b in _STRESS_INDEX.values()])
        plus_stress = -stress * abs(atoms.get_volume())
    forces = results.get("forces")
    return Configuration(
        types=types,
        positions=atoms.positions.copy(),
        cell=cell,
        forces=None if forces is None else np.array(forces),
        energy=results.get("energy"),
        plus_stress=plus_stress,
        features=list(atoms.info.get("cfg_features", [])),
        extra_columns=extra,
        columns=atoms.info.get("cfg_columns"),
    )
