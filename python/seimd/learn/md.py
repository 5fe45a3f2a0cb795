"""The exploration MD of one iteration: a LAMMPS input run in-process on the loop's communicator.

Why in-process (``seimd.lmp.open_lammps(comm=...)``) and not ``mpiexec lmp`` in a
subprocess: under ``mpiexec -n N seimd learn`` the N ranks already exist, and a process
started by mpiexec cannot portably start another mpiexec (MPICH's hydra refuses nested
launches, and a singleton ``lmp`` would run on one core while N-1 ranks idle). In-process,
the MD runs on all N ranks of the same communicator, the plugin is already loaded, and
nothing has to be re-initialised between iterations. The cost: a LAMMPS error that
aborts (``error->one``) takes the whole job down, which the manifest makes harmless
(the MD phase is simply rerun from the same restart when the command is run again).

The input (default ``inputs/learn_md.in``) gets these -var (strings) and must honour them:

``data`` / ``restart``  start from a data file, or (``restart`` given) from a restart file
``potential``, ``als``, ``species``  the current MTP, its active set, pair_coeff entries
``steps``               timesteps to run in this call
``grade_every``, ``grade_save``, ``grade_break``, ``save_mode``  pair_style mtp keywords
``restart_every``       chunk length; ``${prefix}.restart`` after each finished chunk
``seed``                velocity seed on a fresh start
``prefix``              output prefix (absolute): ``${prefix}.extrapolative.cfg`` (grade_save),
                        ``${prefix}.grades`` (lines "step max_grade"), ``${prefix}.restart``

and print ``LEARN: break|guard|finished step N`` lines to its log (``${prefix}.log``).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["MDResult", "run_md", "parse_md_outputs"]


@dataclass
class MDResult:
    """What one exploration run did (JSON-able via :func:`dataclasses.asdict`)."""

    name: str
    status: str = "error"
    """finished (ran all steps), break (grade > break threshold), guard (blow-up stopped
    it), or error (LAMMPS failed; message in ``error``)."""
    start: str = ""
    """the data or restart file it started from"""
    first_step: int = -1
    last_step: int = -1
    max_grade: float = float("nan")
    """largest grade of all grading steps (the break step included)"""
    saved: int = 0
    """configurations (or neighbourhoods) saved above the save threshold"""
    restart: str = ""
    """restart file written by this run ("" if none: the run broke in its first chunk)"""
    natoms: int = 0
    error: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def run_md(*, name: str, input_path: str, prefix: Path, data: str, restart: str,
           potential: str, als: str, species: str, steps: int, grade_every: int,
           grade_save: float, grade_break: float, save_mode: str, restart_every: int,
           seed: int, extra_vars: dict[str, str], threads: int = 1, comm=None) -> MDResult:
    """Run the exploration input once (collective over ``comm``); every rank gets the result."""
    t0 = time.perf_counter()
    rank = comm.Get_rank() if comm is not None else 0
    prefix = Path(prefix)
    if rank == 0:
        prefix.parent.mkdir(parents=True, exist_ok=True)
        for old in prefix.parent.glob(prefix.name + ".*"):   # a rerun starts clean
            old.unlink()
    if comm is not None:
        comm.Barrier()
    variables = {
        **{k: str(v) for k, v in extra_vars.items()},
        "data": data, "potential": potential, "als": als,
        "species": species, "steps": str(steps), "grade_every": str(grade_every),
        "grade_save": repr(float(grade_save)), "grade_break": repr(float(grade_break)),
        "save_mode": save_mode, "restart_every": str(restart_every), "seed": str(seed),
        "prefix": str(prefix),
    }
    if restart:
        variables["restart"] = restart            # absent: a fresh start from data
    for key, value in variables.items():
        if any(c.isspace() for c in value) and key != "species":
            raise ValueError(f"md: -var {key} {value!r} contains whitespace (LAMMPS would split "
                             f"it); use paths without spaces")
    args = ["-log", f"{prefix}.log", "-screen", "none", "-nocite"]
    for key, value in variables.items():
        args += ["-var", key, value]        # one argument: "Li P S Cl" stays one value
    os.environ["OMP_NUM_THREADS"] = str(max(int(threads), 1))
    from seimd.lmp import open_lammps

    error, natoms = "", 0
    lmp = None
    try:
        lmp = open_lammps(args, comm=comm)
        lmp.file(str(input_path))
        natoms = int(lmp.get_natoms())
    except Exception as exc:  # noqa: BLE001 (LAMMPS errors end the run, not the loop)
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}"
    finally:
        if lmp is not None:
            try:
                lmp.close()
            except Exception:  # noqa: BLE001
                pass
    result = None
    if rank == 0:
        result = parse_md_outputs(name, prefix)
        result.start = restart or data
        result.natoms = natoms
        if error:
            result.status, result.error = "error", error
        result.seconds = time.perf_counter() - t0
    if comm is not None:
        result = comm.bcast(result, root=0)
    return result


_LEARN = re.compile(r"^LEARN: (\w+) step (-?\d+)")


def parse_md_outputs(name: str, prefix: Path) -> MDResult:
    """Read ``PREFIX.log`` (LEARN: lines), ``PREFIX.grades`` and ``PREFIX.extrapolative.cfg``."""
    prefix = Path(prefix)
    out = MDResult(name=name)
    log = Path(f"{prefix}.log")
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("ERROR") and not out.error:
                out.error = line.strip()
            m = _LEARN.match(line)
            if not m:
                continue
            what, step = m.group(1), int(m.group(2))
            if what == "begin":
                out.first_step = step
            elif what in ("break", "guard", "finished"):
                out.status, out.last_step = what, step
        if out.status == "error" and not out.error:
            out.error = "the input ended without a LEARN: break|guard|finished line"
    grades = Path(f"{prefix}.grades")
    if grades.exists():
        values = []
        for line in grades.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("#"):
                try:
                    values.append(float(parts[1]))
                except ValueError:
                    pass
        if values:
            out.max_grade = max(values)
    saved = Path(f"{prefix}.extrapolative.cfg")
    if saved.exists():
        out.saved = saved.read_text().count("BEGIN_CFG")
    restart = Path(f"{prefix}.restart")
    out.restart = str(restart) if restart.exists() else ""
    return out
