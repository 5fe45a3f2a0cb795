"""Oracles and systems for the `seimd learn` tests (loaded by path as `oracle.kind = "ase"`).

Importable without pytest or conftest: the learning runs of the tests are subprocesses that
load `counting_teacher` / `flaky_teacher` from this file through
`settings.calculator = "/path/tests/learn_helpers.py:counting_teacher"`.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

REPO = Path(__file__).resolve().parents[1]
TEACHER = REPO / "potentials" / "lipscl-l08-7net0.mtp"
"""The teacher: the shipped level-08 Li-P-S-Cl MTP (stable in bcc Li MD at 300-600 K)."""


def _count(log: str) -> int:
    """Append one line to `log` (locked) and return the new number of lines = this call."""
    with open(log, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = sum(1 for _ in f) + 1
        f.write(f"{n} pid {os.getpid()}\n")
        f.flush()
        os.fsync(f.fileno())
        fcntl.flock(f, fcntl.LOCK_UN)
    return n


class CountingTeacher(Calculator):
    """The teacher MTP; every call is appended to `log` (to prove nothing is relabelled).

    `fail_calls`: call numbers (1-based, over all processes) that raise a simulated SCF
    failure; `nan_calls`: calls that return a NaN energy (an unusable label);
    `crash_calls`: calls that kill the whole process (SIGKILL, as a segfault or the OOM
    killer would)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, potential: str, log: str, fail_calls=(), nan_calls=(), crash_calls=(),
                 **kwargs):
        super().__init__(**kwargs)
        from seimd.mtp.calculator import MTPCalculator

        self.inner = MTPCalculator(potential, threads=1)
        self.log = log
        self.fail_calls = set(fail_calls)
        self.nan_calls = set(nan_calls)
        self.crash_calls = set(crash_calls)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        n = _count(self.log)
        if n in self.crash_calls:
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        if n in self.fail_calls:
            raise RuntimeError(f"SCF not converged in 100 iterations (simulated, call {n})")
        a = self.atoms.copy()
        a.calc = self.inner
        self.results = {"energy": a.get_potential_energy(), "forces": a.get_forces(),
                        "stress": a.get_stress()}
        self.results["free_energy"] = self.results["energy"]
        if n in self.nan_calls:
            self.results["energy"] = float("nan")


def counting_teacher(potential: str, log: str, fail_calls=(), nan_calls=(), crash_calls=()):
    return CountingTeacher(potential, log, fail_calls, nan_calls, crash_calls)


def calls(log: str | os.PathLike) -> int:
    p = Path(log)
    return len(p.read_text().splitlines()) if p.exists() else 0


def li_cell(rattle: float = 0.0, seed: int = 0, a: float = 3.43):
    """bcc Li 3x3x3 (54 atoms)."""
    from seimd.structures import bcc_li

    atoms = bcc_li(a=a, repeat=(3, 3, 3))
    if rattle:
        atoms.rattle(rattle, seed=seed)
    return atoms


def write_student_setup(folder: Path, n_start: int = 2) -> dict:
    """Untrained level-08 student (1 species, the teacher's radial range), `n_start` rattled
    labelled cells, and the MD data file; returns their paths."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from seimd.io.cfg import from_atoms, write_cfg
    from seimd.lmp import write_data
    from seimd.mtp.basis import basis_to_mtp_text, generate_basis
    from seimd.mtp.calculator import MTPCalculator

    folder.mkdir(parents=True, exist_ok=True)
    teacher = MTPCalculator(str(TEACHER), threads=1)
    configs = []
    for s in range(n_start):
        atoms = li_cell(0.03, seed=s)
        atoms.calc = teacher
        energy, stress = atoms.get_potential_energy(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=teacher.results["forces"],
                                           stress=stress)
        configs.append(from_atoms(atoms, ["Li"]))
    paths = {"training": folder / "start.cfg", "student": folder / "student.mtp",
             "data": folder / "li54.data"}
    write_cfg(paths["training"], configs, full_precision=True)
    paths["student"].write_text(basis_to_mtp_text(generate_basis(8), species_count=1,
                                                  min_dist=1.4, max_dist=5.0,
                                                  radial_basis_size=8, name="student"))
    write_data(paths["data"], li_cell(), ["Li"])
    return paths


def learn_toml(folder: Path, paths: dict, oracle: str, *, max_iterations: int = 20,
               anneal: int = 4, extra: str = "") -> Path:
    """A small teacher-student config: bcc Li 54 atoms at 300 and 600 K (NPT, 1 bar)."""
    text = f"""
[run]
workdir = "{folder / 'work'}"
species = ["Li"]
seed = 0

[start]
potential = "{paths['student']}"
training = ["{paths['training']}"]
max_iter = 200

[md]
input = "{REPO / 'inputs' / 'learn_md.in'}"
steps = 2000
grade_every = 10
restart_every = 500
vars = {{ pressure = 1.0 }}

[[md.runs]]
name = "T300"
data = "{paths['data']}"
vars = {{ temperature = 300 }}

[[md.runs]]
name = "T600"
data = "{paths['data']}"
vars = {{ temperature = 600 }}

[thresholds]
save = 1.5
break_start = 5.5
break_final = 2.5
anneal_iterations = {anneal}

[select]
max_per_iteration = 5

[oracle]
{oracle}

[train]
max_iter = 100

[stop]
max_iterations = {max_iterations}
{extra}
"""
    path = folder / "learn.toml"
    path.write_text(text)
    return path


def teacher_frames(folder: Path, temperatures=(300.0, 600.0), frames: int = 10,
                   every: int = 250, seed: int = 777, data: Path | None = None,
                   species=("Li",)) -> list:
    """Held-out configurations: NPT MD (1 bar) of the teacher itself in LAMMPS, other seeds;
    of bcc Li 54 atoms, or of the LAMMPS data file ``data`` with ``species`` (types 1..)."""
    from ase.io import read

    from seimd.lmp import open_lammps, write_data

    folder.mkdir(parents=True, exist_ok=True)
    barostat = "x 1.0 1.0 1.0 y 1.0 1.0 1.0 z 1.0 1.0 1.0 couple xy"   # a stack along z
    if data is None:
        data = folder / "li54.data"
        write_data(data, li_cell(), ["Li"])
        barostat = "iso 1.0 1.0 1.0"
    out = []
    for k, t in enumerate(temperatures):
        dump = folder / f"teacher{k}.dump"
        lmp = open_lammps(["-log", "none", "-screen", "none", "-nocite"])
        lmp.commands_string(f"""
units metal
atom_style atomic
read_data {data}
pair_style mtp {TEACHER}
pair_coeff * * {' '.join(species)}
velocity all create {t} {seed + k} mom yes rot no dist gaussian
fix npt all npt temp {t} {t} 0.1 {barostat}
run 1000
dump d all custom {every} {dump} id type x y z
dump_modify d sort id
run {every * frames}
""")
        lmp.close()
        frames_k = read(dump, index=f"1:{frames + 1}", format="lammps-dump-text")
        for a in frames_k:
            a.set_chemical_symbols([species[i - 1] for i in a.get_array("type")])
            a.pbc = True
        out.extend(frames_k)
    return out


def errors_against_teacher(potential: str, frames: list, species=("Li",)) -> dict:
    """Energy (meV/atom) and force (eV/A, per component) RMSE of `potential` vs the teacher;
    the student's species 0.. are `species`."""
    from seimd.mtp.calculator import MTPCalculator

    teacher = MTPCalculator(str(TEACHER), threads=1)
    student = MTPCalculator(str(potential), type_map=list(species), threads=1)
    de, df, ft = [], [], []
    for a in frames:
        a = a.copy()
        a.calc = teacher
        e_t, f_t = a.get_potential_energy(), a.get_forces().copy()
        a.calc = student
        e_s, f_s = a.get_potential_energy(), a.get_forces()
        de.append((e_s - e_t) / len(a))
        df.append(f_s - f_t)
        ft.append(f_t)
    df, ft = np.concatenate(df), np.concatenate(ft)
    return {"energy_meV": 1000 * float(np.sqrt(np.mean(np.square(de)))),
            "force": float(np.sqrt(np.mean(df ** 2))), "force_std": float(ft.std())}


def write_licl_interface_setup(folder: Path, n_start: int = 3) -> dict:
    """A small non-reactive interface, bcc Li | rocksalt LiCl (136 atoms: 3x3x4 bcc cells
    strained to a = 2/3 a_LiCl, 0.5 % from bcc Li's 3.43 A, on 2x2x2 cubic LiCl cells,
    a = 5.13 A; periodic stack along z, gaps 2.6 A), `n_start` rattled copies labelled by the
    teacher, and an untrained level-08 two-species student (Li, Cl); returns their paths."""
    from ase.build import bulk
    from ase.calculators.singlepoint import SinglePointCalculator

    from seimd.io.cfg import from_atoms, write_cfg
    from seimd.lmp import write_data
    from seimd.mtp.basis import basis_to_mtp_text, generate_basis
    from seimd.mtp.calculator import MTPCalculator
    from seimd.structures import bcc_li

    folder.mkdir(parents=True, exist_ok=True)
    a_licl, gap = 5.13, 2.6
    li = bcc_li(a=a_licl * 2 / 3, repeat=(3, 3, 4))
    licl = bulk("LiCl", "rocksalt", a=a_licl, cubic=True).repeat((2, 2, 2))
    z_li = li.cell[2, 2]
    licl.positions[:, 2] += z_li + gap
    stack = li + licl
    stack.set_cell([2 * a_licl, 2 * a_licl, z_li + gap + licl.cell[2, 2] + gap])
    stack.pbc = True
    paths = {"data": folder / "stack.data", "training": folder / "start.cfg",
             "student": folder / "student.mtp"}
    write_data(paths["data"], stack, ["Li", "Cl"])
    teacher = MTPCalculator(str(TEACHER), threads=1)
    configs = []
    for s in range(n_start):
        atoms = stack.copy()
        atoms.rattle(0.04, seed=s)
        atoms.calc = teacher
        energy, stress = atoms.get_potential_energy(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, stress=stress,
                                           forces=teacher.results["forces"])
        configs.append(from_atoms(atoms, ["Li", "Cl"]))
    write_cfg(paths["training"], configs, full_precision=True)
    paths["student"].write_text(basis_to_mtp_text(generate_basis(8), species_count=2,
                                                  min_dist=1.6, max_dist=5.0,
                                                  radial_basis_size=8, name="student"))
    return paths


INTERFACE_TEACHER = REPO / "potentials" / "lipscl-l08-7net0-al-s.mtp"
"""The teacher on the interface: the shipped default Li-P-S-Cl potential."""


def write_interface_student_setup(folder: Path, frames: int = 7, temperature: float = 600.0,
                                  seed: int = 5) -> dict:
    """The XS Li | Li6PS5Cl interface (212 atoms), `frames` snapshots of the teacher's own
    NVT MD at `temperature` (every 100 steps from step 0), labelled by the teacher, and an
    untrained level-08 student of the four species; returns their paths."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import read

    from seimd.build import named_model, write_interface
    from seimd.io.cfg import from_atoms, write_cfg
    from seimd.lmp import open_lammps
    from seimd.mtp.basis import basis_to_mtp_text, generate_basis
    from seimd.mtp.calculator import MTPCalculator

    species = ["Li", "P", "S", "Cl"]
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"data": folder / "xs.data", "training": folder / "start.cfg",
             "student": folder / "student.mtp"}
    write_interface(named_model("XS"), data=paths["data"], groups=False)
    dump = folder / "teacher.dump"
    lmp = open_lammps(["-log", "none", "-screen", "none", "-nocite"])
    lmp.commands_string(f"""
units metal
atom_style atomic
read_data {paths['data']}
pair_style mtp {INTERFACE_TEACHER}
pair_coeff * * {' '.join(species)}
velocity all create {temperature} {seed} mom yes rot no dist gaussian
fix nvt all nvt temp {temperature} {temperature} 0.1
dump d all custom 100 {dump} id type x y z
dump_modify d sort id
run {100 * (frames - 1)}
""")
    lmp.close()
    teacher = MTPCalculator(str(INTERFACE_TEACHER), threads=1)
    configs = []
    for atoms in read(dump, index=":", format="lammps-dump-text"):
        atoms.set_chemical_symbols([species[t - 1] for t in atoms.get_array("type")])
        atoms.pbc = True
        atoms.calc = teacher
        energy, stress = atoms.get_potential_energy(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, stress=stress,
                                           forces=teacher.results["forces"])
        configs.append(from_atoms(atoms, species))
    write_cfg(paths["training"], configs, full_precision=True)
    paths["student"].write_text(basis_to_mtp_text(generate_basis(8), species_count=4,
                                                  min_dist=1.6, max_dist=5.0,
                                                  radial_basis_size=8, name="student"))
    return paths


SAVE = 1.5
"""The save threshold of the production-learning configs (the paper's)."""


def production_toml(folder: Path, student, training: list, teacher: Path, species: list,
                    cap: int, max_iter: int = 200) -> Path:
    """A seimd learn config for in-situ learning in sei.in (-var learn): no [md] section
    (sei.in is the MD); the paper's thresholds annealed over 4 retrainings; oracle kind mtp
    with ``teacher``; ``student`` "" = sei.in's own potential."""
    import json

    path = folder / "learn.toml"
    path.write_text(f"""
[run]
species = {json.dumps(list(species))}
seed = 0

[start]
potential = "{student}"
training = {json.dumps([str(p) for p in training])}
max_iter = {max_iter}

[thresholds]
save = {SAVE}
break_start = 5.5
break_final = 2.5
anneal_iterations = 4

[select]
max_per_iteration = 5

[oracle]
kind = "mtp"
settings = {{ potential = "{teacher}" }}

[train]
max_iter = 100

[stop]
max_iterations = {cap}
""")
    return path
