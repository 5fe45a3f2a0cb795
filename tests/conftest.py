"""Shared fixtures: reference files, potentials and configurations for the tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"   # test data kept in the repository
SAMPLES = DATA
SAMPLE_MTP = SAMPLES / "lipscl-l08-sample.mtp"
SAMPLE_CFG = SAMPLES / "lipscl-sample.cfg"
ELEMENTS = ["Li", "P", "S", "Cl"]


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from tests/data/ (it is part of the repository)")
    return path


@pytest.fixture(scope="session")
def sample_mtp_path() -> Path:
    return require_file(SAMPLE_MTP)


@pytest.fixture(scope="session")
def sample_cfg_path() -> Path:
    return require_file(SAMPLE_CFG)


def random_potential(level: int, species: int, seed: int):
    """A random trained MTP of `level` with elements Li, P, S, Cl[:species] declared."""
    from seimd.mtp.basis import generate_basis
    from seimd.mtp.random import random_mtp

    b = generate_basis(level)
    mtp = random_mtp(b["alpha_index_basic"], b["alpha_index_times"], b["alpha_moment_mapping"],
                     b["alpha_moments_count"], b["radial_funcs_count"], species, seed)
    return mtp.with_elements(ELEMENTS[:species])


def lmp_executable() -> str:
    exe = shutil.which("lmp")
    if exe is None:
        raise FileNotFoundError("`lmp` is not on PATH: install seimd (pip install .) in this env")
    return exe


def mpiexec_executable() -> str:
    exe = shutil.which("mpiexec")
    if exe is None:
        raise FileNotFoundError("`mpiexec` is not on PATH (it comes with the mpich wheel)")
    return exe


def single_thread_env() -> dict:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)
