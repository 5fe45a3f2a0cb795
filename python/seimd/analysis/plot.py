"""Figures of SEI monitor runs (matplotlib with the Agg backend: no display needed).

Panel 1 (the paper's Fig. 3): reduced % vs time, one colour per temperature, the first
seed of a condition thick and further seeds thin, with the best fitted law dashed.
Panel 2 (Fig. 5): crystalline % (solid) and amorphous % (dotted) vs time, with the
crystalline onset law A (t - t0)^n dashed.
"""

from __future__ import annotations

import numpy as np

from .analyse import analyse_run
from .laws import LAWS
from .runs import Run, group_runs

__all__ = ["plot_runs"]


def _law_curve(fit: dict, t):
    func = LAWS[fit["law"]][0]
    return func(t, *fit["params"].values())


def plot_runs(runs: list[Run], output: str, *, log_time: bool = False,
              window=None, floor=None, fits: bool = True, dpi: int = 120) -> str:
    """Writes the two-panel figure to `output` (format from the suffix: .png, .pdf, .svg)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    temps = sorted({r.temperature_K for r in runs if r.temperature_K is not None})
    cmap = plt.get_cmap("coolwarm")
    colour = {T: cmap(i / max(1, len(temps) - 1)) for i, T in enumerate(temps)}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for condition, group in group_runs(runs).items():
        for k, run in enumerate(group):
            c = colour.get(run.temperature_K, "k")
            lw = 2.2 if k == 0 else 0.8
            res = analyse_run(run, window=window, floor=floor) if fits else {}
            t = run.time_ps
            ax1.plot(t, run.reduced, color=c, lw=lw, label=run.label if k == 0 else None)
            ax2.plot(t, run.crystalline, color=c, lw=lw, label=run.label if k == 0 else None)
            ax2.plot(t, run.amorphous, color=c, lw=lw, ls=":")
            if fits and res.get("best_law"):
                f = res["reduced_fits"][res["best_law"]]
                tt = np.linspace(*f["window_ps"], 200)
                ax1.plot(tt, _law_curve(f, tt), color="k", lw=0.8, ls="--",
                         label=f"{f['law']} fit" if k == 0 else None)
            ce = res.get("crystalline_exponent") if fits else None
            if ce:
                tt = np.linspace(ce["t0_ps"], t[-1], 200)[1:]
                ax2.plot(tt, ce["baseline_pct"] + ce["A"] * (tt - ce["t0_ps"]) ** ce["n"],
                         color="k", lw=0.8, ls="--")
    for ax, ylabel in ((ax1, "reduced (% of electrolyte)"),
                       (ax2, "crystalline (solid), amorphous (dotted) (%)")):
        ax.set_xlabel("time (ps)")
        ax.set_ylabel(ylabel)
        if log_time:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=7)
    ax1.set_title("reduced electrolyte (Fig. 3)")
    ax2.set_title("crystalline / amorphous SEI (Fig. 5)")
    fig.savefig(output, dpi=dpi)
    plt.close(fig)
    return output
