"""seimd.build: Li(110) | Li6PS5Cl(110) interface models I and II (no MD)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read

from seimd.build import (MODELS, SPECORDER, broken_ps4, build_interface, closest_contacts,
                         format_report, groups_path, interface_report, li110_slab,
                         lpsc110_block, lpsc110_slab, named_model, ps4_coordination,
                         write_interface)

A = 10.28


@pytest.fixture(scope="module")
def model_i():
    return named_model("I")


@pytest.fixture(scope="module")
def model_ii():
    return named_model("II")


def counts(atoms, mask=None):
    sym = np.array(atoms.get_chemical_symbols())
    if mask is not None:
        sym = sym[mask]
    return {s: int(np.count_nonzero(sym == s)) for s in SPECORDER}


# ------------------------------------------------------------------ building blocks
def test_lpsc_block_is_four_formula_units():
    block = lpsc110_block(A)
    assert len(block) == 52
    assert counts(block) == {"Li": 24, "P": 4, "S": 20, "Cl": 4}
    assert np.allclose(block.cell.lengths(), [A * np.sqrt(2), A, A / np.sqrt(2)])
    # P and Cl planes at z = 0 and a/(2 sqrt2), two stoichiometric sublayers
    zp = np.unique(np.round(block.positions[block.numbers == 15, 2], 6))
    assert np.allclose(zp, [0.0, A / (2 * np.sqrt(2))])
    assert np.all(ps4_coordination(block) == 4)


@pytest.mark.parametrize("cut, ok", [(1.72, True), (1.82, True), (1.92, True),
                                     (1.6, False), (2.1, False), (0.5, False)])
def test_cut_window_keeps_ps4_whole(cut, ok):
    if ok:
        slab = lpsc110_slab(A, (1, 1), 3, cut=cut)
        assert len(slab) == 3 * 52
        assert broken_ps4(slab, periodic_z=False) == 0
        assert slab.positions[:, 2].min() >= 0 and slab.positions[:, 2].max() < slab.cell[2, 2]
    else:
        with pytest.raises(ValueError, match="breaks"):
            lpsc110_slab(A, (1, 1), 3, cut=cut)


def test_li110_slab():
    a_li = A / 3
    slab = li110_slab(a_li, (3, 3), 5)
    assert len(slab) == 2 * 9 * 5
    z = np.unique(np.round(slab.positions[:, 2], 6))
    assert np.allclose(np.diff(z), a_li / np.sqrt(2)) and len(z) == 5
    assert np.allclose(slab.cell.lengths()[:2], [3 * a_li * np.sqrt(2), 3 * a_li])
    # an even number of layers is a bulk bcc period: 8 nearest neighbours at a sqrt3/2
    bulk = li110_slab(a_li, (3, 3), 6)
    assert closest_contacts(bulk)["Li-Li"] == pytest.approx(a_li * np.sqrt(3) / 2, abs=1e-9)
    from scipy.spatial import cKDTree
    tree = cKDTree(bulk.positions, boxsize=np.diag(bulk.cell.array))
    assert all(len(n) == 9 for n in tree.query_ball_point(bulk.positions, a_li * 0.9))


# ------------------------------------------------------------------ models I and II
def test_model_i_counts_area_box(model_i):
    atoms = model_i
    assert len(atoms) == 7956
    ele = atoms.arrays["origin"] == "electrolyte"
    ano = atoms.arrays["origin"] == "anode"
    assert counts(atoms, ele) == {"Li": 6 * 288, "P": 288, "S": 5 * 288, "Cl": 288}
    assert counts(atoms, ano) == {"Li": 4212, "P": 0, "S": 0, "Cl": 0}
    lx, ly, lz = np.diag(atoms.cell.array)
    assert np.allclose(atoms.cell.array, np.diag([lx, ly, lz]))
    assert lx == pytest.approx(43.61, abs=0.01) and ly == pytest.approx(30.84, abs=0.01)
    assert lx * ly == pytest.approx(1345.1, abs=0.1)
    assert lz == pytest.approx(123.1, abs=0.1)
    # electrolyte first, anode after (the id ranges the data file documents)
    assert ele[:3744].all() and ano[3744:].all()
    rep = interface_report(atoms)
    assert rep["electrolyte"]["formula_units"] == 288 and rep["electrolyte"]["stoichiometric"]
    assert rep["lpsc_thickness"] == pytest.approx(58.15, abs=0.01)
    assert rep["anode"]["atoms_per_layer"] == 162 and rep["anode"]["layers"] == 26
    assert rep["li_layer_spacing"] == pytest.approx(2.423, abs=1e-3)


def test_model_ii_counts_area_box(model_ii, model_i):
    atoms = model_ii
    assert len(atoms) == 31824
    ele = atoms.arrays["origin"] == "electrolyte"
    assert counts(atoms, ele) == {"Li": 6 * 1152, "P": 1152, "S": 5 * 1152, "Cl": 1152}
    assert np.count_nonzero(atoms.arrays["origin"] == "anode") == 16848
    lx, ly, lz = np.diag(atoms.cell.array)
    assert lx * ly == pytest.approx(5380.3, abs=0.1)
    assert (lx, ly) == pytest.approx((87.23, 61.68), abs=0.01)
    assert lz == pytest.approx(model_i.cell[2, 2], abs=1e-9)
    assert lz == pytest.approx(123.1, abs=0.1)


@pytest.mark.parametrize("name", ["XS", "S", "I"])
def test_no_broken_ps4_and_contacts(name, request):
    atoms = request.getfixturevalue("model_i") if name == "I" else named_model(name)
    ele = atoms.arrays["origin"] == "electrolyte"
    electrolyte = atoms[ele]
    # every P keeps exactly 4 S within 2.5 A inside the slab (no wrap across the cut)...
    assert np.all(ps4_coordination(electrolyte, periodic_z=False) == 4)
    # ...and within the full periodic cell, no anode S intrudes
    assert np.all(ps4_coordination(atoms) == 4)
    cont = closest_contacts(atoms)
    assert cont["P-S"] == pytest.approx(2.06, abs=0.01)
    assert cont["Li-S"] >= 2.2
    assert min(v for k, v in cont.items() if k != "P-S") >= 2.2
    across = closest_contacts(atoms, mask_a=~ele, mask_b=ele)
    assert min(across.values()) >= 1.9
    assert across["Li-S"] >= 2.2


def test_model_ii_contacts(model_ii):
    rep = interface_report(model_ii)
    assert rep["electrolyte"]["broken_ps4"] == 0
    assert rep["contacts"]["P-S"] == pytest.approx(2.06, abs=0.01)
    assert min(rep["interface_contacts"].values()) >= 1.9


def test_named_models_and_free_repeats():
    assert set(MODELS) >= {"XS", "S", "I", "II"}
    xs = named_model("xs")
    assert len(xs) == 8 * 13 + 18 * 6
    s = named_model("S")
    assert 1000 <= len(s) <= 2000
    custom = build_interface(lateral=(2, 1), lpsc_blocks=3, li_layers=7)
    assert len(custom) == 2 * 3 * 52 + 7 * 2 * 6 * 3
    assert named_model("I", li_layers=4).arrays["origin"].tolist().count("anode") == 4 * 162
    with pytest.raises(KeyError):
        named_model("III")


def test_gap_sets_c():
    a = build_interface((1, 1), 2, 6, gap=2.2)
    b = build_interface((1, 1), 2, 6, gap=3.0)
    assert b.cell[2, 2] - a.cell[2, 2] == pytest.approx(1.6, abs=1e-9)
    d = A / 3 / np.sqrt(2)
    assert a.cell[2, 2] == pytest.approx(2 * A / np.sqrt(2) + 5 * d + 4.4, abs=1e-9)


def test_strain_report_for_other_lattice_constant():
    atoms = named_model("XS", a_lpsc=9.85, a_li_ref=3.44)
    rep = interface_report(atoms)
    assert rep["a_li"] == pytest.approx(9.85 / 3)
    assert rep["li_strain"] == pytest.approx(9.85 / 3 / 3.44 - 1, abs=1e-12)
    assert rep["li_strain"] == pytest.approx(-0.0455, abs=1e-3)
    assert rep["area"] == pytest.approx(9.85**2 * np.sqrt(2), abs=1e-9)
    assert rep["electrolyte"]["broken_ps4"] == 0
    assert "-4.55 %" in format_report(rep)
    default = interface_report(named_model("XS"))
    assert default["li_strain"] == pytest.approx(-0.0030, abs=1e-4)


def test_site_exchange_keeps_stoichiometry():
    a = named_model("S", site_exchange=0.25, seed=3)
    b = named_model("S", site_exchange=0.25, seed=3)
    ref = named_model("S")
    assert np.array_equal(a.numbers, b.numbers)
    assert not np.array_equal(a.numbers, ref.numbers)
    assert counts(a) == counts(ref)
    assert np.count_nonzero(a.arrays["site"] == "Cl4c") == 16
    assert broken_ps4(a) == 0


# ------------------------------------------------------------------ files
def test_extxyz_keeps_origin(tmp_path):
    atoms = named_model("XS")
    write_interface(atoms, xyz=tmp_path / "xs.extxyz")
    back = read(tmp_path / "xs.extxyz")
    assert np.array_equal(back.arrays["origin"], atoms.arrays["origin"])
    assert np.array_equal(back.arrays["site"], atoms.arrays["site"])
    assert np.allclose(back.positions, atoms.positions, atol=1e-6)
    assert back.info["model"] == "XS"
    assert interface_report(back)["natoms"] == len(atoms)


def test_lammps_data_round_trip(tmp_path):
    from seimd.lmp import open_lammps

    atoms = named_model("S")
    data = tmp_path / "s.data"
    written = write_interface(atoms, data=data)
    assert groups_path(data) in written
    assert data.read_text().splitlines()[0].startswith("seimd build model S")
    out = tmp_path / "back.data"
    lmp = open_lammps()
    try:
        lmp.commands_string(f"units metal\natom_style atomic\nread_data {data}\n"
                            f"include {groups_path(data)}\n")
        assert lmp.get_natoms() == len(atoms)
        lo, hi, *_ = lmp.extract_box()
        assert np.allclose(np.array(hi) - np.array(lo), np.diag(atoms.cell.array), atol=1e-9)
        types = np.asarray(lmp.gather_atoms("type", 0, 1))
        ids = np.asarray(lmp.gather_atoms("id", 0, 1))
        types = types[np.argsort(ids)]
        want = np.array([SPECORDER.index(s) + 1 for s in atoms.get_chemical_symbols()])
        assert np.array_equal(types, want)
        assert np.bincount(types, minlength=5)[1:].tolist() == [counts(atoms)[s] for s in SPECORDER]
        n_e = int(np.count_nonzero(atoms.arrays["origin"] == "electrolyte"))
        assert lmp.get_thermo("atoms") == len(atoms)
        lmp.command("variable ne equal count(electrolyte)")
        lmp.command("variable na equal count(anode)")
        assert lmp.extract_variable("ne") == n_e
        assert lmp.extract_variable("na") == len(atoms) - n_e
        lmp.command(f"write_data {out}")
    finally:
        lmp.close()
    back = read(out, format="lammps-data", atom_style="atomic", units="metal",
                sort_by_id=True, Z_of_type={1: 3, 2: 15, 3: 16, 4: 17})
    assert np.array_equal(back.numbers, atoms.numbers)
    assert np.allclose(back.cell.array, atoms.cell.array, atol=1e-9)
    assert np.allclose(back.positions, atoms.positions, atol=1e-9)


def test_cli_writes_both_files(tmp_path, capsys):
    from seimd.cli import main

    data, xyz = tmp_path / "m.data", tmp_path / "m.extxyz"
    assert main(["build", "XS", "-o", str(data), "--xyz", str(xyz), "--a-lpsc", "10.0",
                 "--gap", "2.5", "--lateral", "2", "1", "--lpsc-blocks", "3",
                 "--li-layers", "5"]) == 0
    text = capsys.readouterr().out
    assert data.is_file() and xyz.is_file() and groups_path(data).is_file()
    n = 2 * 3 * 52 + 5 * 2 * 6 * 3
    assert f"atoms              {n}" in text
    assert "interface area" in text and "Li strain" in text and "P-S 2.0" in text
    back = read(xyz)
    assert len(back) == n and back.info["a_lpsc"] == pytest.approx(10.0)
    assert back.cell[2, 2] == pytest.approx(3 * 10 / np.sqrt(2) + 4 * 10 / 3 / np.sqrt(2) + 5.0)


def test_cli_help_states_units(capsys):
    from seimd.cli import main

    with pytest.raises(SystemExit):
        main(["build", "--help"])
    text = capsys.readouterr().out
    assert "Angstrom" in text and "--lateral" in text and "--seed" in text
