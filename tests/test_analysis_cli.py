"""`seimd analyze` and `seimd plot` on synthetic monitor files."""

import csv
import json

import numpy as np
import pytest

from analysis_helpers import synthetic, write_run
from seimd.cli import main


@pytest.fixture
def runs(tmp_path):
    paths = []
    for T, seed in ((400.0, 1), (400.0, 2), (500.0, 1)):
        t, red, cry, am = synthetic("log", rng=seed + int(T), n=200)
        paths.append(str(write_run(tmp_path / f"T{T:g}_s{seed}.h5", t, red, cry, am,
                                   temperature_K=T, seed=seed)))
    return paths


def test_analyze_table_json_csv(runs, tmp_path, capsys):
    js, cs = tmp_path / "a.json", tmp_path / "a.csv"
    assert main(["analyze", *runs, "--json", str(js), "--csv", str(cs)]) == 0
    out = capsys.readouterr().out
    assert "400 K, 1 bar, model-x (2 run(s))" in out and "500 K" in out and "seed spread" in out
    data = json.loads(js.read_text())
    assert [len(g["runs"]) for g in data["groups"]] == [2, 1]
    r = data["groups"][0]["runs"][0]
    assert r["best_law"] == "log" and abs(r["reduced_fits"]["log"]["params"]["b"] - 3) < 0.1
    # d/dt (5 + 3 ln t) = 3/t: 1.5e-3 %/ps at t = 2000 ps
    assert r["log_law_rate_at_end_pct_per_ps"] == pytest.approx(3 / 2000, rel=0.05)
    assert data["groups"][0]["seed_spread"]["log_b_pct"]["n"] == 2
    rows = list(csv.DictReader(cs.open()))
    assert len(rows) == 3 and abs(float(rows[0]["log_b_pct"]) - 3) < 0.1


def test_analyze_overrides_and_window(runs, tmp_path, capsys):
    js = tmp_path / "a.json"
    assert main(["analyze", *runs, "--temperature", "300", "--window", "100,1000", "--quiet",
                 "--json", str(js)]) == 0
    assert capsys.readouterr().out == ""
    data = json.loads(js.read_text())
    assert len(data["groups"]) == 1 and data["groups"][0]["condition"]["temperature_K"] == 300
    assert data["groups"][0]["runs"][0]["reduced_fits"]["log"]["window_ps"] == [100, 1000]


@pytest.mark.parametrize("argv, message", [
    (["analyze", "missing.h5"], "no such file"),
    (["analyze", "BAD"], "not an SEI monitor"),
    (["analyze", "RUN", "--window", "5,1"], "T0 < T1"),
    (["plot", "RUN", "-o", "x.gif"], ".png, .pdf or .svg"),
])
def test_bad_input_one_line_exit_2(argv, message, runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "BAD").write_text("not hdf5")
    argv = [runs[0] if a == "RUN" else a for a in argv]
    with pytest.raises(SystemExit) as exc:  # argparse errors exit 2 themselves
        raise SystemExit(main(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) <= 2


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg"])
def test_plot_written(runs, tmp_path, suffix):
    out = tmp_path / f"fig{suffix}"
    assert main(["plot", *runs, "-o", str(out), "--log-time"]) == 0
    assert out.stat().st_size > 5000


def test_plot_not_blank(runs, tmp_path):
    from matplotlib.image import imread

    out = tmp_path / "fig.png"
    assert main(["plot", *runs, "-o", str(out)]) == 0
    img = imread(out)[..., :3]
    non_white = np.any(img < 0.95, axis=-1).mean()
    coloured = (np.ptp(img, axis=-1) > 0.2).mean()  # the temperature colours, not just grey
    assert 0.03 < non_white < 0.6 and coloured > 0.002


def test_plot_colours_two_models_at_one_temperature_apart(tmp_path):
    """Two potentials at 400 K get two colours; one condition per temperature keeps the
    cold-to-hot temperature colours."""
    import matplotlib.pyplot as plt
    from seimd.analysis.plot import _condition_colours
    from seimd.analysis.runs import load_run

    t, red, cry, am = synthetic("log", rng=0, n=50)
    paths = [str(write_run(tmp_path / f"{m}_{T:g}.h5", t, red, cry, am, temperature_K=T,
                           potential=f"potentials/{m}.mtp"))
             for m, T in (("model-a", 400.0), ("model-b", 400.0))]
    colours = _condition_colours([load_run(p).condition for p in paths], plt)
    assert len(colours) == 2 and len({tuple(c) for c in colours.values()}) == 2
    by_t = _condition_colours([load_run(paths[0]).condition], plt)
    assert list(by_t.values())[0] == plt.get_cmap("coolwarm")(0.0)
