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


@pytest.fixture
def profiled_sei(tmp_path, monkeypatch):
    """inputs/sei.in with profile_bins=12 added to the monitor's fix line (sei.in itself
    leaves the profile off: a file keeps the observables it was created with), and the
    Li | LPSC | (periodic) Li stack of test_sei_input."""
    import test_sei_input
    from test_sei_input import SEI_IN, write_stack

    text = SEI_IN.read_text()
    assert text.count("seimd.sei.monitor:Monitor args ") == 1
    sei_in = tmp_path / "sei_profile.in"
    sei_in.write_text(text.replace("seimd.sei.monitor:Monitor args ",
                                   "seimd.sei.monitor:Monitor args profile_bins=12 "))
    monkeypatch.setattr(test_sei_input, "SEI_IN", sei_in)
    write_stack(tmp_path / "stack.data")
    return tmp_path


def test_monitor_writes_profile_and_thickness(profiled_sei):
    from seimd.sei.h5md import read_observables
    from seimd.sei.profile import interface_thickness_nm
    from test_sei_input import run_sei

    tmp_path = profiled_sei
    run_sei(tmp_path, "p1", run_ps=0.04, monitor_every=10, thermo_every=20)
    obs = read_observables(tmp_path / "p1.h5")
    prof = obs["profile"].value
    assert prof.shape[1:] == (12, 4) and len(prof) == 5
    n_atoms = prof[0].sum()
    assert n_atoms > 0 and (prof.sum(axis=(1, 2)) == n_atoms).all()  # every atom, once
    thick = obs["reduced_thickness"].value
    assert np.allclose(thick, [reduced_thickness_nm(p, lz) for p, lz in zip(prof, obs["lz"].value)])
    assert (obs["lz"].value > 0).all()
    per_interface = obs["interface_thickness"].value
    assert per_interface.shape == (5, 2)
    assert np.allclose(per_interface, [interface_thickness_nm(p, lz)
                                       for p, lz in zip(prof, obs["lz"].value)], equal_nan=True)
    # the built stack at step 0 (Lz = 8 x 3.44 A of bcc Li + 2 A + 10.3 A of LPSC + 2 A,
    # 12 slabs of ~3.5 A): slabs 0-6 lie inside the Li block and hold Li metal only,
    # slabs 9-10 inside the LPSC cell hold no Li metal and are mostly pristine (a few anions
    # count as reduced: cutting the 52-atom cell along z breaks the PS4 units across its
    # z faces, so the P there has fewer than 4 S)
    first = prof[0]
    assert first[:7, 0].sum() > 0 and first[:7, 1:].sum() == 0
    assert first[9:11, 0].sum() == 0 and first[9:11, 1].sum() > 4 * first[9:11, 2:].sum()


@pytest.mark.mpi
def test_profile_identical_on_two_ranks(profiled_sei):
    """Profiles are summed over ranks (Allreduce of integer counts): 1 and 2 ranks agree."""
    from seimd.sei.h5md import read_observables
    from test_sei_input import run_sei

    tmp_path = profiled_sei
    run_sei(tmp_path, "r1", run_ps=0.04, monitor_every=10, thermo_every=20)
    run_sei(tmp_path, "r2", ranks=2, run_ps=0.04, monitor_every=10, thermo_every=20)
    one, two = (read_observables(tmp_path / f"{p}.h5") for p in ("r1", "r2"))
    assert np.array_equal(one["profile"].value, two["profile"].value)
    assert np.allclose(one["interface_thickness"].value, two["interface_thickness"].value,
                       equal_nan=True)
    assert np.allclose(one["reduced_thickness"].value, two["reduced_thickness"].value)


def test_sei_run_analysed_and_plotted_end_to_end(tmp_path, capsys):
    """inputs/sei.in as a user runs it, with profiles and per-atom labels in the dump, then
    `seimd analyze --frames`, `seimd plot` and `seimd plot --snapshot` on its files."""
    import json

    from matplotlib.image import imread
    from seimd.cli import main
    from test_sei_input import run_sei, write_stack

    write_stack(tmp_path / "stack.data")
    run_sei(tmp_path, "e2e", run_ps=0.06, monitor_every=10, thermo_every=20, dump_every=20,
            monitor_args="profile_bins=12 labels=yes", dump_columns="id type x y z f_sei")
    h5, dump = str(tmp_path / "e2e.h5"), str(tmp_path / "e2e.lammpstrj")
    js = tmp_path / "e2e.json"
    assert main(["analyze", h5, "--frames", dump, "--json", str(js)]) == 0
    r = json.loads(js.read_text())["groups"][0]["runs"][0]
    perc = r["percolation"]
    assert perc["n_frames"] == 4 and perc["timestep_fs"] == pytest.approx(1.0)
    assert [f["step"] for f in perc["series"]] == [0, 20, 40, 60]
    # a pristine stack, 60 fs in: Li metal and pristine electrolyte, no sealing layer
    assert perc["first_separated_ps"] is None
    assert {f["state"] for f in perc["series"]} <= {"leaking", "no crystalline atoms"}
    assert len(r["interfaces"]) == 2 and r["n_samples"] == 7
    for args, name in (([h5], "fig.png"), (["--snapshot", dump, "--renderer", "matplotlib"], "snap.png")):
        out = tmp_path / name
        assert main(["plot", *args, "-o", str(out)]) == 0
        img = imread(out)[..., :3]
        assert np.any(img < 0.95, axis=-1).mean() > 0.02
    assert "seals the anode" in capsys.readouterr().out
