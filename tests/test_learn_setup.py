"""`seimd learn` refuses a set-up that cannot run before any MD: one line on stderr, exit
code 2, no iteration folder (an unusable oracle used to fail 40 identical iterations)."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import random_potential
from learn_helpers import TEACHER, learn_toml, li_cell, write_student_setup
from seimd.active.als import CFG_WEIGHTS, ALSState, write_als
from seimd.active.grades import active_set_from_configurations
from seimd.cli import main
from seimd.io.cfg import from_atoms

MTP_ORACLE = f'kind = "mtp"\nsettings = {{ potential = "{TEACHER}" }}'


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learn_setup")
    return folder, write_student_setup(folder)


def refused(config, capsys) -> str:
    assert main(["learn", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert not (config.parent / "work" / "iter-000").exists()
    return err


def als_of(mtp, path, weights=None, species=("Li",)):
    cells = [li_cell(0.05, seed=s) for s in range(3)]
    active = active_set_from_configurations(mtp, cells)
    write_als(path, ALSState.from_active_set(mtp, active, [from_atoms(a, list(species))
                                                          for a in cells], weights))
    return path


def test_unknown_oracle(setup, capsys):
    folder, paths = setup
    config = learn_toml(folder, paths, 'kind = "oracle-of-delphi"')
    assert "oracle.kind must be" in refused(config, capsys)


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None
                    and importlib.util.find_spec("sevenn") is not None,
                    reason="torch and sevenn are installed here")
def test_sevennet_without_torch(setup, capsys):
    folder, paths = setup
    config = learn_toml(folder, paths, 'kind = "sevennet"')
    assert "oracle kind sevennet needs" in refused(config, capsys)


def test_missing_oracle_program_or_file(setup, capsys, monkeypatch):
    folder, paths = setup
    config = learn_toml(folder, paths, 'kind = "mtp"\nsettings = { potential = "nowhere.mtp" }')
    assert "no such file" in refused(config, capsys)
    config = learn_toml(folder, paths, 'kind = "ase"\nsettings = { calculator = "no_such_mod:f" }')
    assert "no_such_mod" in refused(config, capsys)


def test_unreadable_config(setup, capsys, tmp_path):
    assert "cannot read the config file" in refused(tmp_path, capsys)     # a folder
    binary = tmp_path / "learn.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert "learn.toml" in refused(binary, capsys)


def test_active_set_of_another_potential(setup, capsys):
    folder, paths = setup
    two_species = als_of(random_potential(8, 2, seed=3), folder / "two.als", species=("Li", "P"))
    config = learn_toml(folder, paths, MTP_ORACLE)
    text = config.read_text().replace("max_iter = 200", f'max_iter = 200\nactive_set = "{two_species}"', 1)
    config.write_text(text)
    assert "belongs to another potential" in refused(config, capsys)
    level10 = als_of(random_potential(10, 1, seed=3), folder / "l10.als")
    config.write_text(text.replace(str(two_species), str(level10)))
    assert "belongs to another potential" in refused(config, capsys)


def test_active_set_with_unsupported_weights(setup, capsys):
    folder, paths = setup
    from seimd.mtp.model import MTP

    student = MTP.read(paths["student"])
    trained = random_potential(8, 1, seed=4)
    assert trained.n_parameters == student.n_parameters
    bad = als_of(trained, folder / "bad.als", weights=(0.0, 1.0, 1.0, 0.0))
    config = learn_toml(folder, paths, MTP_ORACLE)
    config.write_text(config.read_text().replace("max_iter = 200",
                                                 f'max_iter = 200\nactive_set = "{bad}"', 1))
    assert "are not supported" in refused(config, capsys)


def test_configuration_mode_active_set_is_refused(setup, capsys):
    folder, paths = setup
    cfg_mode = als_of(random_potential(8, 1, seed=4), folder / "cfg.als", weights=CFG_WEIGHTS)
    config = learn_toml(folder, paths, MTP_ORACLE)
    config.write_text(config.read_text().replace("max_iter = 200",
                                                 f'max_iter = 200\nactive_set = "{cfg_mode}"', 1))
    assert "configuration-mode active set" in refused(config, capsys)
