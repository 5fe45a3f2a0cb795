"""seimd.analysis: growth laws and stages recovered from synthetic curves of known law."""

import numpy as np
import pytest

from analysis_helpers import synthetic
from seimd.analysis.laws import auto_window, best_law, fit_law, fit_laws
from seimd.analysis.stages import detect_stages, onset_exponent, onset_time


@pytest.mark.parametrize("law", ["log", "power", "sqrt"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_right_law_chosen(law, seed):
    t, red, _, _ = synthetic(law, rng=seed)
    assert best_law(fit_laws(t, red)) == law


def test_log_parameters_recovered():
    t, red, _, _ = synthetic("log", noise=0.2)
    f = fit_law("log", t, red)
    # 400 points, noise 0.2 %: b within 0.05 %, and within 4 sigma of its stated error
    assert abs(f.params["b"] - 3) < 0.05
    assert 0 < f.errors["b"] < 0.05
    assert abs(f.params["a"] - 5) < 0.4
    assert f.r2 > 0.99


def test_power_and_sqrt_parameters_recovered():
    t, red, _, _ = synthetic("power", noise=0.2)
    f = fit_law("power", t, red)
    assert abs(f.params["n"] - 0.4) < 0.01 and abs(f.params["a"] - 0.8) < 0.05
    t, red, _, _ = synthetic("sqrt", noise=0.2)
    f = fit_law("sqrt", t, red)
    assert abs(f.params["a"] - 0.5) < 0.005


def test_errors_are_calibrated():
    """Over 40 noise draws the stated 1-sigma error of b covers the truth ~68% of the time."""
    hits = 0
    for seed in range(40):
        t, red, _, _ = synthetic("log", noise=1.0, rng=seed)
        f = fit_law("log", t, red)
        hits += abs(f.params["b"] - 3) < f.errors["b"]
    assert 18 <= hits <= 38


def test_window_given_and_auto():
    t, red, _, _ = synthetic("log")
    f = fit_law("log", t, red, window=(500, 1500))
    assert f.window_ps == (500, 1500) and 500 <= t[t >= 500][0]
    assert f.n_points == np.sum((t >= 500) & (t <= 1500))
    t0, t1 = auto_window(t, red)
    assert t[0] <= t0 < t1 == t[-1]
    with pytest.raises(ValueError, match="samples in the window"):
        fit_law("log", t, red, window=(10000, 20000))


def test_crystalline_onset_and_exponent():
    t, _, cry, _ = synthetic("log", onset=500, n_cryst=1.5)
    t0 = onset_time(t, cry)
    # the floor (3 sigma of 0.05 % noise) is crossed once 1e-3 (t-500)^1.5 ~ 0.15 %: ~30 ps later
    assert 500 <= t0 <= 600
    ce = onset_exponent(t, cry, 500.0)
    assert abs(ce["n"] - 1.5) < 0.05
    assert ce["n_ci95"][0] < 1.5 < ce["n_ci95"][1]


def test_no_onset_on_noise():
    rng = np.random.default_rng(3)
    t = np.linspace(1, 1000, 300)
    assert onset_time(t, rng.normal(0, 0.1, 300)) is None


def test_stages():
    t, red, cry, am = synthetic("log", onset=500, n_cryst=1.5)
    st = detect_stages(t, red, cry, am)
    assert st["nucleation_onset_ps"] is not None and 500 <= st["nucleation_onset_ps"] <= 600
    assert st["amorphous_onset_ps"] is not None and st["amorphous_onset_ps"] < 500
    # crystalline 1e-3 (t-500)^1.5 overtakes the log growth: amorphous maximum in between
    i = np.argmax(am)
    assert st["coalescence_ps"] is not None and abs(st["coalescence_ps"] - t[i]) < 150
    assert 0 < st["conversion_at_coalescence_pct"] < 100
    # reduced rate 3/t: 10x below its peak (at the start) well before the end
    assert st["stall_ps"] is not None and st["stall_ps"] < t[-1]


def test_no_coalescence_while_amorphous_grows():
    t = np.linspace(1, 1000, 200)
    red = 2 * np.log(t)
    st = detect_stages(t, red, np.zeros_like(t), red)
    assert st["coalescence_ps"] is None and st["nucleation_onset_ps"] is None


def test_window_stops_where_the_electrolyte_is_used_up():
    t = np.linspace(1, 100, 100)
    y = np.minimum(40 * np.log(t), 100.0)  # 100 % reached at t = e^2.5 ~ 12 ps
    t0, t1 = auto_window(t, y)
    assert 12 <= t1 <= 13
    f = fit_law("log", t, y)
    assert abs(f.params["b"] - 40) < 1e-6 and best_law(fit_laws(t, y)) == "log"
