"""`pair_style mtp` inside LAMMPS against the Python side (same C++ kernel, and the
independent NumPy evaluator): the `lammps` module, the `lmp` executable, MPI ranks,
OpenMP threads, energy conservation, and the error messages for bad input."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from conftest import ELEMENTS, lmp_executable, mpiexec_executable, random_potential, single_thread_env
from lammps_runs import run_executable, run_module
from seimd.lmp import lammps_frame, write_data
from seimd.mtp.calculator import MTPCalculator
from seimd.mtp.model import MTP
from seimd.mtp.reference import ReferenceCalculator
from seimd.structures import bcc_li, lpsc_ordered
from structures_for_tests import primitive_bcc, tiny_bcc, triclinic_lpsc


def relative_gap(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(b))))


def python_results(mtp, atoms) -> dict:
    atoms = atoms.copy()
    atoms.calc = MTPCalculator(mtp, type_map=ELEMENTS, threads=1)
    return {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
            "site_energies": atoms.get_potential_energies(),
            "virial": atoms.calc.results["virial"]}


def prepare(tmp_path, mtp: MTP, atoms, name="case"):
    """Potential file, data file (LAMMPS frame) and the frame-rotated atoms."""
    pot = tmp_path / f"{name}.mtp"
    mtp.write(pot)
    frame = lammps_frame(atoms)
    data = tmp_path / f"{name}.data"
    species = ELEMENTS[: mtp.species_count]
    write_data(data, frame, species)
    return pot, data, frame, species


def assert_same(lmp: dict, py: dict, tol: float) -> None:
    assert abs(lmp["energy"] - py["energy"]) <= tol * max(1.0, abs(py["energy"]))
    assert relative_gap(lmp["forces"], py["forces"]) <= tol
    assert relative_gap(lmp["site_energies"], py["site_energies"]) <= tol
    # LAMMPS' pressure tensor is symmetric; the per-pair virial sum is too up to roundoff.
    sym = 0.5 * (py["virial"] + py["virial"].T)
    assert relative_gap(lmp["virial"], sym) <= tol


CASES = {
    "l08-4species-triclinic": (8, 4, triclinic_lpsc),
    "l16-3species-triclinic": (16, 3, triclinic_lpsc),
    "l16-1species-tiny": (16, 1, tiny_bcc),
    "l08-1species-primitive": (8, 1, lambda rng, s=1: primitive_bcc(rng)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_lammps_module_matches_python(case, tmp_path, rng):
    level, species, geometry = CASES[case]
    mtp = random_potential(level, species, seed=level + species)
    pot, data, frame, symbols = prepare(tmp_path, mtp, geometry(rng, species))
    py = python_results(mtp, frame)
    # Species given as element symbols (the file declares them) ...
    assert_same(run_module(data, pot, symbols), py, 1e-9)
    # ... and as 0-based indices: the same numbers.
    by_index = run_module(data, pot, [str(s) for s in range(species)])
    assert by_index["energy"] == py["energy"] or abs(by_index["energy"] - py["energy"]) < 1e-9 * abs(py["energy"])


@pytest.mark.parametrize("case", ["l08-4species-triclinic", "l16-1species-tiny"])
def test_lmp_executable_matches_python_and_numpy(case, tmp_path, rng):
    level, species, geometry = CASES[case]
    mtp = random_potential(level, species, seed=level * 3 + species)
    pot, data, frame, symbols = prepare(tmp_path, mtp, geometry(rng, species))
    lmp = run_executable(tmp_path, data, pot, symbols)
    assert_same(lmp, python_results(mtp, frame), 1e-9)
    ref = frame.copy()
    ref.calc = ReferenceCalculator(mtp, type_map=ELEMENTS)
    assert abs(lmp["energy"] - ref.get_potential_energy()) <= 1e-9 * abs(lmp["energy"])
    assert relative_gap(lmp["forces"], ref.get_forces()) <= 1e-9


def test_sample_potential_in_lmp(sample_mtp_path, tmp_path, rng):
    """The trained MLIP-2 sample file as users bring it (species by index)."""
    mtp = MTP.read(sample_mtp_path)
    atoms = triclinic_lpsc(rng, 4)
    frame = lammps_frame(atoms)
    data = tmp_path / "lpsc.data"
    write_data(data, frame, ELEMENTS)
    lmp = run_executable(tmp_path, data, sample_mtp_path, ["0", "1", "2", "3"])
    assert_same(lmp, python_results(mtp, frame), 1e-9)


@pytest.mark.mpi
def test_two_ranks_match_one(tmp_path, rng):
    mtp = random_potential(16, 4, seed=11)
    atoms = triclinic_lpsc(rng, 4).repeat((2, 2, 1))
    pot, data, frame, symbols = prepare(tmp_path, mtp, atoms)
    one = run_executable(tmp_path, data, pot, symbols, ranks=1)
    two = run_executable(tmp_path, data, pot, symbols, ranks=2)
    assert "2 by 1 by 1 MPI processor grid" in two["stdout"] or "1 by 2 by 1" in two["stdout"] \
        or "1 by 1 by 2" in two["stdout"]
    assert abs(one["energy"] - two["energy"]) <= 1e-10 * abs(one["energy"])
    assert relative_gap(two["forces"], one["forces"]) <= 1e-10
    assert relative_gap(two["site_energies"], one["site_energies"]) <= 1e-10
    assert relative_gap(two["virial"], one["virial"]) <= 1e-10
    assert_same(one, python_results(mtp, frame), 1e-9)


def test_openmp_threads_match_one_thread(tmp_path, rng):
    mtp = random_potential(16, 4, seed=12)
    pot, data, frame, symbols = prepare(tmp_path, mtp, triclinic_lpsc(rng, 4).repeat((2, 1, 1)))
    one = run_executable(tmp_path, data, pot, symbols, threads=1)
    two = run_executable(tmp_path, data, pot, symbols, threads=2)
    assert "x 2 OpenMP threads" in two["stdout"]
    assert abs(one["energy"] - two["energy"]) <= 1e-11 * abs(one["energy"])
    assert relative_gap(two["forces"], one["forces"]) <= 1e-11
    assert relative_gap(two["virial"], one["virial"]) <= 1e-11


def test_nve_energy_conservation_bcc_li(sample_mtp_path, tmp_path):
    """2000 steps of NVE on bcc Li at 300 K (dt = 1 fs): total energy must not drift."""
    atoms = bcc_li(a=3.43, repeat=(5, 5, 5))
    data = tmp_path / "li.data"
    write_data(data, lammps_frame(atoms), ["Li"])
    script = tmp_path / "in.nve"
    script.write_text(f"""
units metal
atom_style atomic
read_data {data}
pair_style mtp {sample_mtp_path}
pair_coeff * * 0
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
timestep 0.001
velocity all create 600 87287 mom yes rot yes dist gaussian
fix 1 all nve
thermo 20
thermo_style custom step temp pe etotal
thermo_modify format float %.12g
run 2000
""")
    proc = subprocess.run([lmp_executable(), "-in", str(script), "-log", "none"], cwd=tmp_path,
                          env=single_thread_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:]
    rows = re.findall(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", proc.stdout, re.M)
    table = np.array([[float(x) for x in row] for row in rows])
    assert table[-1, 0] == 2000 and len(table) == 101
    temp, etotal = table[:, 1], table[:, 3]
    n = len(atoms)
    assert 200 < temp[len(temp) // 2:].mean() < 450  # equipartition: about 300 K
    drift = abs(etotal[-1] - etotal[0]) / n
    spread = (etotal.max() - etotal.min()) / n
    assert drift < 2e-5, f"energy drift {drift:.2e} eV/atom over 2 ps"
    assert spread < 1e-4, f"energy fluctuation {spread:.2e} eV/atom"


# ---------------------------------------------------------------- bad input
def lammps_error(tmp_path, lines: str) -> str:
    """Run commands in the lammps module and return the error message LAMMPS raised."""
    from seimd.lmp import open_lammps

    lmp = open_lammps()
    try:
        with pytest.raises(Exception) as info:
            lmp.commands_string(lines)
        return str(info.value)
    finally:
        lmp.close()


def small_box(types: int = 2, units: str = "metal", newton: str = "on") -> str:
    return f"""
units {units}
newton {newton} on
atom_style atomic
region box block 0 10 0 10 0 10
create_box {types} box
create_atoms 1 random 20 4567 NULL overlap 1.5
mass * 7.0
"""


@pytest.mark.parametrize("setup, message", [
    ("pair_style mtp /nonexistent/x.mtp", "cannot open potential file '/nonexistent/x.mtp'"),
    ("pair_style mtp {sample} grades 10", "Unknown pair_style mtp keyword 'grades'"),
    ("pair_style mtp", "expected 'pair_style mtp FILE.mtp'"),
    ("pair_style mtp {sample}\npair_coeff * * 0", "one species per atom type \\(2 types\\), got 1"),
    ("pair_style mtp {sample}\npair_coeff * * 0 7", "species index 7 for atom type 2 is outside 0..3"),
    ("pair_style mtp {sample}\npair_coeff * * Li S", "'Li' for atom type 1 is not a species index"),
    ("pair_style mtp {sample}\npair_coeff 1 1 0 1", "must start with \\* \\* for pair style mtp"),
    ("pair_style mtp {elements}\npair_coeff * * Li Fe", "element 'Fe' for atom type 2 is not in the potential's elements Li P S Cl"),
    ("pair_style mtp {malformed}", "malformed.mtp:6: unknown key 'colour'"),
    ("pair_style mtp {truncated}", "radial_coeffs ends"),
    ("pair_style mtp {untrained}", "untrained template"),
    ("pair_style mtp {sample}\npair_coeff * * 0 1\nrun 0", "requires newton pair on"),
])
def test_bad_input_gives_clear_error(setup, message, sample_mtp_path, tmp_path):
    from seimd.mtp.basis import basis_to_mtp_text, generate_basis

    text = sample_mtp_path.read_text()
    (tmp_path / "malformed.mtp").write_text(text.replace("species_count = 4", "species_count = 4\ncolour = blue", 1))
    (tmp_path / "truncated.mtp").write_text("\n".join(text.splitlines()[:20]))
    (tmp_path / "untrained.mtp").write_text(basis_to_mtp_text(
        generate_basis(8), species_count=2, min_dist=1.5, max_dist=5.0, radial_basis_size=8,
        name="untrained"))
    MTP.read(sample_mtp_path).with_elements(ELEMENTS).write(tmp_path / "elements.mtp")
    lines = small_box(newton="off" if "newton" in message else "on") + setup.format(sample=sample_mtp_path, elements=tmp_path / "elements.mtp",
                                       malformed=tmp_path / "malformed.mtp",
                                       truncated=tmp_path / "truncated.mtp",
                                       untrained=tmp_path / "untrained.mtp")
    assert re.search(message, lammps_error(tmp_path, lines)), message


def test_units_other_than_metal_are_refused(sample_mtp_path, tmp_path):
    err = lammps_error(tmp_path, small_box(units="real") + f"pair_style mtp {sample_mtp_path}")
    assert "requires 'units metal'" in err


def test_plugin_is_autoloaded_by_lmp(tmp_path):
    """No `plugin load` line: the wheel's launcher finds seimd through its entry point."""
    proc = subprocess.run([lmp_executable(), "-log", "none"], input="plugin list\n",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout
    assert "pair style plugin mtp" in proc.stdout


def test_cutoff_longer_than_ghost_region_allows(sample_mtp_path, tmp_path):
    """With `comm_style tiled` the ghost cutoff may not exceed the box: a clear error, not
    silently missing neighbours. (With the default brick comm, periodic images of any
    depth are made, which the small-cell tests rely on.)"""
    err = lammps_error(tmp_path, f"""
units metal
atom_style atomic
comm_style tiled
lattice bcc 3.43
region box block 0 1 0 1 0 1
create_box 1 box
create_atoms 1 box
mass 1 6.94
pair_style mtp {sample_mtp_path}
pair_coeff * * 0
run 0
""")
    assert "cannot exceed periodic box length" in err
