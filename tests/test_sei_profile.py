"""Monitor phase-label profiles along z and the reduced-layer thickness (profile_bins=N)."""

from __future__ import annotations

import numpy as np
import pytest

from seimd.sei.profile import label_profile, reduced_thickness_nm


def test_label_profile_counts_and_wraps():
    z = np.array([0.5, 1.5, 9.9, 10.2, -0.5, 5.0])  # 10.2 and -0.5 wrap into the box [0, 10)
    labels = np.array([0, 1, 2, 3, 3, 1])
    p = label_profile(z, labels, 0.0, 10.0, 10)
    assert p.shape == (10, 4) and p.sum() == 6
    assert p[0].tolist() == [1, 0, 0, 1] and p[9].tolist() == [0, 0, 1, 1]
    assert p[1, 1] == 1 and p[5, 1] == 1


def test_thickness():
    # 10 slabs of 2 A: 2 Li metal, 3 fully reduced, 1 half reduced, 4 pristine
    p = np.zeros((10, 4), int)
    p[:2, 0] = 5
    p[2:5, 2] = 4
    p[5, 1], p[5, 3] = 2, 2
    p[6:, 1] = 4
    assert reduced_thickness_nm(p, 20.0) == pytest.approx(3.5 * 2.0 / 10)


def test_monitor_writes_profile_and_thickness(tmp_path, monkeypatch):
    """inputs/sei.in with profile_bins=12 added to the monitor's fix line (sei.in itself
    leaves the profile off: a file keeps the observables it was created with)."""
    import test_sei_input
    from seimd.sei.h5md import read_observables
    from test_sei_input import SEI_IN, run_sei, write_stack

    text = SEI_IN.read_text()
    assert text.count("seimd.sei.monitor:Monitor args ") == 1
    sei_in = tmp_path / "sei_profile.in"
    sei_in.write_text(text.replace("seimd.sei.monitor:Monitor args ",
                                   "seimd.sei.monitor:Monitor args profile_bins=12 "))
    monkeypatch.setattr(test_sei_input, "SEI_IN", sei_in)
    write_stack(tmp_path / "stack.data")
    run_sei(tmp_path, "p1", run_ps=0.04, monitor_every=10, thermo_every=20)
    obs = read_observables(tmp_path / "p1.h5")
    prof = obs["profile"].value
    assert prof.shape[1:] == (12, 4) and len(prof) == 5
    n_atoms = prof[0].sum()
    assert n_atoms > 0 and (prof.sum(axis=(1, 2)) == n_atoms).all()  # every atom, once
    thick = obs["reduced_thickness"].value
    assert np.allclose(thick, [reduced_thickness_nm(p, lz) for p, lz in zip(prof, obs["lz"].value)])
    assert (obs["lz"].value > 0).all()
