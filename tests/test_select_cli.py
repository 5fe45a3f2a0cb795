"""`seimd select` and `seimd grade` from the command line, on files."""

import numpy as np

from conftest import random_potential
from seimd.active.als import read_als
from seimd.cli import main
from seimd.io.cfg import from_atoms, read_cfg, write_cfg
from structures_for_tests import triclinic_lpsc


def test_select_then_grade(tmp_path, rng):
    mtp = random_potential(8, 2, seed=31)
    pot = tmp_path / "pot.mtp"
    mtp.write(pot)
    train = [from_atoms(triclinic_lpsc(rng, 2), ["Li", "P"]) for _ in range(4)]
    write_cfg(tmp_path / "train.cfg", train, full_precision=True)
    squeezed = triclinic_lpsc(rng, 2)
    squeezed.set_cell(squeezed.cell.array * 0.85, scale_atoms=True)
    pool = [from_atoms(triclinic_lpsc(rng, 2), ["Li", "P"]), from_atoms(squeezed, ["Li", "P"])]
    write_cfg(tmp_path / "pool.cfg", pool, full_precision=True)

    main(["select", str(pot), str(tmp_path / "pool.cfg"), "--training", str(tmp_path / "train.cfg"),
          "-o", str(tmp_path / "new.als"), "--selected", str(tmp_path / "selected.cfg")])
    selected = read_cfg(tmp_path / "selected.cfg")
    assert len(selected) >= 1          # the squeezed cell is new
    state = read_als(tmp_path / "new.als")
    assert state.n == mtp.n_parameters
    main(["grade", str(pot), str(tmp_path / "new.als"), str(tmp_path / "pool.cfg"),
          "-o", str(tmp_path / "graded.cfg")])
    graded = read_cfg(tmp_path / "graded.cfg")
    # after selection the pool is inside the active set: every grade <= swap threshold
    assert all(float(c.feature("MV_grade")) <= 1.001 + 1e-6 for c in graded)
