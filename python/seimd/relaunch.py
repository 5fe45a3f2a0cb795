"""`seimd relaunch`: run `lmp -in inputs/sei.in ...` and, when LAMMPS itself dies, continue
from the last restart with half the timestep.

sei.in's own instability guard (a `fix halt` on temperature, lost atoms, NaN energy and
volume) catches a blow-up that develops over a few steps and goes back to the last
restart with a halved timestep inside the same `lmp` process. A blow-up can also kill
LAMMPS before the guard sees it, within one step: "Non-numeric pressure - simulation
unstable", an MPI abort from a pair style, a neighbour-list overflow. This wrapper covers
that case from outside:

    seimd relaunch [--ranks N | --launcher "srun -n 64"] [--max-relaunches 3] -- \\
        -in inputs/sei.in -var data model_I.data -var temperature 400 ...

1. runs the command (``[launcher] lmp ARGS``), its output going straight through (and
   kept, to tell an instability from an input error);
2. exit code 0: done. 2 (sei.in refused its input) and 3 (the guard gave up after its
   own halvings): passed on, nothing to relaunch;
3. a LAMMPS ``ERROR`` that is not an instability (a missing file, a bad species, an
   unknown command: anything but the messages in ``INSTABILITY``) is an input error:
   passed on as exit code 2, no relaunch;
4. any other exit (an instability message, or a crash without one: MPI abort, signal):
   reads PREFIX.log (``-var prefix``, default ``sei``) for the
   last restart that passed the guard and the timestep in force, and runs again with
   ``-var restart LAST -var dt HALF`` (replacing any earlier ``restart``/``dt``). sei.in
   continues such a run in place: the log, dumps and H5MD file are appended to, rows
   after the restart step replaced;
5. at most ``--max-relaunches`` times (default 3), then exits with code 4.

sei.in never overwrites an earlier run's PREFIX.log on a fresh start (it stops with exit
code 2 unless ``-var overwrite yes``), and continuations append to it, so a relaunch never
loses the log it continues from.

The halved timestep is written into the following restart files, so it stays in force.
Units: the timestep in ps (LAMMPS metal units).
"""

from __future__ import annotations

import argparse
import collections
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# sei.in's exit codes that a relaunch must not override
EXIT_BAD_INPUT = 2
EXIT_GUARD_GAVE_UP = 3
EXIT_RELAUNCHES_EXHAUSTED = 4
EXIT_NO_RESTART = 5

# LAMMPS messages of a simulation that blew up (relaunch with half the timestep); any other
# ERROR is a mistake in the input
INSTABILITY = re.compile(
    r"Non-numeric|simulation unstable|Out of range atoms|Lost atoms|Domain too large|"
    r"Too many neighbor|[Nn]eighbor list overflow|Too many atoms|Atom count|neighbor bins|"
    r"\bnan\b|\bNaN\b|\binf\b|\bInf\b|[Ii]nvalid.*box|box.*too (far|large|small)")
_ERROR = re.compile(r"^\s*ERROR(?: on proc \d+)?:\s*(.*)$")


def classify(lines) -> tuple[str, str | None]:
    """("input", message) for a LAMMPS ERROR that is not an instability, ("unstable",
    message) for an instability message, ("crash", None) without any ERROR line."""
    errors = [m.group(1).strip() for line in lines if (m := _ERROR.match(line))]
    if not errors:
        return "crash", None
    for message in errors:
        if INSTABILITY.search(message):
            return "unstable", message
    return "input", errors[-1]


_RESTART = re.compile(r"^SEI: step (\d+) time (\S+) ps: restart (\S+)\s*$")
_SETUP = re.compile(r"^SEI: setup from (\S+) at step (\d+), time (\S+) ps, timestep (\S+) ps")
_GUARD = re.compile(r"^SEI GUARD: step (\d+): .*from (\S+) with timestep (\S+) ps")


@dataclass(frozen=True)
class RunState:
    """What PREFIX.log says about a run that stopped: the last restart that passed the
    guard (its step), and the timestep (ps) in force at the end."""

    restart: str | None
    restart_step: int | None
    timestep_ps: float | None


def read_state(log: Path) -> RunState:
    """Last good restart and current timestep from sei.in's log (PREFIX.log)."""
    restart, step, dt = None, None, None
    if not log.exists():
        return RunState(None, None, None)
    for line in log.read_text(errors="replace").splitlines():
        if m := _RESTART.match(line):
            step, restart = int(m.group(1)), m.group(3)
        elif m := _SETUP.match(line):
            dt = float(m.group(4))
        elif m := _GUARD.match(line):
            dt = float(m.group(3))
    return RunState(restart, step, dt)


def _option(args: list[str], name: str, default: str | None = None) -> str | None:
    """Value of the last `-var NAME VALUE` in an lmp argument list."""
    value = default
    for i, word in enumerate(args[:-2]):
        if word in ("-var", "-v") and args[i + 1] == name:
            value = args[i + 2]
    return value


def _without(args: list[str], names: set[str]) -> list[str]:
    """The lmp arguments without their `-var NAME VALUE` for NAME in names."""
    out, i = [], 0
    while i < len(args):
        if args[i] in ("-var", "-v") and i + 2 < len(args) and args[i + 1] in names:
            i += 3
            continue
        out.append(args[i])
        i += 1
    return out


def relaunch(lmp_args: list[str], launcher: list[str], lmp: str = "lmp",
             max_relaunches: int = 3, workdir: Path | None = None) -> int:
    """Run `launcher + [lmp] + lmp_args`, relaunching after crashes (module docstring).
    Returns the exit code for the caller."""
    workdir = Path(workdir or ".")
    prefix = _option(lmp_args, "prefix", "sei")
    log = workdir / f"{prefix}.log"
    args = list(lmp_args)
    for attempt in range(max_relaunches + 1):
        cmd = launcher + [lmp] + args
        print(f"seimd relaunch: {shlex.join(cmd)}", flush=True)
        rc, tail = _run_teed(cmd, workdir)
        if rc == 0:
            return 0
        if rc in (EXIT_BAD_INPUT, EXIT_GUARD_GAVE_UP):
            print(f"seimd relaunch: lmp exited with code {rc} (sei.in: "
                  f"{'bad input' if rc == EXIT_BAD_INPUT else 'the guard gave up'}); "
                  "not relaunching", flush=True)
            return rc
        kind, message = classify(tail)
        if kind == "input":
            print(f"seimd relaunch: lmp stopped on an input error, not an instability "
                  f"({message}); not relaunching", flush=True)
            return EXIT_BAD_INPUT
        state = read_state(log)
        if state.restart is None or state.timestep_ps is None:
            print(f"seimd relaunch: lmp exited with code {rc} and {log} names no restart "
                  "that passed the guard: nothing to continue from", flush=True)
            return EXIT_NO_RESTART
        if attempt == max_relaunches:
            print(f"seimd relaunch: lmp exited with code {rc}; giving up after "
                  f"{max_relaunches} relaunches (timestep {state.timestep_ps:g} ps)", flush=True)
            return EXIT_RELAUNCHES_EXHAUSTED
        dt = 0.5 * state.timestep_ps
        print(f"seimd relaunch: lmp exited with code {rc}; relaunch {attempt + 1}/"
              f"{max_relaunches} from {state.restart} (step {state.restart_step}) with "
              f"timestep {dt:.10g} ps", flush=True)
        args = _without(args, {"restart", "dt"}) + ["-var", "restart", state.restart,
                                                    "-var", "dt", f"{dt:.10g}"]
    return EXIT_RELAUNCHES_EXHAUSTED       # not reached


def _run_teed(cmd: list[str], workdir: Path) -> tuple[int, list[str]]:
    """Runs `cmd`, copying its output (stdout and stderr) to ours line by line; returns the
    exit code and the last lines of output."""
    tail: collections.deque[str] = collections.deque(maxlen=500)
    try:
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
    except OSError as exc:
        raise SystemExit(f"seimd relaunch: cannot run {cmd[0]}: {exc.strerror or exc}") from None
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        tail.append(line.rstrip("\n"))
    sys.stdout.flush()
    return proc.wait(), list(tail)


def _run(ns: argparse.Namespace) -> int:
    lmp_args = list(ns.lmp_args)
    if lmp_args and lmp_args[0] == "--":
        lmp_args = lmp_args[1:]
    if not lmp_args:
        raise SystemExit("seimd relaunch: give the lmp arguments after --, e.g. "
                         "seimd relaunch -- -in inputs/sei.in -var data model.data")
    if ns.max_relaunches < 0:
        raise SystemExit("seimd relaunch: --max-relaunches must be >= 0")
    if ns.launcher and ns.ranks:
        raise SystemExit("seimd relaunch: give --ranks or --launcher, not both")
    if ns.launcher:
        launcher = shlex.split(ns.launcher)
    elif ns.ranks and ns.ranks > 1:
        mpiexec = shutil.which("mpiexec")
        if mpiexec is None:
            raise SystemExit("seimd relaunch: --ranks needs mpiexec on PATH")
        launcher = [mpiexec, "-n", str(ns.ranks)]
    else:
        launcher = []
    lmp = shutil.which(ns.lmp) or ns.lmp
    return relaunch(lmp_args, launcher, lmp=lmp, max_relaunches=ns.max_relaunches)


def add_relaunch_subcommand(sub) -> None:
    p = sub.add_parser(
        "relaunch", help="run lmp -in sei.in, continuing after a crash with half the timestep",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, default=0, help="MPI ranks (mpiexec -n N; default: none)")
    p.add_argument("--launcher", default="",
                   help='MPI launcher command instead of mpiexec, e.g. "srun -n 64"')
    p.add_argument("--max-relaunches", type=int, default=3,
                   help="relaunches after crashes before giving up with exit code 4 (default 3)")
    p.add_argument("--lmp", default="lmp", help="LAMMPS executable (default: lmp on PATH)")
    p.add_argument("lmp_args", nargs=argparse.REMAINDER,
                   help="-- then the lmp arguments (-in inputs/sei.in -var NAME VALUE ...)")
    p.set_defaults(func=_run)
