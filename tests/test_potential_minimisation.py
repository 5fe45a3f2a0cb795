"""Energy minimisation of every shipped potential on every built model stays bounded.

A potential that is wrong outside its training data can run away under minimisation
(a pair collapsing to the potential's min_dist, energies of -1e5 eV/atom). Bounded means:
the minimised energy per atom stays within the physical range of the Li-P-S-Cl system
(-6 to -1 eV/atom), no pair closer than 1.4 A, and the energy fell by less than
0.5 eV/atom from the built structure. Models I and II are the production sizes.
"""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from lammps_runs import input_lines

REPO = Path(__file__).resolve().parents[1]
# the shipped potentials and the pipelines' candidates (potentials/make_*/lipscl-*.mtp)
SHIPPED = (sorted((REPO / "potentials").glob("*.mtp"))
           + sorted((REPO / "potentials").glob("make_*/lipscl-*.mtp")))
MODELS = ["XS", "S", "M", "I", "II"]


@pytest.fixture(scope="module")
def model_data(tmp_path_factory):
    out = {}
    tmp = tmp_path_factory.mktemp("models")
    for model in MODELS:
        path = tmp / f"{model}.data"
        subprocess.run(["seimd", "build", model, "-o", str(path), "--no-groups"], check=True,
                       capture_output=True)
        out[model] = path
    return out


def minimise(data: Path, potential: Path, steps: int) -> tuple[float, float, float]:
    """(E/N before, E/N after, shortest pair after) of a LAMMPS CG minimisation."""
    from seimd.lmp import open_lammps
    lmp = open_lammps()
    try:
        lmp.commands_string(input_lines(data, potential, ["Li", "P", "S", "Cl"])
                            + "run 0\nvariable e0 equal pe/atoms\n")
        e0 = lmp.extract_variable("e0")
        lmp.commands_string(f"min_style cg\nminimize 0 1e-3 {steps} {10 * steps}\n"
                            "compute pair all pair/local dist\n"
                            "compute dmin all reduce min c_pair inputs local\n"
                            "variable e1 equal pe/atoms\nrun 0\n")
        e1 = lmp.extract_variable("e1")
        dmin = lmp.extract_compute("dmin", 0, 0)
    finally:
        lmp.close()
    return e0, e1, dmin


@pytest.mark.slow
@pytest.mark.parametrize("potential", SHIPPED, ids=[p.name for p in SHIPPED])
@pytest.mark.parametrize("model", MODELS)
def test_minimisation_stays_bounded(model_data, potential, model):
    steps = 300 if model in ("XS", "S", "M") else 100
    e0, e1, dmin = minimise(model_data[model], potential, steps)
    assert np.isfinite(e1)
    assert -6.0 < e1 < -1.0, f"{potential.name} on {model}: {e1:.3f} eV/atom after minimisation"
    assert e0 - e1 < 0.5, f"{potential.name} on {model}: fell {e0 - e1:.3f} eV/atom"
    assert dmin > 1.4, f"{potential.name} on {model}: a pair at {dmin:.2f} A"
