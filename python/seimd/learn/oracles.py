"""Oracles: what labels the selected configurations, behind one small interface.

An :class:`Oracle` turns an ``ase.Atoms`` into labels: energy (eV), forces (eV/A) and,
for periodic cells when asked, the stress (eV/A^3, ASE Voigt order xx yy zz yz xz xy).
Every kind is an ASE calculator underneath:

``sevennet``  SevenNet-0 (``sevenn``, weights inside the wheel, CPU; the ``oracle`` extra;
              install ``torch==2.13.0`` first). settings: ``model`` (default "7net-0"),
              ``device`` ("cpu").
``gpaw``      PBE in plane waves with GPAW (PyPI ``gpaw`` + ``gpaw-data``). Defaults from
              docs/oracles.md, measured for Li metal + Li6PS5Cl cells: ``ecut``
              400 eV, Fermi-Dirac ``smearing`` 0.05 eV (metallic Li; also harmless for the
              gapped sulfide), ``kpts`` [1, 1, 1] (Gamma; use cells of >= ~10 A), ``xc``
              "PBE", ``maxiter`` 300 SCF iterations, ``mixer`` {beta, nmaxold, weight}
              (default GPAW's), ``txt`` (a log per task in the iteration folder).
              With ``oracle.ranks_per_task`` > 1 a task runs on a GPAW communicator of
              that many ranks.
``cp2k``      PBE with CP2K through ASE's shell interface (Debian ``cp2k``): GTH-PBE
              pseudopotentials, DZVP-MOLOPT-SR-GTH, ``cutoff`` 400 Ry, diagonalisation with
              Fermi-Dirac ``smearing`` 0.05 eV (580 K) and Broyden mixing (OT was 3.6x slower
              for these metallic cells), ``added_mos`` 200, ``max_scf`` 200, ``command``
              (default: $ASE_CP2K_COMMAND or the first of cp2k.psmp/ssmp/popt/sopt/cp2k
              found, with ``-s``). CP2K stops on an unconverged SCF (IGNORE_CONVERGENCE_
              FAILURE is not set), which becomes a recorded failure.
``mtp``       a known MTP (the teacher of the tests): settings ``potential`` (.mtp path).
``ase``       any ASE calculator: settings ``calculator`` = "package.module:factory" or
              "path/to/file.py:factory", ``kwargs`` = a table passed to the factory.

Failures (:func:`label_with_retries`): an exception (e.g. GPAW's KohnShamConvergenceError,
a CP2K crash), a timeout (``oracle.timeout`` seconds, SIGALRM in the main thread), or
labels that are not finite or have a force component above ``oracle.max_force``, are
retried ``oracle.retries`` times with a fresh calculator, then the configuration is
skipped; the reason of every attempt is returned and recorded in the manifest and log.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

__all__ = ["Oracle", "OracleError", "OracleTimeout", "LabelOutcome", "make_oracle",
           "label_with_retries", "cp2k_command", "gpaw_available"]

EV_PER_RY = 13.605693122994


class OracleError(RuntimeError):
    """A failed labelling attempt (the message is the recorded reason)."""


class OracleTimeout(OracleError):
    pass


class Oracle:
    """Base class: ``label(atoms, stress) -> {"energy", "forces"[, "stress"]}``.

    Subclasses implement :meth:`make_calculator`; the calculator is reused between calls
    unless ``fresh_calculator`` is True (GPAW, whose state follows one system), and rebuilt
    after a failure (:meth:`reset`).
    """

    name = "oracle"
    fresh_calculator = False

    def __init__(self, settings: dict | None = None, threads: int = 1, comm=None,
                 logdir: str | os.PathLike | None = None) -> None:
        self.settings = dict(settings or {})
        self.threads = max(int(threads), 1)
        self.comm = comm
        self.logdir = Path(logdir) if logdir else None
        self._calc: Calculator | None = None

    # -- to implement
    def make_calculator(self, task: str) -> Calculator:
        raise NotImplementedError

    def check_available(self) -> None:
        """Raise :class:`OracleError` now if no call can succeed (package or program missing,
        settings incomplete), so a run stops before any MD instead of failing every label.
        Cheap: finds what is needed without loading models or starting programs."""

    def describe(self) -> str:
        return self.name

    # -- used by the loop
    def calculator(self, task: str) -> Calculator:
        if self._calc is None or self.fresh_calculator:
            self.reset()
            self._calc = self.make_calculator(task)
        return self._calc

    def reset(self) -> None:
        calc, self._calc = self._calc, None
        close = getattr(calc, "close", None) if calc is not None else None
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001 (a broken calculator may fail to close)
                pass

    def label(self, atoms: Atoms, stress: bool = True, task: str = "") -> dict:
        """Energy (eV), forces (N, 3; eV/A) and, if asked and periodic, stress (6; eV/A^3)."""
        work = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions,
                     cell=atoms.cell.array, pbc=atoms.pbc)
        calc = self.calculator(task)
        reset = getattr(calc, "reset", None)
        if callable(reset) and not self.fresh_calculator:
            reset()                          # never hand back results cached from a failed try
        work.calc = calc
        out = {"energy": float(work.get_potential_energy()),
               "forces": np.array(work.get_forces(), dtype=float)}
        if stress and all(work.pbc) and work.cell.rank == 3:
            out["stress"] = np.array(work.get_stress(voigt=True), dtype=float)
        return out


# --------------------------------------------------------------------------- kinds


class MTPOracle(Oracle):
    """A known MTP as the oracle (teacher-student tests)."""

    name = "mtp"

    def make_calculator(self, task: str) -> Calculator:
        from seimd.mtp.calculator import MTPCalculator

        potential = self.settings.get("potential")
        if not potential:
            raise OracleError("oracle kind mtp needs settings.potential (an .mtp file)")
        return MTPCalculator(str(potential), threads=self.threads)

    def check_available(self) -> None:
        potential = self.settings.get("potential")
        if not potential:
            raise OracleError("oracle kind mtp needs settings.potential (an .mtp file)")
        if not Path(str(potential)).is_file():
            raise OracleError(f"oracle kind mtp: settings.potential = {potential}: no such file")

    def describe(self) -> str:
        return f"mtp:{Path(str(self.settings.get('potential', '?'))).name}"


_SEVENNET_CACHE: dict[tuple, Calculator] = {}


class SevenNetOracle(Oracle):
    """SevenNet-0 (offline weights in the ``sevenn`` wheel; see docs/oracles.md)."""

    name = "sevennet"

    def make_calculator(self, task: str) -> Calculator:
        try:
            import torch
        except ImportError as exc:
            raise OracleError(f"oracle kind sevennet needs torch and sevenn: pip install "
                              f"torch==2.13.0 && pip install 'seimd[oracle]' ({exc})") from None
        torch.set_num_threads(self.threads)
        model = str(self.settings.get("model", "7net-0"))
        device = str(self.settings.get("device", "cpu"))
        key = (model, device)
        if key not in _SEVENNET_CACHE:           # loading the model takes seconds: once
            try:
                from sevenn.calculator import SevenNetCalculator
            except ImportError:
                try:
                    from sevenn.sevennet_calculator import SevenNetCalculator
                except ImportError as exc:
                    raise OracleError(f"oracle kind sevennet needs sevenn: pip install "
                                      f"'seimd[oracle]' ({exc})") from None
            _SEVENNET_CACHE[key] = SevenNetCalculator(model, device=device)
        return _SEVENNET_CACHE[key]

    def check_available(self) -> None:
        missing = [m for m in ("torch", "sevenn") if importlib.util.find_spec(m) is None]
        if missing:
            raise OracleError(f"oracle kind sevennet needs {' and '.join(missing)}, not "
                              f"importable here: pip install torch==2.13.0 && pip install "
                              f"'seimd[oracle]'")

    def reset(self) -> None:
        self._calc = None                        # the cached model stays valid

    def describe(self) -> str:
        return f"sevennet:{self.settings.get('model', '7net-0')}"


def gpaw_available() -> bool:
    return importlib.util.find_spec("gpaw") is not None


def gpaw_mpi_backend() -> None:
    """GPAW >= 25 refuses to start under mpiexec unless told which MPI to use: seimd runs
    on mpi4py's, so GPAW should too (GPAW_MPI_BACKEND=mpi4py; an existing setting wins).
    ASE's plugin discovery imports ``gpaw`` (which reads the variable) as soon as ASE is
    imported, so the choice is also set on the module, as long as GPAW has not picked its
    MPI yet (``gpaw.mpi`` not imported)."""
    import sys

    backend = os.environ.setdefault("GPAW_MPI_BACKEND", "mpi4py")
    module = sys.modules.get("gpaw")
    if (module is not None and getattr(module, "GPAW_MPI_BACKEND", None) is None
            and "gpaw.mpi" not in sys.modules):
        module.GPAW_MPI_BACKEND = backend


class GPAWOracle(Oracle):
    """PBE plane waves with GPAW, settings measured for Li | Li6PS5Cl cells (module doc)."""

    name = "gpaw"
    fresh_calculator = True

    def make_calculator(self, task: str) -> Calculator:
        gpaw_mpi_backend()
        try:
            from gpaw import GPAW, PW, FermiDirac
        except ImportError as exc:
            raise OracleError(f"oracle kind gpaw needs GPAW: pip install gpaw gpaw-data "
                              f"({exc})") from None
        s = self.settings
        kwargs: dict[str, Any] = dict(
            mode=PW(float(s.get("ecut", 400.0))),
            xc=str(s.get("xc", "PBE")),
            kpts=_kpts(s.get("kpts", [1, 1, 1])),
            occupations=FermiDirac(float(s.get("smearing", 0.05))),
            maxiter=int(s.get("maxiter", 300)),
            txt=self._txt(task, s.get("txt", True)),
        )
        if "mixer" in s:
            from gpaw import Mixer

            m = dict(s["mixer"])
            kwargs["mixer"] = Mixer(float(m.get("beta", 0.05)), int(m.get("nmaxold", 5)),
                                    float(m.get("weight", 50.0)))
        if "convergence" in s:
            kwargs["convergence"] = dict(s["convergence"])
        kwargs["communicator"] = self.comm if self.comm is not None else _gpaw_serial_comm()
        return GPAW(**kwargs)

    def check_available(self) -> None:
        if not gpaw_available():
            raise OracleError("oracle kind gpaw needs GPAW, not importable here: pip install "
                              "gpaw gpaw-data")

    def _txt(self, task: str, txt):
        if txt is False or txt is None or self.logdir is None:
            return None
        self.logdir.mkdir(parents=True, exist_ok=True)
        return str(self.logdir / f"gpaw-{task.replace(':', '-') or 'call'}.txt")

    def describe(self) -> str:
        s = self.settings
        return (f"gpaw:PBE,PW{float(s.get('ecut', 400.0)):g}eV,FD{float(s.get('smearing', 0.05)):g}eV,"
                f"k{'x'.join(str(k) for k in s.get('kpts', [1, 1, 1]))}")


def _gpaw_serial_comm():
    from gpaw.mpi import serial_comm

    return serial_comm


def _kpts(value):
    if isinstance(value, dict):
        return dict(value)
    return tuple(int(k) for k in value)


def cp2k_command(settings: dict | None = None) -> str | None:
    """The CP2K shell command: settings.command, $ASE_CP2K_COMMAND, or a cp2k binary + -s."""
    settings = settings or {}
    if settings.get("command"):
        return str(settings["command"])
    if os.environ.get("ASE_CP2K_COMMAND"):
        return os.environ["ASE_CP2K_COMMAND"]
    for name in ("cp2k.psmp", "cp2k.ssmp", "cp2k.popt", "cp2k.sopt", "cp2k"):
        exe = shutil.which(name)
        if exe:
            return f"{exe} -s"
    for name in ("cp2k_shell.psmp", "cp2k_shell.ssmp", "cp2k_shell.popt", "cp2k_shell"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


class CP2KOracle(Oracle):
    """PBE/GTH/DZVP-MOLOPT-SR with CP2K (ASE shell interface), smeared diagonalisation."""

    name = "cp2k"

    def make_calculator(self, task: str) -> Calculator:
        from ase.calculators.cp2k import CP2K

        s = self.settings
        command = cp2k_command(s)
        if command is None:
            raise OracleError("oracle kind cp2k: no CP2K found (apt-get install cp2k, or set "
                              "settings.command / $ASE_CP2K_COMMAND)")
        if self.threads and "OMP_NUM_THREADS" not in command:
            command = f"env OMP_NUM_THREADS={self.threads} {command}"
        kelvin = float(s.get("smearing", 0.05)) / 8.617333262e-5
        inp = f"""&FORCE_EVAL
  &DFT
    &SCF
      ADDED_MOS {int(s.get('added_mos', 200))}
      EPS_SCF {float(s.get('eps_scf', 1e-6)):g}
      &DIAGONALIZATION
        ALGORITHM STANDARD
      &END DIAGONALIZATION
      &SMEAR ON
        METHOD FERMI_DIRAC
        ELECTRONIC_TEMPERATURE [K] {kelvin:.1f}
      &END SMEAR
      &MIXING
        METHOD BROYDEN_MIXING
        ALPHA {float(s.get('mixing_alpha', 0.2)):g}
        NBROYDEN 8
      &END MIXING
    &END SCF
  &END DFT
&END FORCE_EVAL
"""
        label = "cp2k"
        if self.logdir is not None:
            self.logdir.mkdir(parents=True, exist_ok=True)
            label = str(self.logdir / "cp2k")
        return CP2K(command=command, label=label, xc=str(s.get("xc", "PBE")),
                    cutoff=float(s.get("cutoff", 400.0)) * EV_PER_RY,
                    basis_set=str(s.get("basis_set", "DZVP-MOLOPT-SR-GTH")),
                    pseudo_potential=str(s.get("pseudo_potential", "GTH-PBE")),
                    max_scf=int(s.get("max_scf", 200)), inp=inp,
                    stress_tensor=bool(s.get("stress_tensor", True)))

    def check_available(self) -> None:
        if cp2k_command(self.settings) is None:
            raise OracleError("oracle kind cp2k: no CP2K found (apt-get install cp2k, or set "
                              "settings.command / $ASE_CP2K_COMMAND)")

    def describe(self) -> str:
        return f"cp2k:PBE,{self.settings.get('basis_set', 'DZVP-MOLOPT-SR-GTH')}," \
               f"{float(self.settings.get('cutoff', 400.0)):g}Ry"


class ASEOracle(Oracle):
    """A user-supplied ASE calculator: settings calculator = "module:factory" (or
    "file.py:factory") and kwargs = {...} given to the factory."""

    name = "ase"

    def make_calculator(self, task: str) -> Calculator:
        spec = self.settings.get("calculator")
        if not spec:
            raise OracleError("oracle kind ase needs settings.calculator = 'module:factory'")
        factory = import_object(str(spec))
        calc = factory(**dict(self.settings.get("kwargs", {})))
        if not isinstance(calc, Calculator) and not hasattr(calc, "get_potential_energy"):
            raise OracleError(f"{spec} returned {type(calc).__name__}, not an ASE calculator")
        return calc

    def check_available(self) -> None:
        spec = self.settings.get("calculator")
        if not spec:
            raise OracleError("oracle kind ase needs settings.calculator = 'module:factory'")
        if not callable(import_object(str(spec))):
            raise OracleError(f"calculator {spec!r} is not callable")

    def describe(self) -> str:
        return f"ase:{self.settings.get('calculator', '?')}"


def import_object(spec: str) -> Callable:
    """``package.module:name`` or ``path/to/file.py:name``."""
    if ":" not in spec:
        raise OracleError(f"calculator {spec!r}: expected 'module:factory' or 'file.py:factory'")
    where, name = spec.rsplit(":", 1)
    try:
        if where.endswith(".py"):
            path = Path(where).resolve()
            modname = f"seimd_user_oracle_{abs(hash(str(path)))}"
            module_spec = importlib.util.spec_from_file_location(modname, path)
            if module_spec is None or module_spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
        return getattr(module, name)
    except (ImportError, AttributeError, FileNotFoundError) as exc:
        raise OracleError(f"calculator {spec!r}: {type(exc).__name__}: {exc}") from None


KINDS: dict[str, type[Oracle]] = {"mtp": MTPOracle, "sevennet": SevenNetOracle,
                                  "gpaw": GPAWOracle, "cp2k": CP2KOracle, "ase": ASEOracle}


def make_oracle(kind: str, settings: dict | None = None, threads: int = 1, comm=None,
                logdir: str | os.PathLike | None = None) -> Oracle:
    """An oracle of a kind (``oracle.kind``) with its ``oracle.settings``."""
    try:
        cls = KINDS[kind]
    except KeyError:
        raise OracleError(f"unknown oracle kind {kind!r} (known: {', '.join(KINDS)})") from None
    return cls(settings, threads=threads, comm=comm, logdir=logdir)


# --------------------------------------------------------------------------- failures


@dataclass
class LabelOutcome:
    """The result of labelling one configuration, with every failed attempt's reason."""

    ok: bool
    labels: dict | None = None
    reason: str = ""
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def check_labels(labels: dict, n_atoms: int, max_force: float) -> None:
    """Raise :class:`OracleError` for labels a potential must not be trained on."""
    e = labels.get("energy")
    if e is None or not np.isfinite(e):
        raise OracleError(f"energy is not finite ({e})")
    f = np.asarray(labels.get("forces"))
    if f.shape != (n_atoms, 3) or not np.all(np.isfinite(f)):
        raise OracleError(f"forces are missing or not finite (shape {f.shape})")
    if max_force > 0 and np.abs(f).max() > max_force:
        raise OracleError(f"largest force component {np.abs(f).max():.3g} eV/A exceeds "
                          f"oracle.max_force = {max_force:g} eV/A (unphysical label)")
    if "stress" in labels and not np.all(np.isfinite(labels["stress"])):
        raise OracleError("stress is not finite")


class _Alarm:
    """A wall-clock limit for the current call: SIGALRM raises :class:`OracleTimeout`
    (main thread only; elsewhere no limit is enforced)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = seconds > 0 and threading.current_thread() is threading.main_thread()

    def _fire(self, signum, frame):
        raise OracleTimeout(f"timeout after {self.seconds:g} s")

    def __enter__(self):
        if self.active:
            self._old = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
        return False


def label_with_retries(oracle: Oracle, atoms: Atoms, *, stress: bool = True, retries: int = 2,
                       timeout: float = 0.0, max_force: float = 50.0,
                       task: str = "") -> LabelOutcome:
    """Label ``atoms``: up to ``1 + retries`` attempts, each limited to ``timeout`` seconds.

    Never raises for oracle failures: the outcome carries ``ok`` and every reason.
    """
    t0 = time.perf_counter()
    errors: list[str] = []
    for attempt in range(1, retries + 2):
        try:
            with _Alarm(timeout):
                labels = oracle.label(atoms, stress=stress, task=task)
            check_labels(labels, len(atoms), max_force)
            return LabelOutcome(True, labels, "", attempt, errors, time.perf_counter() - t0)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 (every oracle failure is recorded)
            errors.append(f"attempt {attempt}: {type(exc).__name__}: {_short(exc)}")
            oracle.reset()
    return LabelOutcome(False, None, errors[-1] if errors else "unknown", retries + 1, errors,
                        time.perf_counter() - t0)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."
