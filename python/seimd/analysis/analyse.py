"""The analysis of one run and the seed-to-seed spread of a condition."""

from __future__ import annotations

import numpy as np

from .laws import best_law, fit_laws
from .runs import Run
from .stages import avrami_fit, detect_stages, onset_exponent, onset_time

__all__ = ["analyse_run", "seed_spread"]


def analyse_run(run: Run, *, window: tuple[float, float] | None = None,
                floor: float | None = None, avrami: bool = False) -> dict:
    """Growth laws of the reduced fraction, crystalline onset/exponent, stages.
    window: fit window (t0, t1) in ps (default: automatic, after the transient);
    floor: crystalline noise floor in % (default: from the early, pristine values)."""
    t = run.time_ps
    out = {"path": run.path, "label": run.label, "temperature_K": run.temperature_K,
           "pressure_bar": run.pressure_bar, "model": run.model, "seed": run.seed,
           "n_samples": int(len(t)), "time_range_ps": [float(t[0]), float(t[-1])],
           "final_pct": {"reduced": float(run.reduced[-1]), "crystalline": float(run.crystalline[-1]),
                         "amorphous": float(run.amorphous[-1])}}
    try:
        fits = fit_laws(t, run.reduced, window)
        out["reduced_fits"] = {k: f.as_dict() for k, f in fits.items()}
        out["best_law"] = best_law(fits)
        # Butler-Volmer reading of the log law: flux ~ exp(-x/b), dx/dt = b/t
        b = out["reduced_fits"].get("log", {}).get("params", {}).get("b")
        out["log_law_rate_at_end_pct_per_ps"] = None if b is None else float(b / t[-1])
    except ValueError as exc:  # too few samples or flat curve: say so, analyse the rest
        out["reduced_fits"], out["best_law"], out["fit_error"] = {}, None, str(exc)
    if run.thickness_nm is not None:  # the same laws for the layer thickness (nm)
        try:
            tf = fit_laws(t, run.thickness_nm, window)
            out["thickness_fits"] = {k: f.as_dict() for k, f in tf.items()}
            out["thickness_best_law"] = best_law(tf)
            out["final_thickness_nm"] = float(run.thickness_nm[-1])
        except ValueError as exc:
            out["thickness_fits"], out["thickness_error"] = {}, str(exc)
    if run.interface_thickness_nm is not None:  # and for each interface on its own
        out["interfaces"] = [_thickness_fit(t, run.interface_thickness_nm[:, k], window)
                             for k in range(run.interface_thickness_nm.shape[1])]
    t0 = onset_time(t, run.crystalline, floor)
    out["crystalline_onset_ps"] = t0
    out["crystalline_exponent"] = onset_exponent(t, run.crystalline, t0) if t0 is not None else None
    if avrami and t0 is not None:
        out["avrami"] = avrami_fit(t, run.crystalline, t0)
    out["stages"] = detect_stages(t, run.reduced, run.crystalline, run.amorphous, floor=floor)
    return out


def _thickness_fit(t, thickness, window) -> dict:
    """The laws fitted to one interface's reduced-layer thickness (nm)."""
    ok = np.isfinite(thickness)   # NaN: no Li metal (anode used up) or no electrolyte left
    if not ok.any():
        return {"final_thickness_nm": None, "last_ps": None, "fits": {}, "best_law": None,
                "error": "no analysis with both Li metal and electrolyte"}
    last = int(np.nonzero(ok)[0][-1])
    out = {"final_thickness_nm": float(thickness[last]),
           "last_ps": None if last == len(t) - 1 else float(t[last])}
    try:
        fits = fit_laws(t[ok], thickness[ok], window)
        out["fits"] = {k: f.as_dict() for k, f in fits.items()}
        out["best_law"] = best_law(fits)
    except ValueError as exc:
        out["fits"], out["best_law"], out["error"] = {}, None, str(exc)
    return out


def _stat(values) -> dict | None:
    v = np.array([x for x in values if x is not None and np.isfinite(x)], float)
    if len(v) == 0:
        return None
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "n": int(len(v))}


def seed_spread(results: list[dict]) -> dict:
    """Mean and sample standard deviation over the seeds of one condition of the log-law
    slope b, the crystalline exponent n, the onset time and the final fractions."""
    def get_b(r):
        return r.get("reduced_fits", {}).get("log", {}).get("params", {}).get("b")

    def get_n(r):
        return (r.get("crystalline_exponent") or {}).get("n")

    return {"log_b_pct": _stat(map(get_b, results)),
            "crystalline_n": _stat(map(get_n, results)),
            "crystalline_onset_ps": _stat(r.get("crystalline_onset_ps") for r in results),
            "final_reduced_pct": _stat(r["final_pct"]["reduced"] for r in results),
            "final_crystalline_pct": _stat(r["final_pct"]["crystalline"] for r in results)}
