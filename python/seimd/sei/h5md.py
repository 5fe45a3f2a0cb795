"""Appendable, crash-safe H5MD 1.1 files for time series of SEI observables.

One :class:`H5MDObservables` writer appends one row per sampled MD step to every
declared observable and flushes the file after each row, so a killed run loses at
most the row being written. A run continued from a LAMMPS restart file reopens the
same file and appends; the writer records the parameters of every continuation.

Only one process may write a file: under MPI, open and append on rank 0 only
(the class itself uses no MPI). HDF5 locks the file while it is open for
writing, so opening it from another process fails until the writer closes it;
``read_observables(path, locking=False)`` peeks at a running simulation's file.
On file systems without locking (some Lustre mounts) set
``HDF5_USE_FILE_LOCKING=FALSE`` and never open the same file twice for writing.

Layout (H5MD 1.1, https://www.nongnu.org/h5md/h5md.html)::

    /h5md                                      +-- version = [1, 1]
        /author                                +-- name (, email)    fixed-length strings
        /creator                               +-- name = "seimd", version
    /observables
        /<name>                                one group per observable, e.g. "reduced"
            /step    int64   [n]               MD step of each row, strictly increasing
            /time    float64 [n]               +-- unit = "ps"
            /value   <dtype> [n, *shape]       +-- unit (when the observable has one)
    /parameters
        /segment_0                             the run that created the file
            +-- <parameter> = value            e.g. temperature_K, seed, potential, ...
            +-- first_row, first_step, restart_step, opened_utc, creator_version, host, ...
            /<nested dict>                     +-- ...
        /segment_1                             the first continuation, and so on

Time is in ps; every ``value`` carries the unit that was declared for it, in the
string syntax of the H5MD ``units`` module (``"eV"``, ``"Ang+3"``, ``"eV Ang-1"``).
All observables are sampled together, so the ``step`` and ``time`` datasets of
every observable are hard links to one pair of datasets (H5MD allows this).
Every dataset is chunked and resizable along its first axis. Reading needs
nothing but h5py::

    import h5py
    with h5py.File("sei.h5", "r") as f:
        step = f["observables/reduced/step"][:]
        value = f["observables/reduced/value"][:]

or :func:`read_observables`, which also hides an incomplete last row left by a
killed writer (see below); :func:`read_parameters` returns the segments.

Crash safety. An append resizes and writes each dataset in turn, every value
first and ``step`` last, then flushes. A process killed inside an append can
leave some datasets one row longer than others, or ``step`` resized but still
holding its fill value -1. Opening the file for writing (and reading it with
:func:`read_observables`) takes the common length of all datasets and drops a
last row whose step is -1; the writer truncates the datasets to that length.
A flush survives the death of the process, not that of the operating system;
without SWMR, HDF5 promises nothing for a process killed inside the flush itself
(writers killed at random points in the tests always left a readable file).

Restarts. A run continued from a LAMMPS restart file written at step S repeats
the steps from S on, so the rows with step >= S written after that restart by
the killed run describe a trajectory that no longer exists. Open the file with
``restart_step=S``: every observable is truncated to the rows with step < S
(strictly less, since the continuation writes step S again), and the new
segment records how many rows, and which steps, were dropped. Without
``restart_step`` an append must continue after the last stored step.

Parameters. Each opening for writing adds ``parameters/segment_<k>`` holding the
full parameter set of that (continued) run plus its bookkeeping: the row and
step it starts at (``first_row``, ``first_step``), ``restart_step``,
``dropped_rows`` and ``dropped_step_range``, ``incomplete_rows_removed``, the
UTC time, the seimd version and host, and ``changed_parameters`` (names that
differ from the previous segment). The rows of segment k are
``first_row[k] <= row < first_row[k+1]``; a later restart may have dropped some
of them. Put units into parameter names (``temperature_K``, ``timestep_ps``).
"""

from __future__ import annotations

import datetime
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple

import h5py
import numpy as np

import seimd

__all__ = [
    "H5MDObservables",
    "H5MDLayoutError",
    "ObservableSpec",
    "TimeSeries",
    "read_observables",
    "read_parameters",
]

H5MD_VERSION = (1, 1)
CREATOR_NAME = "seimd"
TIME_UNIT = "ps"
STEP_FILL = -1  # fill value of `step`: a resized but never written row reads -1
SEGMENT_PREFIX = "segment_"
# Bookkeeping attributes of a segment group; user parameters may not use these names.
SEGMENT_METADATA = frozenset({
    "first_row", "first_step", "restart_step", "dropped_rows", "dropped_step_range",
    "incomplete_rows_removed", "opened_utc", "creator_version", "host", "changed_parameters",
})
_CHUNK_BYTES = 16384  # one chunk holds ~16 KiB of rows: small enough to rewrite at every flush
_MAX_ATTRIBUTE_BYTES = 8192  # longer parameters (scripts, long lists) go to datasets
_MODES = ("append", "create", "overwrite")


class H5MDLayoutError(ValueError):
    """The file does not hold the declared observables, or is not an appendable H5MD file."""


@dataclass(frozen=True)
class ObservableSpec:
    """Declaration of one observable: unit (None: dimensionless), shape of one value, dtype."""

    unit: str | None
    shape: tuple[int, ...]
    dtype: np.dtype

    @classmethod
    def coerce(cls, name: str, spec: "ObservableSpec | tuple") -> "ObservableSpec":
        """Accepts an ObservableSpec or a ``(unit, shape, dtype)`` tuple."""
        if isinstance(spec, ObservableSpec):
            unit, shape, dtype = spec.unit, spec.shape, spec.dtype
        else:
            try:
                unit, shape, dtype = spec
            except (TypeError, ValueError):
                raise TypeError(f"observable {name!r}: expected (unit, shape, dtype), "
                                f"got {spec!r}") from None
        if unit is not None and (not isinstance(unit, str) or not unit.isascii()):
            raise TypeError(f"observable {name!r}: unit must be an ASCII string or None, got {unit!r}")
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(d) for d in shape)
        if any(d < 1 for d in shape):
            raise ValueError(f"observable {name!r}: shape {shape} has an empty dimension")
        dtype = np.dtype(dtype)
        if dtype.kind not in "biuf":
            raise TypeError(f"observable {name!r}: dtype {dtype} is not boolean, integer or float")
        return cls(unit or None, shape, dtype)


class TimeSeries(NamedTuple):
    """One observable read back: ``step`` (int64 [n]), ``time`` (ps, float64 [n]),
    ``value`` ([n, *shape], the declared dtype)."""

    step: np.ndarray
    time: np.ndarray
    value: np.ndarray


class H5MDObservables:
    """Appends rows of observables to an H5MD file; create it with :meth:`open`.

    Use as a context manager, or call :meth:`close`. Write from one process only
    (MPI rank 0).
    """

    def __init__(self, file: h5py.File, specs: dict[str, ObservableSpec], segment: h5py.Group):
        """Internal: use :meth:`open`."""
        self._file = file
        self._path = Path(file.filename)
        self._specs = specs
        self._segment = segment
        elements = file["observables"]
        self._values = {name: elements[name]["value"] for name in specs}
        self._times = _distinct(elements[name]["time"] for name in specs)
        self._steps = _distinct(elements[name]["step"] for name in specs)
        self._rows = self._steps[0].shape[0]
        self._last_step = int(self._steps[0][-1]) if self._rows else None
        self._segment_rows = 0  # rows appended by this run

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        observables: Mapping[str, ObservableSpec | tuple],
        parameters: Mapping[str, Any] | None = None,
        creator_version: str | None = None,
        author: str | None = None,
        mode: str = "append",
        *,
        restart_step: int | None = None,
        author_email: str | None = None,
    ) -> "H5MDObservables":
        """Opens (or creates) `path` for appending rows of `observables`.

        observables: name -> ``(unit, shape, dtype)`` of one value, e.g.
            ``{"reduced": (None, (), "float64"), "n_ps": (None, (5,), "int64")}``.
            An existing file must hold exactly these observables.
        parameters: the run's parameters (numbers, strings, paths, None, arrays,
            nested dicts), stored in a new ``parameters/segment_<k>``.
        creator_version: seimd version recorded in ``h5md/creator`` (default: the
            installed seimd).
        author: name for ``h5md/author`` when the file is created ("unknown" if None).
        mode: "append" creates the file or continues it; "create" refuses an
            existing file; "overwrite" replaces it.
        restart_step: the step of the restart file this run continues from; rows
            with step >= restart_step are dropped (see the module docstring).

        Raises H5MDLayoutError when an existing file does not match `observables`;
        the file is then left untouched.
        """
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        specs = _coerce_specs(observables)
        tree = _parameter_tree(parameters or {})  # refuse bad parameters before touching the file
        creator_version = str(creator_version or seimd.__version__)
        path = Path(path)
        exists = path.exists() and mode == "append"
        file = h5py.File(path, {"append": "a", "create": "x", "overwrite": "w"}[mode])
        try:
            if exists:
                _check_layout(file, specs)
            else:
                _write_metadata(file, creator_version, author or "unknown", author_email)
                _create_observables(file.require_group("observables"), specs)
            info = _truncate_for_continuation(list(_elements(file).values()), restart_step)
            segment = _start_segment(file, tree, info, creator_version)
            file.flush()
        except BaseException:
            file.close()
            raise
        return cls(file, specs, segment)

    # ---------------------------------------------------------------- appending
    def append(self, step: int, time_ps: float, values: Mapping[str, Any]) -> None:
        """Adds one row (`step`, `time_ps` in ps, a value per observable) and flushes.

        Every declared observable needs a value of its declared shape; all are
        checked before anything is written. `step` must exceed the last stored
        step (open with ``restart_step`` to continue from an earlier restart).
        """
        self._check_open()
        step = int(step)
        if self._last_step is not None and step <= self._last_step:
            raise ValueError(
                f"step {step} <= last stored step {self._last_step}: steps must increase; a run "
                f"continued from a restart file must be opened with restart_step=<its step>")
        rows = self._validated_row(values)
        # `step` goes last: it is the commit mark of the row (see the module docstring).
        for name, row in rows.items():
            _append_row(self._values[name], self._rows, row)
        for dataset in self._times:
            _append_row(dataset, self._rows, np.float64(time_ps))
        for dataset in self._steps:
            _append_row(dataset, self._rows, np.int64(step))
        if self._segment_rows == 0:
            self._segment.attrs["first_step"] = np.int64(step)
        self._rows += 1
        self._segment_rows += 1
        self._last_step = step
        self.flush()

    def _validated_row(self, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """`values` as arrays of the declared dtypes and shapes; raises before any write."""
        missing = sorted(set(self._specs) - set(values))
        unknown = sorted(set(values) - set(self._specs))
        if missing or unknown:
            raise KeyError(f"values must name every observable once: "
                           f"missing {missing}, unknown {unknown}")
        return {name: _as_value(name, values[name], spec) for name, spec in self._specs.items()}

    def flush(self) -> None:
        """Pushes everything written so far to the file (survives a killed process)."""
        self._check_open()
        self._file.flush()

    def close(self) -> None:
        """Flushes and closes the file; further calls do nothing."""
        if self._file.id.valid:
            self._file.close()

    def __enter__(self) -> "H5MDObservables":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_open(self) -> None:
        if not self._file.id.valid:
            raise ValueError("the H5MD file is closed")

    # --------------------------------------------------------------- inspection
    @property
    def path(self) -> Path:
        return self._path

    @property
    def names(self) -> list[str]:
        """The observables, in declaration order."""
        return list(self._specs)

    @property
    def rows(self) -> int:
        """Number of rows stored (all segments)."""
        return self._rows

    @property
    def last_step(self) -> int | None:
        """Step of the last stored row, None for an empty file."""
        return self._last_step

    @property
    def segment(self) -> int:
        """Index k of this run's ``parameters/segment_<k>``."""
        return _segment_index(self._segment.name.rsplit("/", 1)[-1])

    def __repr__(self) -> str:
        state = "open" if self._file.id.valid else "closed"
        return (f"<H5MDObservables {str(self.path)!r} ({state}) "
                f"{len(self._specs)} observables, {self._rows} rows>")


# ---------------------------------------------------------------------- reading
def read_observables(path: str | os.PathLike, names: Iterable[str] | None = None, *,
                     locking: bool = True) -> dict[str, TimeSeries]:
    """Every observable (or those in `names`) of an H5MD file as ``name -> TimeSeries``.

    Rows beyond the consistent length (an append interrupted by a killed writer)
    are left out, as the writer would truncate them when reopening the file.
    ``locking=False`` reads a file that a running simulation holds open: what it
    flushed last, unless the read races a flush (then HDF5 may fail; try again).
    """
    with h5py.File(path, "r", locking=locking) as file:
        elements = _elements(file)
        n = _consistent_length(elements.values())
        wanted = list(elements) if names is None else list(names)
        unknown = sorted(set(wanted) - set(elements))
        if unknown:
            raise KeyError(f"{path}: no observables {unknown}; the file has {sorted(elements)}")
        return {name: TimeSeries(elements[name]["step"][:n], elements[name]["time"][:n],
                                 elements[name]["value"][:n]) for name in wanted}


def read_parameters(path: str | os.PathLike, *, locking: bool = True) -> list[dict[str, Any]]:
    """The parameter segments of an H5MD file in order, each a dict of its attributes,
    datasets and subgroups (bookkeeping included; strings decoded, None restored)."""
    with h5py.File(path, "r", locking=locking) as file:
        return [_read_group(group) for group in _segments(file)]


# ------------------------------------------------------------- file structure
def _coerce_specs(observables: Mapping[str, ObservableSpec | tuple]) -> dict[str, ObservableSpec]:
    if not observables:
        raise ValueError("declare at least one observable")
    for name in observables:
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValueError(f"observable name {name!r} must be a non-empty string without '/'")
    return {name: ObservableSpec.coerce(name, spec) for name, spec in observables.items()}


def _write_metadata(file: h5py.File, creator_version: str, author: str, email: str | None) -> None:
    """The mandatory ``h5md`` group: spec version, author, creator (fixed-length strings)."""
    h5md = file.create_group("h5md")
    h5md.attrs["version"] = np.array(H5MD_VERSION, dtype=np.int32)
    author_group = h5md.create_group("author")
    author_group.attrs["name"] = _fixed_string(author)
    if email:
        author_group.attrs["email"] = _fixed_string(email)
    creator = h5md.create_group("creator")
    creator.attrs["name"] = _fixed_string(CREATOR_NAME)
    creator.attrs["version"] = _fixed_string(creator_version)


def _create_observables(group: h5py.Group, specs: dict[str, ObservableSpec]) -> None:
    """Empty, resizable elements; every `step`/`time` hard-links the first element's."""
    step = time = None
    for name, spec in specs.items():
        element = group.create_group(name)
        if step is None:
            step = _resizable(element, "step", (), np.dtype(np.int64), fillvalue=STEP_FILL)
            time = _resizable(element, "time", (), np.dtype(np.float64))
            _set_unit(time, TIME_UNIT)
        else:
            element["step"] = step
            element["time"] = time
        value = _resizable(element, "value", spec.shape, spec.dtype)
        if spec.unit is not None:
            _set_unit(value, spec.unit)


def _resizable(group: h5py.Group, name: str, shape: tuple[int, ...], dtype: np.dtype,
               **kw) -> h5py.Dataset:
    row_bytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    chunk_rows = max(1, min(4096, _CHUNK_BYTES // row_bytes))
    return group.create_dataset(name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                                chunks=(chunk_rows, *shape), **kw)


def _check_layout(file: h5py.File, specs: dict[str, ObservableSpec]) -> None:
    """Raises H5MDLayoutError listing every difference between the file and `specs`."""
    version = file["h5md"].attrs.get("version") if "h5md" in file else None
    if version is None or int(version[0]) != H5MD_VERSION[0]:
        raise H5MDLayoutError(f"{file.filename}: not an H5MD {H5MD_VERSION[0]}.x file "
                              f"(h5md/version = {version})")
    elements = _elements(file)
    problems = [f"observable {name!r} is declared but not in the file"
                for name in specs if name not in elements]
    problems += [f"observable {name!r} is in the file but not declared"
                 for name in elements if name not in specs]
    for name in sorted(specs.keys() & elements.keys()):
        problems += [f"observable {name!r}: {p}" for p in _element_problems(elements[name], specs[name])]
    if problems:
        raise H5MDLayoutError(f"{file.filename} does not match the declared observables:\n  "
                              + "\n  ".join(problems))


def _element_problems(element: h5py.Group, spec: ObservableSpec) -> list[str]:
    """How one stored observable differs from its declaration (empty: it matches)."""
    for part in ("step", "time"):
        if part not in element or element[part].ndim != 1 or element[part].maxshape[0] is not None:
            return [f"no resizable one-dimensional '{part}' dataset"]
    value = element["value"]
    problems = []
    if value.shape[1:] != spec.shape:
        problems.append(f"value shape {value.shape[1:]} in the file, {spec.shape} declared")
    if value.dtype != spec.dtype:
        problems.append(f"dtype {value.dtype} in the file, {spec.dtype} declared")
    unit = _get_unit(value)
    if unit != spec.unit:
        problems.append(f"unit {unit!r} in the file, {spec.unit!r} declared")
    if value.maxshape[0] is not None:
        problems.append("value is not resizable along its first axis")
    return problems


def _elements(file: h5py.File) -> dict[str, h5py.Group]:
    """The time-dependent elements directly under ``observables`` (groups with a `value`)."""
    group = file.get("observables")
    if group is None:
        return {}
    return {name: item for name, item in group.items()
            if isinstance(item, h5py.Group) and isinstance(item.get("value"), h5py.Dataset)}


# ------------------------------------------------------ consistency and restart
def _consistent_length(elements: Iterable[h5py.Group]) -> int:
    """Number of complete rows: the shortest dataset, less a last row whose step was never written."""
    elements = list(elements)
    datasets = [element[part] for element in elements for part in ("step", "time", "value")]
    if not datasets:
        return 0
    n = min(dataset.shape[0] for dataset in datasets)
    if n and any(int(element["step"][n - 1]) == STEP_FILL for element in elements):
        n -= 1
    return n


def _truncate(elements: Iterable[h5py.Group], n: int) -> None:
    """Shrinks every dataset of `elements` to at most `n` rows."""
    for element in elements:
        for part in ("step", "time", "value"):
            dataset = element[part]
            if dataset.shape[0] > n:
                dataset.resize(n, axis=0)


def _truncate_for_continuation(elements: list[h5py.Group], restart_step: int | None) -> dict:
    """Cuts every observable to its complete rows with step < `restart_step`; returns the
    bookkeeping of what was cut, for the new segment."""
    longest = max((element[part].shape[0] for element in elements for part in ("step", "time", "value")),
                  default=0)
    complete = _consistent_length(elements)
    kept = complete
    if restart_step is not None and complete:
        # Steps increase, so the rows before the restart are a prefix.
        kept = int(np.searchsorted(elements[0]["step"][:complete], int(restart_step), side="left"))
    info = {"first_row": np.int64(kept), "dropped_rows": np.int64(complete - kept),
            "incomplete_rows_removed": np.int64(longest - complete)}
    if restart_step is not None:
        info["restart_step"] = np.int64(restart_step)
    if complete > kept:
        steps = elements[0]["step"]
        info["dropped_step_range"] = np.array([steps[kept], steps[complete - 1]], dtype=np.int64)
    _truncate(elements, kept)
    return info


def _start_segment(file: h5py.File, tree: dict[str, Any], info: dict,
                   creator_version: str) -> h5py.Group:
    """A new ``parameters/segment_<k>`` with the run's parameters and bookkeeping."""
    segments = _segments(file)
    segment = file.require_group("parameters").create_group(f"{SEGMENT_PREFIX}{len(segments)}")
    _write_parameters(segment, tree)
    info = {**info,
            "opened_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "creator_version": creator_version,
            "host": socket.gethostname()}
    if segments:
        info["changed_parameters"] = ", ".join(_changed(segments[-1], segment))
    segment.attrs.update(info)
    return segment


def _segments(file: h5py.File) -> list[h5py.Group]:
    """The ``parameters/segment_<k>`` groups in order of k."""
    group = file.get("parameters")
    if group is None:
        return []
    names = [name for name in group
             if name.startswith(SEGMENT_PREFIX) and name[len(SEGMENT_PREFIX):].isdigit()]
    return [group[name] for name in sorted(names, key=_segment_index)]


def _segment_index(name: str) -> int:
    return int(name[len(SEGMENT_PREFIX):])


def _changed(previous: h5py.Group, current: h5py.Group) -> list[str]:
    """Parameter names (nested ones as a/b) added, removed or changed since `previous`."""
    old = _flatten(_read_group(previous, skip=SEGMENT_METADATA))
    new = _flatten(_read_group(current, skip=SEGMENT_METADATA))
    return sorted(key for key in old.keys() | new.keys()
                  if key not in old or key not in new or not _same(old[key], new[key]))


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[prefix + key] = value
    return flat


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.all(np.asarray(a) == np.asarray(b)))
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------- parameters
def _parameter_tree(parameters: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    """`parameters` with every value converted to what h5py stores faithfully (nested
    mappings stay dicts); raises ValueError/TypeError naming the offending parameter."""
    tree = {}
    for key, value in parameters.items():
        where = f"{path}{key}"
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"parameter name {where!r} must be a non-empty string without '/'")
        if not path and key in SEGMENT_METADATA:
            raise ValueError(f"parameter name {key!r} is reserved for the segment bookkeeping")
        if isinstance(value, Mapping):
            tree[key] = _parameter_tree(value, f"{where}/")
        else:
            tree[key] = _storable(where, value)
    return tree


def _write_parameters(group: h5py.Group, tree: Mapping[str, Any]) -> None:
    """Scalars, strings and small arrays as attributes; long ones as datasets; dicts as groups."""
    for key, value in tree.items():
        if isinstance(value, dict):
            _write_parameters(group.create_group(key), value)
        elif isinstance(value, h5py.Empty) or _nbytes(value) <= _MAX_ATTRIBUTE_BYTES:
            group.attrs[key] = value
        else:
            group.create_dataset(key, data=value)


def _storable(where: str, value: Any) -> Any:
    """`value` as something h5py stores faithfully; TypeError for anything else."""
    if value is None:
        return h5py.Empty("f8")  # a null dataspace: read back as None
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return value
    array = np.asarray(value)
    if array.dtype.kind in "biuf":
        return array
    if array.dtype.kind == "U":
        return array.astype(h5py.string_dtype())
    raise TypeError(f"parameter {where!r}: cannot store {type(value).__name__} {value!r}")


def _nbytes(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return sum(len(str(v).encode()) for v in value.flat)
    return np.asarray(value).nbytes


def _read_group(group: h5py.Group, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Attributes, datasets and subgroups of `group` as plain Python values."""
    tree = {key: _plain(value) for key, value in group.attrs.items() if key not in skip}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            tree[key] = _read_group(item)
        elif key not in skip:
            tree[key] = _plain(item.asstr()[()] if h5py.check_string_dtype(item.dtype) else item[()])
    return tree


def _plain(value: Any) -> Any:
    """Bytes -> str, null dataspace -> None, numpy scalar -> Python scalar, string arrays -> str."""
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.astype(str) if value.dtype.kind in "OS" else value
    if isinstance(value, np.generic):
        return value.item()
    return value


# ------------------------------------------------------------------ small helpers
def _as_value(name: str, value: Any, spec: ObservableSpec) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != spec.shape:
        raise ValueError(f"observable {name!r}: value of shape {array.shape}, declared {spec.shape}")
    if not np.can_cast(array.dtype, spec.dtype, casting="same_kind"):
        raise TypeError(f"observable {name!r}: {array.dtype} value for a {spec.dtype} observable")
    return array.astype(spec.dtype, copy=False)


def _append_row(dataset: h5py.Dataset, row: int, value: Any) -> None:
    """Grows `dataset` to `row` + 1 rows and writes `value` into the last one."""
    dataset.resize(row + 1, axis=0)
    dataset[row] = value


def _distinct(datasets: Iterable[h5py.Dataset]) -> list[h5py.Dataset]:
    """Datasets without repeats: hard links to one dataset are written once."""
    unique: list[h5py.Dataset] = []
    for dataset in datasets:
        if not any(dataset == seen for seen in unique):
            unique.append(dataset)
    return unique


def _fixed_string(text: str) -> np.bytes_:
    """A fixed-length string attribute value, as H5MD wants for author and creator."""
    return np.bytes_(str(text).encode() or b" ")  # HDF5 has no zero-length fixed strings


def _set_unit(dataset: h5py.Dataset, unit: str) -> None:
    """`unit` attribute as a variable-length ASCII string (H5MD units module)."""
    dataset.attrs.create("unit", unit, dtype=h5py.string_dtype("ascii"))


def _get_unit(dataset: h5py.Dataset) -> str | None:
    unit = dataset.attrs.get("unit")
    return None if unit is None else _plain(unit)
