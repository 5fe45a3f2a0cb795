"""``seimd learn CONFIG`` (run or resume) and ``seimd learn status CONFIG``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_learn_subcommand"]

DESCRIPTION = """\
In-situ active learning of an MTP: exploration MD with extrapolation grades -> harvest of
extrapolative configurations -> MaxVol selection -> oracle labels -> retraining -> new
active set -> MD goes on from its last restart, until an iteration at the final thresholds
selects nothing (converged) or stop.max_iterations.

  seimd learn CONFIG.toml                   run, or resume after a kill (same command)
  mpiexec -n N seimd learn CONFIG.toml      MD, labelling and training on N ranks
  seimd learn status CONFIG.toml            where the run stands
  seimd learn status PREFIX[.learn]         the same for a production run with -var learn
                                            (lmp -in inputs/sei.in; inputs/README.md)
  seimd learn defaults                      print every key with its default

Run from the directory the config's relative paths refer to (the repository root for
inputs/learn.toml). Units: eV, Angstrom, eV/A, ps, K, bar; wall times in s.
"""


def add_learn_subcommand(subparsers) -> argparse.ArgumentParser:
    """Add ``learn`` to the ``seimd`` command's subparsers."""
    from .config import key_reference

    p = subparsers.add_parser(
        "learn", help="active learning: MD -> grades -> selection -> oracle -> retraining",
        usage="seimd learn [-h] [--allow-changes] [--quiet] [status] CONFIG | defaults",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="CONFIG keys (TOML; section, key = default):\n\n" + key_reference())
    p.add_argument("words", nargs="+", metavar="ARG",
                   help="CONFIG (a TOML file) to run or resume it, `status CONFIG` to show "
                   "where it stands, `defaults` to print every key")
    p.add_argument("--allow-changes", action="store_true",
                   help="resume although keys that change results differ from the run's start")
    p.add_argument("--quiet", action="store_true", help="write learn.log only (no stdout lines)")
    p.set_defaults(func=_learn_command)
    return p


def _learn_command(args: argparse.Namespace) -> int:
    from .config import ConfigError, key_reference, load_config

    words = list(args.words)
    verb = "run"
    if words[0] in ("status", "defaults", "run"):
        verb = words.pop(0)
    if verb == "defaults":
        print(key_reference())
        return 0
    if len(words) != 1:
        raise SystemExit("usage: seimd learn [status] CONFIG.toml")
    if verb == "status" and _run_directory(words[0]) is not None:
        from .status import workdir_status

        print(workdir_status(_run_directory(words[0])))
        return 0
    try:
        cfg = load_config(words[0])
    except ConfigError as exc:
        raise SystemExit(f"seimd learn: {exc}") from None
    if verb == "status":
        from .status import status_text

        print(status_text(cfg))
        return 0
    from .preflight import SetupError, check_setup

    try:
        check_setup(cfg)                             # before any MD: exit code 2
    except SetupError as exc:
        raise SystemExit(f"seimd learn: {exc}") from None
    from .loop import LearnError, mpi_comm, run_learning
    from .store import StoreError

    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):                   # `kill -USR1 PID` prints where it is
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    comm = mpi_comm()
    try:
        state = run_learning(cfg, comm, allow_changes=args.allow_changes, quiet=args.quiet)
    except (LearnError, StoreError) as exc:
        if comm is None or comm.Get_rank() == 0:
            print(f"seimd learn: {exc}", file=sys.stderr)
        return 2
    except BaseException:
        if comm is None:
            raise
        import traceback                           # one rank failed: take the others down
        traceback.print_exc()                      # instead of leaving them in a collective
        sys.stderr.flush()
        comm.Abort(1)
    return {"converged": 0, "stopped": 3, "failed": 4}.get(state, 1)


def _run_directory(word: str):
    """A run directory given to ``status``: a folder with a manifest.json, or PREFIX of a
    production run (PREFIX.learn exists); None when ``word`` is a config file."""
    from pathlib import Path

    p = Path(word)
    for d in (p, Path(f"{word}.learn")):
        if d.is_dir() and (d / "manifest.json").exists():
            return d
    return None
