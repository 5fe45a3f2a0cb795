"""Per-interface thickness, dump frames -> stage 4 (`seimd analyze --frames`), the
thickness / depth-map row of `seimd plot` and the Fig. 4 snapshot (`seimd plot --snapshot`)."""

import json

import numpy as np
import pytest

from analysis_helpers import synthetic
from seimd.analysis.percolation import AMORPHOUS
from seimd.cli import main
from seimd.sei.h5md import H5MDObservables
from seimd.sei.profile import interface_thickness_nm, reduced_thickness_nm
from test_analysis_percolation import CELL, lattice


def layered_profile():
    """20 slabs of 2 A: Li metal 0-3 and 16-19; electrolyte 4-15 with 3 reduced slabs
    grown from the lower face (4-6), 1 from the upper (15), pristine in between."""
    p = np.zeros((20, 4), int)
    p[:4, 0] = p[16:, 0] = 6
    p[4:7, 2] = 5
    p[7:15, 1] = 5
    p[15, 3] = 5
    return p


def test_interface_thickness_each_face_and_wrap_around():
    p = layered_profile()
    first, second = interface_thickness_nm(p, 40.0)
    assert first == pytest.approx(0.6) and second == pytest.approx(0.2)
    assert first + second == pytest.approx(reduced_thickness_nm(p, 40.0))
    for shift in (3, 7, 11, 19):  # the electrolyte wrapping around the box: same faces
        assert np.allclose(interface_thickness_nm(np.roll(p, shift, axis=0), 40.0), [0.6, 0.2])


def test_interface_thickness_fully_reduced_and_undefined():
    p = layered_profile()
    p[4:16, 2] += p[4:16, 1] + p[4:16, 3]
    p[:, 1] = p[:, 3] = 0
    assert np.allclose(interface_thickness_nm(p, 40.0), [1.2, 1.2])  # split in the middle
    no_metal = layered_profile()
    no_metal[:, 0] = 0
    no_metal[:4, 1] = no_metal[16:, 1] = 1
    assert np.isnan(interface_thickness_nm(no_metal, 40.0)).all()


def write_dump(path, frames):
    """LAMMPS text dump, columns id type x y z f_sei, orthogonal periodic box CELL."""
    with open(path, "w") as fh:
        for step, (pos, labels) in frames:
            fh.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{len(pos)}\n"
                     "ITEM: BOX BOUNDS pp pp pp\n"
                     + "".join(f"0 {L}\n" for L in CELL) + "ITEM: ATOMS id type x y z f_sei\n")
            for i, (x, lab) in enumerate(zip(pos, labels)):
                fh.write(f"{i + 1} 1 {x[0]} {x[1]} {x[2]} {lab}\n")


def write_profiled_run(path, n=120):
    """A monitor file with profiles: the lower face's reduced layer grows as sqrt(t), the
    upper face's half as fast. Steps 100 (i + 1), so the timestep is t_end / (100 n) ps."""
    t, red, cry, am = synthetic("sqrt", n=n, rng=3)
    obs = {k: ("%", (), np.float64) for k in ("reduced", "crystalline", "amorphous")}
    obs.update({"profile": (None, (20, 4), np.int64), "lz": ("Ang", (), np.float64),
                "reduced_thickness": ("nm", (), np.float64)})  # no per-interface: computed
    with H5MDObservables.open(path, obs, {"temperature_K": 400.0, "seed": 1,
                                          "potential": "x/model-p.mtp"}, creator_version="t") as h5:
        for i, ti in enumerate(t):
            p = np.zeros((20, 4), np.int64)
            p[:4, 0] = p[16:, 0] = 6
            p[4:16, 1] = 6
            lo = 6 * min(6.0, 0.2 * np.sqrt(ti))     # reduced atoms per face
            hi = lo / 2
            for face, amount, slabs in ((0, lo, range(4, 10)), (1, hi, range(15, 9, -1))):
                for s in slabs:
                    take = int(min(6, round(amount)))
                    p[s, 1] -= take
                    p[s, 2] += take
                    amount -= take
            h5.append(100 * (i + 1), float(ti), {"reduced": red[i], "crystalline": cry[i],
                                                 "amorphous": am[i], "profile": p,
                                                 "lz": 40.0, "reduced_thickness":
                                                 reduced_thickness_nm(p, 40.0)})
    return path, t


def test_analyze_frames_finds_when_the_layer_seals(tmp_path, capsys):
    run, t = write_profiled_run(tmp_path / "run.h5")
    pos, labels = lattice()
    leaky = labels.copy()
    hole = np.nonzero((pos[:, 0] == 10) & (pos[:, 1] == 10) & (pos[:, 2] >= 6) & (pos[:, 2] < 12))[0]
    leaky[hole] = AMORPHOUS
    write_dump(tmp_path / "run.lammpstrj", [(1000, (pos, leaky)), (2000, (pos, leaky)),
                                            (3000, (pos, labels))])
    js = tmp_path / "a.json"
    assert main(["analyze", str(run), "--frames", str(tmp_path / "run.lammpstrj"),
                 "--cutoff", "2.1", "--json", str(js)]) == 0
    out = capsys.readouterr().out
    dt = (t[-1] - t[0]) / (100 * (len(t) - 1))           # ps per step, from the file
    r = json.loads(js.read_text())["groups"][0]["runs"][0]
    perc = r["percolation"]
    assert [f["separated"] for f in perc["series"]] == [False, False, True]
    assert perc["series"][0]["leaking_paths"] == 1
    assert perc["first_separated_ps"] == pytest.approx(3000 * dt)
    assert r["stages"]["sealed_ps"] == pytest.approx(3000 * dt)
    assert "seals the anode" in out and f"first at {3000 * dt:.4g} ps" in out
    # per interface: the lower face grows twice as thick, both as sqrt(t) (the chosen law)
    first, second = (s["final_thickness_nm"] for s in r["interfaces"])
    assert first == pytest.approx(2 * second, rel=0.15) and first > 0.3
    assert "interface 1" in out and "interface 2" in out


def test_percolation_states_when_there_is_nothing_to_seal():
    """A frame without Li metal, without pristine electrolyte or without crystalline atoms
    is not stage 4 (the separation would be trivially true for the first two)."""
    from seimd.analysis.frames import LabelFrame, percolation_series
    from seimd.analysis.percolation import CRYSTALLINE, LI_METAL, PRISTINE

    pos, labels = lattice()
    cases = {"no Li metal": np.where(labels == LI_METAL, AMORPHOUS, labels),
             "no pristine electrolyte": np.where(labels == PRISTINE, AMORPHOUS, labels),
             "no crystalline atoms": np.where(labels == CRYSTALLINE, AMORPHOUS, labels),
             "sealed": labels}
    frames = [LabelFrame(10 * k, pos, lab, np.array(CELL), np.ones(3, bool))
              for k, lab in enumerate(cases.values())]
    perc = percolation_series(frames, 0.001, cutoff=2.1, progress=None)
    assert [f["state"] for f in perc["series"]] == list(cases)
    assert [f["separated"] for f in perc["series"]] == [False, False, False, True]
    assert perc["first_separated_ps"] == pytest.approx(0.03)
    assert perc["frames_by_state"] == {k: 1 for k in cases}


def test_analyze_frames_bad_input(tmp_path, capsys):
    run, _ = write_profiled_run(tmp_path / "run.h5", n=20)
    (tmp_path / "bad.lammpstrj").write_text("garbage\n")
    pos, labels = lattice()
    write_dump(tmp_path / "ok.lammpstrj", [(10, (pos, labels))])
    for argv, message in (
            (["--frames", str(tmp_path / "none.lammpstrj")], "no such file"),
            (["--frames", str(tmp_path / "bad.lammpstrj")], "not a LAMMPS text dump"),
            (["--frames", str(tmp_path / "ok.lammpstrj"), "--label-column", "c_x"], "no per-atom column"),
            (["--frames", str(tmp_path / "ok.lammpstrj"), "--cutoff", "15"], "half the periodic")):
        with pytest.raises(SystemExit) as exc:
            raise SystemExit(main(["analyze", str(run), *argv]))
        err = capsys.readouterr().err.strip()
        assert exc.value.code == 2 and message in err and len(err.splitlines()) == 1, err


def _image_stats(path):
    from matplotlib.image import imread

    img = imread(path)[..., :3]
    return img.shape, np.any(img < 0.95, axis=-1).mean()


def test_plot_thickness_row_and_depth_map(tmp_path):
    run, _ = write_profiled_run(tmp_path / "run.h5")
    out = tmp_path / "fig.png"
    assert main(["plot", str(run), "-o", str(out)]) == 0
    shape, ink = _image_stats(out)
    assert shape[0] > shape[1] * 0.7                 # two rows: taller than the one-row figure
    assert ink > 0.15                                # the depth map fills its panel


@pytest.mark.parametrize("renderer", ["matplotlib", "auto"])
def test_plot_snapshot(tmp_path, renderer, capsys):
    pos, labels = lattice()
    write_dump(tmp_path / "f.lammpstrj", [(5, (pos, labels))])
    out = tmp_path / "snap.png"
    assert main(["plot", "--snapshot", str(tmp_path / "f.lammpstrj"), "--renderer", renderer,
                 "-o", str(out)]) == 0
    said = capsys.readouterr()
    _, ink = _image_stats(out)
    assert ink > 0.02   # 200 distinct columns of atoms seen along y, plus axes and legend
    if renderer == "auto":  # OVITO where it can render, else a one-line fallback note
        assert "(OVITO, step 5)" in said.out or ("drawn with matplotlib" in said.err
                                                 and len(said.err.strip().splitlines()) == 1)


@pytest.mark.parametrize("renderer", ["matplotlib", "auto"])
def test_plot_snapshot_colours_by_label(tmp_path, renderer):
    """The matplotlib picture shows crystalline red and pristine blue in the proportion of
    their layers (6 crystalline and 8 pristine atomic planes)."""
    from matplotlib.image import imread

    pos, labels = lattice()
    write_dump(tmp_path / "f.lammpstrj", [(5, (pos, labels))])
    out = tmp_path / "snap.png"
    assert main(["plot", "--snapshot", str(tmp_path / "f.lammpstrj"), "--renderer", renderer,
                 "-o", str(out)]) == 0
    img = imread(out)[..., :3]
    red = (img[..., 0] > 0.6) & (img[..., 1] < 0.3) & (img[..., 2] < 0.3)
    blue = (img[..., 2] > 0.6) & (img[..., 0] < 0.35)
    assert red.mean() > 0.002 and 0.55 < red.mean() / blue.mean() < 0.95
