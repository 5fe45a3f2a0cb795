"""Crystalline onset and exponent, and the four stages of SEI formation.

Stages (the paper's picture of the Li | Li6PS5Cl interphase):
  1 amorphous layer  the amorphous fraction rises above its noise floor
  2 first nuclei     the crystalline fraction rises above its noise floor and stays there
  3 coalescence      the amorphous fraction peaks: nuclei grow into each other and convert
                     the amorphous layer; the conversion there is crystalline / reduced
  4 stall            the growth rate of the reduced fraction has dropped 10x below its peak

Times in ps, fractions in %.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit

__all__ = ["noise_sigma", "noise_floor", "onset_time", "onset_exponent", "avrami_fit", "smoothed_rate",
           "detect_stages"]

EARLY_FRACTION = 0.1  # the first 10% of samples describe the pristine interface
SIGMAS = 3.0          # floor = early mean + 3 sigma: a Gaussian-noise false alarm is ~0.1%


def _early(y, fraction=EARLY_FRACTION):
    return np.asarray(y, float)[:max(3, int(round(fraction * len(y))))]


def noise_sigma(y) -> float:
    """Standard deviation of the sample-to-sample noise of y, from the median absolute
    difference of neighbours (a smooth trend barely changes neighbours; 1.4826 turns a
    MAD into a Gaussian sigma, sqrt 2 undoes the differencing)."""
    d = np.diff(np.asarray(y, float))
    if len(d) == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def noise_floor(y, floor: float | None = None) -> float:
    """The value y must exceed to count as risen: `floor` when given, else the
    pristine value (median of the first 2% of samples, at least 3) plus 3 sigma of the
    noise (noise_sigma). The first samples are the freshly built interface."""
    if floor is not None:
        return float(floor)
    y = np.asarray(y, float)
    start = y[:max(3, int(0.02 * len(y)))]
    return float(np.median(start) + SIGMAS * noise_sigma(y))


def onset_time(t, y, floor: float | None = None, sustain: int | None = None) -> float | None:
    """First time after which y stays above the noise floor for `sustain` consecutive
    samples (default: 5% of the samples, at least 3); a single noisy spike is no onset.
    None when y never rises."""
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    level = noise_floor(y, floor)
    sustain = sustain or max(3, int(0.05 * len(y)))
    above = y > level
    run = 0
    for i, a in enumerate(above):
        run = run + 1 if a else 0
        if run >= sustain:
            return float(t[i - sustain + 1])
    return None


def onset_exponent(t, y, onset: float, *, upto: float = 0.5, free_t0: bool = True,
                   confidence_sigmas: float = 1.96) -> dict | None:
    """Fits y = base + A (t - t0)^n (0 before t0) and returns n with a ~95% interval
    (n +- 1.96 sigma from the covariance). The detected onset lies after the true start
    (the curve must first climb out of the noise), and a late t0 biases n low; so t0 is
    fitted too, between the first sample and the detected onset (free_t0=False fixes it
    at the onset). Only the early growth is fitted, up to where y first reaches `upto`
    of its maximum: later, impingement of the grains and the finite reduced layer bend
    the curve over (that part is Avrami's). base: the early (pristine) mean."""
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    base = float(_early(y).mean())
    reach = np.nonzero(y - base >= upto * (y.max() - base))[0]
    t_end = t[reach[0]] if len(reach) else t[-1]
    after = (t > onset) & (t <= t_end)
    if after.sum() < 4:
        return None
    dt, dy = t[after] - onset, y[after] - base
    pos = dy > 0
    p0 = [max(dy.max(), 1e-6), 1.0]
    if pos.sum() >= 2:
        n0, ln_a = np.polyfit(np.log(dt[pos]), np.log(dy[pos]), 1)
        p0 = [np.exp(ln_a), n0]

    def fixed(x, a, n):
        return a * np.power(np.clip(x - onset, 0, None), n)

    def free(x, a, n, t0):
        return a * np.power(np.clip(x - t0, 0, None), n)

    try:
        popt, pcov = curve_fit(fixed, t[after], dy, p0=p0, maxfev=20000)
        t0 = onset
        if free_t0 and onset > t[0]:
            sel = t <= t_end  # the flat part before the onset pins t0
            popt3, pcov3 = curve_fit(free, t[sel], y[sel] - base, p0=[*popt, onset - 1e-6 * (onset - t[0])],
                                     bounds=([0, 0.05, t[0]], [np.inf, 10, onset]), maxfev=20000)
            popt, pcov, t0 = popt3[:2], pcov3[:2, :2], float(popt3[2])
    except (RuntimeError, ValueError):
        return None
    err = np.sqrt(np.clip(np.diag(pcov), 0, None))
    return {"onset_ps": float(onset), "t0_ps": float(t0), "fit_end_ps": float(t_end),
            "A": float(popt[0]), "n": float(popt[1]), "n_error": float(err[1]),
            "n_ci95": [float(popt[1] - confidence_sigmas * err[1]),
                       float(popt[1] + confidence_sigmas * err[1])], "baseline_pct": base}


def avrami_fit(t, y, t0: float) -> dict | None:
    """Johnson-Mehl-Avrami-Kolmogorov fit y = y_max (1 - exp(-(k (t - t0))^n)) for t > t0
    (k in 1/ps). Meaningful only once the curve bends over towards y_max."""
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    sel = t > t0
    if sel.sum() < 5 or y[sel].max() <= 0:
        return None
    dt, ys = t[sel] - t0, y[sel]

    def law(x, ymax, k, n):
        return ymax * (1 - np.exp(-np.power(np.clip(k * x, 0, None), n)))

    try:
        popt, pcov = curve_fit(law, dt, ys, p0=[ys.max() * 1.2, 1 / dt.max(), 1.5],
                               bounds=([0, 0, 0.1], [np.inf, np.inf, 6]), maxfev=20000)
    except (RuntimeError, ValueError):
        return None
    err = np.sqrt(np.clip(np.diag(pcov), 0, None))
    return {"ymax_pct": float(popt[0]), "k_per_ps": float(popt[1]), "n": float(popt[2]),
            "n_error": float(err[2])}


def smoothed_rate(t, y, window: int | None = None):
    """dy/dt (%/ps) of y smoothed by a moving average over `window` samples (default 5%
    of the samples, odd, >= 3): the raw derivative of a monitor curve is mostly noise."""
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    window = window or max(3, int(0.05 * len(y)) | 1)
    kernel = np.ones(window) / window
    pad = window // 2
    ys = np.convolve(np.pad(y, pad, mode="edge"), kernel, mode="valid")
    return np.gradient(ys, t)


def detect_stages(t, reduced, crystalline, amorphous, *, floor: float | None = None,
                  stall_factor: float = 10.0) -> dict:
    """The four stages (see the module docstring): times in ps, None when not reached."""
    t = np.asarray(t, float)
    reduced = np.asarray(reduced, float)
    crystalline = np.asarray(crystalline, float)
    amorphous = np.asarray(amorphous, float)
    out: dict = {}
    out["amorphous_onset_ps"] = onset_time(t, amorphous)
    out["nucleation_onset_ps"] = onset_time(t, crystalline, floor)
    # coalescence: the amorphous maximum, if the amorphous fraction fell after it
    # (a maximum at the last sample is just an amorphous layer still growing)
    i = int(np.argmax(amorphous))
    noise = SIGMAS * noise_sigma(amorphous)
    drop = amorphous[i] - amorphous[-1]
    if i < len(t) - 1 and drop > max(noise, 0.05 * amorphous[i]):
        out["coalescence_ps"] = float(t[i])
        out["conversion_at_coalescence_pct"] = (float(100 * crystalline[i] / reduced[i])
                                                if reduced[i] > 0 else None)
    else:
        out["coalescence_ps"] = None
        out["conversion_at_coalescence_pct"] = None
    rate = smoothed_rate(t, reduced)
    j = int(np.argmax(rate))
    peak = rate[j]
    out["peak_rate_pct_per_ps"] = float(peak)
    out["stall_ps"] = None
    if peak > 0:
        slow = np.nonzero(rate[j:] < peak / stall_factor)[0]
        if len(slow):
            out["stall_ps"] = float(t[j + slow[0]])
    return out
