"""seimd's MTPCalculator (the C++ kernel of `pair_style mtp`) against motep.

motep 0.2.0 (MIT, PyPI) is an independent implementation of MLIP-2's MTP and a
declared test dependency (the ``test`` extra), so nothing here is skipped.
It runs on its fastest engine that imports (the compiled ``cext`` one, which
ships in its wheel; numba / numpy only as fallbacks).

motep's conventions, and how the comparison maps them onto seimd's:

* Species. motep maps atoms to MTP species through ``atoms.numbers``: species
  index k is the atom whose atomic number is ``mtp_data.species[k]``. A file
  that declares no species gets ``species = [0, 1, ..., C-1]``, i.e. it would
  take atomic number 0 ('X') as species 0, 1 ('H') as species 1, ... We set
  ``mtp_data.species`` to the atomic numbers of the symbols of species
  0..C-1 (Li, P, S, Cl -> [3, 15, 16, 17]); seimd gets the same map as
  ``type_map`` (or reads ``atoms.arrays['mtp_type']`` for .cfg configurations).
* Stress. motep's ``stress`` is ASE's: Voigt xx yy zz yz xz xy, eV/A^3,
  sigma = (1/V) dE/d(strain), positive = tensile (checked against finite
  differences of its energy), the same sign and units as seimd's
  ``MTPCalculator`` stress. Neither is the MLIP ``PlusStress`` (= -sigma V, eV).
* Neighbour list. motep's engine caches an ASE neighbour list (skin 0.3 A) and
  rebuilds it only when atoms move by more than the skin, so every
  configuration here gets a fresh motep calculator.
* File parsing. motep splits each ``key = value`` line on every '=', which is why
  seimd declares elements in ``potential_tag`` as ``elements:Li,P,S`` (no '='):
  motep reads seimd's own files as they are (tested below with the shipped potential).
* Both codes apply the file's ``scaling`` to the radial basis (MLIP-2's rule),
  so the trained sample (scaling 0.094) is a real check of that too.

Tolerances (the two codes agree to ~1e-14 in practice; these are the contract):
energy relative 1e-6; site energies 1e-6 * max(1 eV, max |e_i|); forces
1e-6 * max(1 eV/A, max |F|); stress 1e-6 * max(1e-3 eV/A^3, max |sigma|)
(1e-3 eV/A^3 = 0.16 GPa, a small stress for these cells).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.data import atomic_numbers

from conftest import ELEMENTS, SAMPLE_CFG, random_potential, require_file
from seimd.mtp.motep_oracle import motep_engine_name
from structures_for_tests import tiny_bcc, triclinic_lpsc

from seimd.io.cfg import read_cfg, to_atoms
from seimd.mtp.calculator import MTPCalculator

from motep.calculator import MTP as MotepMTP
from motep.io.mlip.mtp import read_mtp as motep_read_mtp

RTOL = 1e-6


MOTEP_ENGINE = motep_engine_name()


def motep_calculator(mtp_path: Path, symbols: list[str]) -> MotepMTP:
    """A fresh motep ASE calculator; species k of the file is element symbols[k]."""
    data = motep_read_mtp(mtp_path)
    assert data.species_count == len(symbols)
    data.species = [atomic_numbers[s] for s in symbols]
    return MotepMTP(data, engine=MOTEP_ENGINE)


def motep_file(mtp, path: Path) -> Path:
    """Write `mtp` (a seimd MTP) where motep can read it: no '=' in the tag line."""
    mtp.write(path)
    return path


def compare(atoms, seimd_calc, motep_calc, label: str) -> None:
    a = atoms.copy()
    a.calc = seimd_calc
    e_s, f_s, s_s, ei_s = (a.get_potential_energy(), a.get_forces(), a.get_stress(),
                           a.get_potential_energies())
    b = atoms.copy()
    b.calc = motep_calc
    e_m, f_m, s_m, ei_m = (b.get_potential_energy(), b.get_forces(), b.get_stress(),
                           b.get_potential_energies())

    assert np.isfinite(e_m) and abs(e_m) > 0.0, label
    np.testing.assert_allclose(e_s, e_m, rtol=RTOL, atol=0.0, err_msg=f"{label}: energy (eV)")
    np.testing.assert_allclose(ei_s, ei_m, rtol=0.0,
                               atol=RTOL * max(1.0, np.abs(ei_m).max()),
                               err_msg=f"{label}: site energies (eV)")
    np.testing.assert_allclose(f_s, f_m, rtol=0.0,
                               atol=RTOL * max(1.0, np.abs(f_m).max()),
                               err_msg=f"{label}: forces (eV/A)")
    np.testing.assert_allclose(s_s, s_m, rtol=0.0,
                               atol=RTOL * max(1e-3, np.abs(s_m).max()),
                               err_msg=f"{label}: stress (eV/A^3, ASE Voigt)")


# ----------------------------------------------------------------- trained sample potential

SAMPLE_CONFIGS = read_cfg(require_file(SAMPLE_CFG))


def test_sample_cfg_has_twenty_triclinic_configs():
    assert len(SAMPLE_CONFIGS) == 20
    tilted = [c for c in SAMPLE_CONFIGS
              if np.abs(c.cell - np.diag(np.diag(c.cell))).max() > 1e-3]
    assert len(tilted) >= 5  # the non-orthogonal cells really are among them


@pytest.mark.parametrize("index", range(len(SAMPLE_CONFIGS)),
                         ids=[f"cfg{i:02d}" for i in range(len(SAMPLE_CONFIGS))])
def test_sample_potential_on_sample_configs(sample_mtp_path, index):
    # The .cfg types are MTP species (kept in atoms.arrays['mtp_type'], which seimd reads);
    # symbols Li, P, S, Cl give motep the atomic numbers of the same species.
    atoms = to_atoms(SAMPLE_CONFIGS[index], ELEMENTS)
    compare(atoms, MTPCalculator(sample_mtp_path, threads=1),
            motep_calculator(sample_mtp_path, ELEMENTS), f"sample cfg {index}")


def test_sample_potential_on_four_species_lpsc(sample_mtp_path, rng):
    # The sample configurations hold Li only; this exercises the Li-P-S-Cl cross terms
    # of the trained potential on the 52-atom LPSC cell, sheared and rattled.
    atoms = triclinic_lpsc(rng, species=4)
    compare(atoms, MTPCalculator(sample_mtp_path, type_map=ELEMENTS, threads=1),
            motep_calculator(sample_mtp_path, ELEMENTS), "sample potential, LPSC")


# ----------------------------------------------------------------- random level-16 potentials


@pytest.mark.parametrize("species", [2, 3])
def test_random_level16_on_triclinic_lpsc(tmp_path, rng, species):
    mtp = random_potential(16, species, seed=100 + species)
    path = motep_file(mtp, tmp_path / f"l16-{species}.mtp")
    symbols = ELEMENTS[:species]
    # LPSC geometry (sheared, rattled by 0.08 A), species drawn at random among `symbols`.
    atoms = triclinic_lpsc(rng, species=species)
    assert len(set(atoms.get_chemical_symbols())) == species
    compare(atoms, MTPCalculator(mtp, type_map=symbols, threads=1),
            motep_calculator(path, symbols), f"level 16, {species} species, LPSC")


def test_random_level16_on_cell_smaller_than_cutoff(tmp_path, rng):
    # 2-atom triclinic bcc cell (3.43 A < 5 A cutoff): atoms see many of their own images.
    mtp = random_potential(16, 2, seed=7)
    path = motep_file(mtp, tmp_path / "l16-2.mtp")
    atoms = tiny_bcc(rng, species=2)
    atoms.set_chemical_symbols(["Li", "P"])
    compare(atoms, MTPCalculator(mtp, type_map=ELEMENTS[:2], threads=1),
            motep_calculator(path, ELEMENTS[:2]), "level 16, 2-atom cell")


def test_shipped_potential_with_elements_tag_reads_in_motep(rng):
    """seimd's own potential file (elements in potential_tag) is read by motep unchanged."""
    shipped = Path(__file__).resolve().parents[1] / "potentials" / "lipscl-l08-sample.mtp"
    assert "elements:Li,P,S,Cl" in shipped.read_text()
    atoms = triclinic_lpsc(rng, 4)
    compare(atoms, MTPCalculator(shipped, threads=1), motep_calculator(shipped, ELEMENTS),
            "shipped potential")
