"""The Python side of ``fix seimd/python``: what a callback receives and must return.

LAMMPS input::

    fix ID group seimd/python N module:callable [nvalues M] [ghost_cutoff R] [peratom yes|no] [args ...]

On every step that is a multiple of N, and on the first and last step of each run
(restart points; thermo prints them), every MPI rank calls
the callable with a :class:`FixContext` ``ctx``. The callable is either

* a function ``f(ctx)``, or
* a class: it is instantiated once per rank when the fix is created, as ``cls(ctx)``,
  and the instance is then called as ``obj(ctx)``; its optional ``close()`` runs when
  the fix is deleted (``unfix``, ``clear``, end of input). Class attributes tell the fix
  what to expect: ``names`` (the names of the returned values: the vector length),
  ``ghost_cutoff`` (A: the fix makes LAMMPS' ghost shell wide enough that every owned
  atom sees all its neighbours within it), ``peratom`` (True: the callback sets a
  per-atom value with ``ctx.set_peratom``). The fix's keywords override them.

It returns None, one number, or a sequence of ``M`` numbers: the fix's global vector
``f_ID[1..M]`` (use in thermo_style, variables, fix halt); with M = 1 also the scalar
``f_ID``. The fix takes rank 0's
values. ``ctx.log(text)`` writes a line to LAMMPS' screen and log file (rank 0's lines).
``ctx.request_stop(reason)`` ends the run after this step (as fix halt does);
an exception stops LAMMPS on every rank with its traceback in the error message.

Collective operations on ``ctx.comm`` (mpi4py) must be called by the callbacks of all
ranks in the same order; the fix calls every rank's callback at the same step.
The callback must not issue LAMMPS commands (the run is in progress).
"""

from __future__ import annotations

import importlib
import inspect
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class FixContext:
    """What a callback sees. Arrays are numpy views of LAMMPS' own memory (no copies):
    valid during the call only, owned atoms first (``[:nlocal]``) then ghost atoms.

    Attributes
    ----------
    lmp : the running LAMMPS (a ``lammps.lammps`` object wrapping it; do not close it)
    comm : mpi4py communicator of the run (None when mpi4py is not available)
    fix_id, group : the fix's ID and group name; ``groupbit`` masks ``mask``
    nevery : the fix's N
    args : positional string arguments after ``args``; ``kwargs``: the ``key=value`` ones
    step : current timestep; ``time``: simulation time (ps in metal units)
    nlocal, nghost : owned and ghost atoms on this rank
    x (nlocal+nghost, 3), type, id (atom IDs, owned + ghost), mask : per-atom views
    """

    lmp: Any
    comm: Any
    fix_id: str
    group: str
    groupbit: int
    nevery: int
    args: list[str]
    kwargs: dict[str, str]
    step: int = -1
    time: float = 0.0
    nlocal: int = 0
    nghost: int = 0
    x: np.ndarray | None = None
    type: np.ndarray | None = None
    id: np.ndarray | None = None
    mask: np.ndarray | None = None
    _stop: str | None = field(default=None, repr=False)
    _peratom: np.ndarray | None = field(default=None, repr=False)
    _log: list[str] = field(default_factory=list, repr=False)

    @property
    def rank(self) -> int:
        return 0 if self.comm is None else self.comm.Get_rank()

    @property
    def box(self) -> dict:
        """boxlo, boxhi (A), xy, xz, yz tilts, periodicity: as lammps.extract_box."""
        boxlo, boxhi, xy, yz, xz, periodicity, _ = self.lmp.extract_box()
        return {"boxlo": boxlo, "boxhi": boxhi, "xy": xy, "xz": xz, "yz": yz,
                "periodicity": periodicity}

    def request_stop(self, reason: str) -> None:
        """End the run after this step (all ranks), with ``reason`` in the log."""
        self._stop = str(reason) or "stop requested"

    def log(self, text: str) -> None:
        """A line for LAMMPS' screen and log file (printed by rank 0 only, after the call)."""
        self._log.append(str(text).rstrip("\n") + "\n")

    def set_peratom(self, values) -> None:
        """Per-atom output for the owned atoms (length nlocal), when the fix has peratom."""
        arr = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        if arr.size != self.nlocal:
            raise ValueError(f"set_peratom: {arr.size} values for {self.nlocal} owned atoms")
        self._peratom = arr

    def _refresh(self, step: int, time: float, nlocal: int) -> None:
        npy = self.lmp.numpy
        self.step, self.time = int(step), float(time)
        self.nlocal = nlocal
        self.nghost = int(self.lmp.extract_setting("nghost"))
        nall = nlocal + self.nghost
        self.x = npy.extract_atom("x", nelem=nall, dim=3)
        self.type = npy.extract_atom("type", nelem=nall)
        self.id = npy.extract_atom("id", nelem=nall)
        self.mask = npy.extract_atom("mask", nelem=nall)
        self._stop = None
        self._peratom = None
        self._log = []


class FixCallback:
    """One fix on one rank: the resolved callable and its context."""

    def __init__(self, ctx: FixContext, target: str):
        self.ctx = ctx
        self.target = target
        obj = resolve(target)
        self.instance = _instantiate(obj, ctx) if inspect.isclass(obj) else obj
        if not callable(self.instance):
            raise TypeError(f"{target} is neither callable nor a class with __call__")
        names = getattr(self.instance, "names", None)
        self.nvalues = -1 if names is None else len(names)
        self.ghost_cutoff = float(getattr(self.instance, "ghost_cutoff", -1.0) or -1.0)
        peratom = getattr(self.instance, "peratom", None)
        self.peratom = -1 if peratom is None else int(bool(peratom))

    def __call__(self, step: int, time: float, nvalues: int, nlocal: int):
        self.ctx._refresh(step, time, nlocal)
        result = self.instance(self.ctx)
        values = _as_values(result, nvalues, self.target)
        return values, self.ctx._peratom, self.ctx._stop, "".join(self.ctx._log) or None

    def close(self) -> None:
        closer = getattr(self.instance, "close", None)
        if callable(closer):
            closer()


def _instantiate(cls, ctx: FixContext):
    """cls(ctx), or cls() for a class whose constructor takes no argument."""
    try:
        takes_ctx = len(inspect.signature(cls).parameters) > 0
    except (TypeError, ValueError):    # builtins without a signature
        takes_ctx = True
    return cls(ctx) if takes_ctx else cls()


def resolve(target: str):
    """'package.module:attr.sub' -> the object."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"'{target}' is not module:callable")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _as_values(result, nvalues: int, target: str) -> tuple[float, ...]:
    if result is None:
        values: tuple[float, ...] = ()
    elif np.ndim(result) == 0:
        values = (float(result),)
    else:
        values = tuple(float(v) for v in np.asarray(result, dtype=np.float64).reshape(-1))
    if len(values) != nvalues and not (result is None and nvalues == 0):
        raise ValueError(f"{target} returned {len(values)} values, the fix expects {nvalues} "
                         f"(fix keyword nvalues, or the callable's `names`)")
    return values


def _split_args(args: list[str]) -> tuple[list[str], dict[str, str]]:
    positional, keywords = [], {}
    for a in args:
        key, sep, value = a.partition("=")
        if sep and key.isidentifier():
            keywords[key] = value
        else:
            positional.append(a)
    return positional, keywords


def _run_communicator(lmp):
    try:
        return lmp.get_mpi_comm()
    except Exception:    # no mpi4py: serial callbacks still work
        return None


def _formatted(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).rstrip()


# ---- called from C++ (lammps_plugin/python/python_bridge.cpp); never raise ----

def create(capsule, fix_id: str, group: str, groupbit: int, target: str, nevery: int,
           args: list[str]):
    """-> (callback or None, nvalues, ghost_cutoff, peratom, error text or None)."""
    try:
        from lammps import lammps

        lmp = lammps(ptr=capsule)
        positional, keywords = _split_args(list(args))
        ctx = FixContext(lmp=lmp, comm=_run_communicator(lmp), fix_id=fix_id, group=group,
                         groupbit=int(groupbit), nevery=int(nevery), args=positional,
                         kwargs=keywords)
        cb = FixCallback(ctx, target)
        return cb, cb.nvalues, cb.ghost_cutoff, cb.peratom, None
    except BaseException as exc:    # noqa: BLE001 - reported to LAMMPS, which stops
        return None, -1, -1.0, -1, _formatted(exc)


def invoke(cb: FixCallback, step: int, time: float, nvalues: int, nlocal: int):
    """-> (values, per-atom float64 array or None, stop reason or None, error text or None,
    log text or None)."""
    try:
        values, peratom, stop, log = cb(step, time, nvalues, nlocal)
        return values, peratom, stop, None, log
    except BaseException as exc:    # noqa: BLE001
        return (), None, None, _formatted(exc), None


def destroy(cb: FixCallback):
    """-> None, or the error text of the callback's close()."""
    try:
        cb.close()
        return None
    except BaseException as exc:    # noqa: BLE001
        return _formatted(exc)
