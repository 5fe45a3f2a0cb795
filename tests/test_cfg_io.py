"""MLIP ``.cfg`` configurations: reading, writing, ASE conversion (seimd.io.cfg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from seimd.io.cfg import CFGFormatError, Configuration, from_atoms, read_cfg, to_atoms, write_cfg

SAMPLE_CFG = Path(__file__).resolve().parent / "data" / "lipscl-sample.cfg"

EXTRA_COLUMNS_CFG = """BEGIN_CFG
 Size
    3
 Supercell
         4.000000      0.000000      0.000000
         0.500000      5.000000      0.000000
         0.000000      0.000000      8.000000
 AtomData:  id type       direct_x      direct_y      direct_z       site_en        charge
             1    2       0.100000      0.200000      0.300000     -1.250000      0.400000
             2    0       0.500000      0.500000      0.250000     -2.500000     -0.200000
             3    1       0.900000      0.000000      0.125000     -0.750000     -0.200000
 Energy
         -4.500000000000
 Feature   EFS_by\tVASP
 Feature   mindist\t1.234
 Feature   EFS_by\thand made, with spaces
 Feature   empty\t
END_CFG
"""


@pytest.fixture(scope="module")
def sample() -> list[Configuration]:
    return read_cfg(SAMPLE_CFG)


def test_sample_contents(sample: list[Configuration]) -> None:
    assert len(sample) == 20
    assert [c.n_atoms for c in sample[:4]] == [16, 54, 16, 54]
    first = sample[0]
    assert first.cell.shape == (3, 3) and first.cell[0, 0] == 7.023316
    assert first.types.tolist() == [0] * 16
    assert first.positions[0].tolist() == [0.133194, 7.226531, 7.101659]
    assert first.forces[0].tolist() == [-0.046074, 0.179449, -0.103582]
    assert first.energy == -29.398757934570
    assert first.plus_stress.tolist() == [-3.10890, -2.60872, -2.51309, -0.82039, 0.07685, 0.05845]
    assert first.features == [("origin", "li_bcc_000")]
    assert first.feature("origin") == "li_bcc_000" and first.pbc == (True, True, True)
    assert sample[-1].features == [("origin", "li_bcc_024")]


def test_sample_round_trip_is_byte_exact(sample: list[Configuration], tmp_path: Path) -> None:
    out = tmp_path / "copy.cfg"
    write_cfg(out, sample)
    assert out.read_bytes() == SAMPLE_CFG.read_bytes()
    assert read_cfg(out) == sample


def test_crlf_and_text_input(sample: list[Configuration]) -> None:
    text = SAMPLE_CFG.read_text()
    assert read_cfg(text.replace("\n", "\r\n")) == sample
    assert read_cfg(text) == sample


def test_features_and_extra_columns_round_trip(tmp_path: Path) -> None:
    (config,) = read_cfg(EXTRA_COLUMNS_CFG)
    assert config.features == [("EFS_by", "VASP"), ("mindist", "1.234"),
                               ("EFS_by", "hand made, with spaces"), ("empty", "")]
    assert config.cell.shape == (3, 3) and config.pbc == (True, True, True)
    assert config.forces is None and config.plus_stress is None
    assert config.types.tolist() == [2, 0, 1]
    assert config.extra_columns["site_en"].tolist() == [-1.25, -2.5, -0.75]
    assert config.extra_columns["charge"].tolist() == [0.4, -0.2, -0.2]
    assert config.extra_columns["direct_z"].tolist() == [0.3, 0.25, 0.125]
    # Cartesian positions from the direct columns
    np.testing.assert_allclose(config.positions[1], [2.25, 2.5, 2.0])
    out = tmp_path / "extra.cfg"
    write_cfg(out, config)
    assert out.read_text() == EXTRA_COLUMNS_CFG
    assert read_cfg(out) == [config]


def test_partial_missing_and_empty_supercell(tmp_path: Path) -> None:
    cartesian = EXTRA_COLUMNS_CFG.replace("direct", "cartes")
    slab = cartesian.replace("         0.000000      0.000000      8.000000\n", "")
    (config,) = read_cfg(slab)
    assert config.cell.shape == (2, 3) and config.pbc == (True, True, False)
    write_cfg(tmp_path / "slab.cfg", config)
    assert (tmp_path / "slab.cfg").read_text() == slab
    assert from_atoms(to_atoms(config)) == config
    text = slab.replace(" Supercell\n", "").replace(
        "         4.000000      0.000000      0.000000\n", "").replace(
        "         0.500000      5.000000      0.000000\n", "")
    (cluster,) = read_cfg(text)
    assert cluster.cell is None and cluster.pbc == (False, False, False)
    assert from_atoms(to_atoms(cluster)) == cluster
    (empty,) = read_cfg(text.replace(" AtomData", " Supercell\n AtomData"))
    assert empty.cell.shape == (0, 3)
    assert from_atoms(to_atoms(empty)) == empty
    with pytest.raises(CFGFormatError, match="line 1.*3 Supercell rows"):
        read_cfg(EXTRA_COLUMNS_CFG.replace("         0.000000      0.000000      8.000000\n", ""))


def test_full_precision_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    config = Configuration(
        types=rng.integers(0, 3, 7), positions=rng.normal(size=(7, 3)) * 5,
        cell=rng.normal(size=(3, 3)) * 4, forces=rng.normal(size=(7, 3)),
        energy=float(rng.normal()) * 100, plus_stress=rng.normal(size=6),
        features=[("origin", "random")],
    )
    out = tmp_path / "full.cfg"
    write_cfg(out, [config, config], full_precision=True)
    assert read_cfg(out) == [config, config]


def test_stress_convention_by_hand() -> None:
    # cubic 2 A cell: V = 8 A^3; ASE stress = -PlusStress / V
    config = Configuration(
        types=[0], positions=[[0.0, 0.0, 0.0]], cell=np.eye(3) * 2.0, forces=[[0.1, 0.2, 0.3]],
        energy=-1.5, plus_stress=[8.0, 16.0, -8.0, 0.8, 1.6, 2.4],
    )
    atoms = to_atoms(config, ["Li"])
    assert atoms.get_chemical_symbols() == ["Li"] and atoms.pbc.all()
    assert atoms.get_volume() == pytest.approx(8.0)
    np.testing.assert_allclose(atoms.get_stress(voigt=True), [-1.0, -2.0, 1.0, -0.1, -0.2, -0.3])
    assert atoms.get_stress(voigt=False)[1, 2] == pytest.approx(-0.1)  # yz
    assert atoms.get_stress(voigt=False)[0, 1] == pytest.approx(-0.3)  # xy
    assert atoms.get_potential_energy() == -1.5
    np.testing.assert_array_equal(atoms.get_forces(), [[0.1, 0.2, 0.3]])


def assert_same_within_roundoff(a: Configuration, b: Configuration) -> None:
    """Exact equality except plus_stress, which goes through -x/V*V."""
    np.testing.assert_allclose(a.plus_stress, b.plus_stress, rtol=1e-14, atol=1e-14)
    b.plus_stress = a.plus_stress
    assert a == b


def test_ase_round_trip(sample: list[Configuration]) -> None:
    for config in sample[:4]:
        atoms = to_atoms(config, ["Li", "P", "S", "Cl"])
        assert_same_within_roundoff(config, from_atoms(atoms))
        assert_same_within_roundoff(config, from_atoms(atoms, type_map=["Li", "P", "S", "Cl"]))
    (extra,) = read_cfg(EXTRA_COLUMNS_CFG)
    assert from_atoms(to_atoms(extra)) == extra


def test_from_plain_atoms() -> None:
    atoms = Atoms("LiClLi", positions=[[0, 0, 0], [1.5, 1.5, 1.5], [3, 0, 0]], cell=np.eye(3) * 6,
                  pbc=True)
    stress = np.array([0.01, 0.02, 0.03, 0.004, 0.005, 0.006])
    atoms.calc = SinglePointCalculator(atoms, energy=-3.0, forces=np.ones((3, 3)), stress=stress)
    config = from_atoms(atoms, {"Li": 0, "Cl": 3})
    assert config.types.tolist() == [0, 3, 0]
    assert config.energy == -3.0 and config.cell.shape == (3, 3)
    np.testing.assert_allclose(config.plus_stress, -stress * 216.0)
    bare = from_atoms(Atoms("Li2", positions=[[0, 0, 0], [0, 0, 3]]), ["Li"])
    assert bare.cell is None and bare.energy is None and bare.forces is None
    with pytest.raises(ValueError, match="Cl"):
        from_atoms(atoms, {"Li": 0})


# ----------------------------------------------------------------- bad files


def expect_error(text: str, *fragments: str) -> None:
    with pytest.raises(CFGFormatError) as info:
        read_cfg(text)
    message = str(info.value)
    assert message.startswith("<string>"), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CFGFormatError, match="none.cfg.*file not found"):
        read_cfg(tmp_path / "none.cfg")


def test_malformed_files() -> None:
    good = EXTRA_COLUMNS_CFG
    expect_error("hello\n" + good, "line 1", "expected BEGIN_CFG")
    expect_error(good.replace("END_CFG\n", ""), "END_CFG missing", "line 1")
    expect_error(good.replace("             2    0", "             5    0"), "line 10",
                 "atom id 5, expected 2")
    expect_error(good.replace("    3\n", "    4\n"), "line 12", "expected 4 atom lines, found 3")
    expect_error(good.replace("    3\n", "    2\n"), "line 11", "unexpected numbers")
    expect_error(good.replace(" Energy", " Enrgy"), "line 12", "unknown block 'Enrgy'")
    expect_error(good.replace("-4.500000000000", "-4.5.0"), "line 13", "Energy", "-4.5.0")
    expect_error(good.replace("     -1.250000", "     -1.250000 7"), "line 9",
                 "expected 7 numbers, found 8")
    expect_error(good.replace(":  id type", ":  id kind"), "line 8", "no 'type' column")
    expect_error(good.replace(" AtomData:  id", " AtomData:  id cartes_x"), "line 8",
                 "given without the rest")
