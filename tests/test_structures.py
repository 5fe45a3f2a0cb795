"""The crystals seimd builds are the crystals they are named after (space group, shells).

Independent references: spglib's space-group finder and neighbour distances computed
from the lattice constants by hand (bcc: a sqrt(3)/2; antifluorite anion-Li a sqrt(3)/4,
anion-anion a/sqrt(2); rocksalt a/2; Li3P P-Li(2b) a/sqrt(3); LPSC P-S 2.06 A).
"""

import numpy as np
import pytest
from ase.build import bulk

from seimd import structures as st
from seimd.crystal_check import Shell, StructureError, check, expected, shell, space_group

pytest.importorskip("spglib")

CRYSTALS = [
    ("bcc Li", lambda: st.bcc_li(3.43, (2, 2, 2)), "bcc-Li", 3.43, None),
    ("Li2S", lambda: st.li2s_antifluorite(5.70, (2, 2, 2)), "antifluorite", 5.70, None),
    ("LiCl", lambda: st.licl_rocksalt(5.14, (2, 1, 1)), "rocksalt-LiCl", 5.14, None),
    ("Li3P", lambda: st.li3p_hexagonal(repeat=(2, 2, 1)), "Li3P", st.A_LI3P, st.C_LI3P),
    ("LPSC", lambda: st.lpsc_ordered(10.28), "LPSC", 10.28, None),
]


@pytest.mark.parametrize("name,build,kind,a,c", CRYSTALS, ids=[c[0] for c in CRYSTALS])
def test_builders_are_the_named_crystals(name, build, kind, a, c):
    atoms = build()
    check(atoms, name, **expected(kind, a, c))


def test_space_groups_by_spglib():
    assert space_group(st.bcc_li()) == 229
    assert space_group(st.li2s_antifluorite()) == 225
    assert space_group(st.licl_rocksalt()) == 225
    assert space_group(st.li3p_hexagonal()) == 194
    assert space_group(st.lpsc_ordered()) == 216


def test_ase_fluorite_li2s_is_not_antifluorite():
    """The structure that entered the first training sets: Li on fcc, S on a tetrahedral set."""
    wrong = bulk("Li2S", "fluorite", a=5.70, cubic=True)
    assert space_group(wrong) == 216
    with pytest.raises(StructureError, match="space group 216, expected 225"):
        check(wrong, "Li2S", **expected("antifluorite", 5.70))
    # and the right one is what ASE gives with S first
    check(bulk("SLi2", "fluorite", a=5.70, cubic=True), "Li2S", **expected("antifluorite", 5.70))


def test_shells_by_hand():
    a = 3.43
    counts, d = shell(st.bcc_li(a, (2, 2, 2)), "Li", "Li")
    assert np.all(counts == 8) and np.allclose(d, a * np.sqrt(3) / 2)
    counts, d = shell(st.li2s_antifluorite(5.7), "S", "Li")
    assert np.all(counts == 8) and np.allclose(d, 5.7 * np.sqrt(3) / 4)
    counts, d = shell(st.li3p_hexagonal(), "P", "Li", tol=0.1)     # 3 at 2.465 + 2 at 2.53
    assert np.all(counts == 5)


def test_a_strained_or_rattled_crystal_fails():
    li2s = st.li2s_antifluorite(5.7, (2, 2, 2))
    tetragonal = li2s.copy()
    tetragonal.set_cell(li2s.cell.array @ np.diag([1, 1, 1.03]), scale_atoms=True)
    with pytest.raises(StructureError, match="space group"):
        check(tetragonal, "Li2S", **expected("antifluorite", 5.7))
    rattled = li2s.copy()
    rattled.positions[0] += [0.3, 0.0, 0.0]
    with pytest.raises(StructureError):
        check(rattled, "Li2S", space_group_number=None, shells=expected("antifluorite", 5.7)["shells"])


@pytest.mark.parametrize("n,n_p", [(7, 1), (14, 2), (28, 4), (28, 2), (32, 4), (21, 0)])
def test_solid_solution_composition_and_lattice(n, n_p):
    atoms = st.antifluorite_solution(n, n_p=n_p, seed=3)
    sym = np.array(atoms.get_chemical_symbols())
    counts = {e: int(np.sum(sym == e)) for e in ("Li", "S", "P", "Cl")}
    assert counts["P"] == counts["Cl"] == n_p and counts["S"] == n - 2 * n_p
    assert 2 * counts["S"] + 3 * counts["P"] + counts["Cl"] == counts["Li"] == 2 * n   # neutral
    check(atoms, "solid solution", **expected("antifluorite", st.A_LI2S))


def test_solid_solution_default_is_the_product_and_seeded():
    a = st.antifluorite_solution(28, seed=1)
    assert a.get_chemical_formula() == "Cl4Li56P4S20"              # 4 x 5Li2S.Li3P.LiCl
    b = st.antifluorite_solution(28, seed=1)
    c = st.antifluorite_solution(28, seed=2)
    assert a.get_chemical_symbols() == b.get_chemical_symbols() != c.get_chemical_symbols()


def test_overlithiated_li_sits_in_octahedral_holes():
    a = 5.70
    atoms = st.antifluorite_solution(28, seed=0, extra_li=3)
    assert atoms.get_chemical_symbols().count("Li") == 56 + 3
    # each extra Li (the last three atoms): 6 anions at a/2, an octahedral hole; the
    # tetrahedral Li keep their 4 anions at a sqrt(3)/4
    counts, d = shell(atoms, "Li", ("S", "P", "Cl"))
    assert np.sum(np.isclose(d, a / 2)) == 3 and np.all(counts[np.isclose(d, a / 2)] == 6)
    assert np.allclose(d[-3:], a / 2)
    assert np.allclose(d[:-3], a * np.sqrt(3) / 4) and np.all(counts[:-3] == 4)


def test_bad_solid_solution_input():
    with pytest.raises(ValueError, match="cannot put"):
        st.antifluorite_solution(7, n_p=4, n_cl=4)
    with pytest.raises(ValueError, match="octahedral holes"):
        st.antifluorite_solution(7, extra_li=8)


def test_shell_dataclass_tolerance():
    s = Shell(("Li",), ("Li",), 8, 3.43 * np.sqrt(3) / 2)
    check(st.bcc_li(3.43), "bcc", shells=(s,))
    with pytest.raises(StructureError, match="expected 2.9"):
        check(st.bcc_li(3.50), "bcc", shells=(s,))
