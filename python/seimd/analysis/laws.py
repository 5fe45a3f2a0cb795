"""Growth laws of the reduced fraction and their least-squares fits.

The paper's law is x(t) = a + b ln t: Butler-Volmer kinetics with a vanishing Li
chemical-potential difference across the layer gives a growth rate that falls as 1/t.
It competes with a power law a t^n and diffusion-limited growth a t^(1/2) (parabolic
law); the law with the smallest AIC wins (AIC penalises the extra parameter of the
power and log laws over the one-parameter parabolic law).

Times are in ps, fractions in % (whatever unit the caller uses comes back in a).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

__all__ = ["LAWS", "LawFit", "fit_law", "fit_laws", "best_law", "auto_window"]


def _log(t, a, b):
    return a + b * np.log(t)


def _power(t, a, n):
    return a * np.power(t, n)


def _sqrt(t, a):
    return a * np.sqrt(t)


# name -> (function, parameter names, formula shown in reports)
LAWS = {
    "log": (_log, ("a", "b"), "a + b ln(t/ps)"),
    "power": (_power, ("a", "n"), "a (t/ps)^n"),
    "sqrt": (_sqrt, ("a",), "a (t/ps)^(1/2)"),
}


@dataclass
class LawFit:
    """One law fitted on a window: parameters, 1-sigma errors (from the covariance),
    R^2 and AIC = N ln(RSS/N) + 2k (k fitted parameters)."""

    law: str
    params: dict[str, float]
    errors: dict[str, float]
    r2: float
    aic: float
    n_points: int
    window_ps: tuple[float, float]
    formula: str = field(default="")

    def __call__(self, t):
        func = LAWS[self.law][0]
        return func(np.asarray(t, float), *self.params.values())

    def as_dict(self) -> dict:
        return {"law": self.law, "formula": self.formula, "params": self.params,
                "errors": self.errors, "r2": self.r2, "aic": self.aic,
                "n_points": self.n_points, "window_ps": list(self.window_ps)}


def auto_window(t, y, *, start_fraction: float = 0.1,
                saturation: float = 100.0) -> tuple[float, float]:
    """The fit window after the initial transient: from the first time (> 0) at which y
    has covered `start_fraction` of its total rise, to the last time, or to the first
    time y reaches 98% of `saturation` (100 %: the electrolyte is used up, as in a small
    model, and growth stops for lack of it, not by the kinetics the laws describe).
    Before the start the curve is set by the equilibration of the fresh interface."""
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    keep = t > 0
    t, y = t[keep], y[keep]
    if len(t) < 3:
        raise ValueError(f"need at least 3 samples at t > 0 to fit a law, got {len(t)}")
    full = np.nonzero(y >= 0.98 * saturation)[0]
    j = max(int(full[0]), 2) if len(full) else len(t) - 1
    rise = y[:j + 1].max() - y[0]
    if rise <= 0:
        return float(t[0]), float(t[j])
    i = int(np.argmax(y[:j + 1] >= y[0] + start_fraction * rise))
    i = min(i, j - 2)  # keep at least 3 points
    return float(t[i]), float(t[j])


def _p0(law: str, t, y):
    if law == "log":
        b, a = np.polyfit(np.log(t), y, 1)
        return [a, b]
    if law == "power":
        pos = y > 0
        if pos.sum() >= 2:
            n, ln_a = np.polyfit(np.log(t[pos]), np.log(y[pos]), 1)
            return [np.exp(ln_a), n]
        return [max(y.max(), 1e-6), 0.5]
    return [np.sum(y * np.sqrt(t)) / np.sum(t)]


def fit_law(law: str, t, y, window: tuple[float, float] | None = None) -> LawFit:
    """Fits `law` ("log", "power" or "sqrt") to y(t) on window (t0, t1) in ps, t > 0."""
    if law not in LAWS:
        raise ValueError(f"unknown law {law!r} (known: {', '.join(LAWS)})")
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    if window is None:
        window = auto_window(t, y)
    t0, t1 = window
    sel = (t >= t0) & (t <= t1) & (t > 0)
    ts, ys = t[sel], y[sel]
    func, names, formula = LAWS[law]
    if len(ts) < len(names) + 1:
        raise ValueError(f"{law} law: {len(ts)} samples in the window {t0:g}-{t1:g} ps, "
                         f"need at least {len(names) + 1}")
    try:
        with warnings.catch_warnings():  # an exact fit has no covariance: errors come back inf
            warnings.simplefilter("ignore", OptimizeWarning)
            popt, pcov = curve_fit(func, ts, ys, p0=_p0(law, ts, ys), maxfev=20000)
    except RuntimeError:  # no convergence: report the law as unusable, not as a crash
        popt = np.full(len(names), np.nan)
        pcov = np.full((len(names), len(names)), np.nan)
    resid = ys - func(ts, *popt)
    rss = float(np.sum(resid ** 2))
    tss = float(np.sum((ys - ys.mean()) ** 2))
    n = len(ts)
    r2 = 1.0 - rss / tss if tss > 0 else float("nan")
    # a perfect fit has RSS 0: floor it so that AIC stays finite
    aic = n * np.log(max(rss, 1e-300) / n) + 2 * len(names)
    err = np.sqrt(np.clip(np.diag(pcov), 0, None))
    return LawFit(law, dict(zip(names, map(float, popt))), dict(zip(names, map(float, err))),
                  float(r2), float(aic), n, (float(t0), float(t1)), formula)


def fit_laws(t, y, window=None, laws=tuple(LAWS)) -> dict[str, LawFit]:
    """Every law on the same window (the automatic one unless given)."""
    if window is None:
        window = auto_window(t, y)
    return {law: fit_law(law, t, y, window) for law in laws}


def best_law(fits: dict[str, LawFit]) -> str:
    """The law with the smallest AIC (NaN fits never win)."""
    finite = {k: f.aic for k, f in fits.items() if np.isfinite(f.aic) and np.isfinite(f.r2)}
    if not finite:
        raise ValueError("no law could be fitted")
    return min(finite, key=finite.get)
