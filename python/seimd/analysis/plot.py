"""Figures of SEI monitor runs (matplotlib with the Agg backend: no display needed).

Panel 1 (the paper's Fig. 3): reduced % vs time, one colour per temperature (per condition
where one temperature has several models or potentials), the first seed of a condition thick
and further seeds thin, with the best fitted law dashed.
Panel 2 (Fig. 5): crystalline % (solid) and amorphous % (dotted) vs time, with the
crystalline onset law A (t - t0)^n dashed.
With profiles (monitor profile_bins=N), a second row: reduced-layer thickness vs time (total
solid, each interface thin) with the best law dashed, and a time-vs-depth map of the first
such run (each z slab coloured by its most common phase label).
plot_snapshot (Fig. 4) draws one dump frame coloured by phase label.
"""

from __future__ import annotations

import numpy as np

from .analyse import analyse_run
from .laws import LAWS
from .runs import Run, group_runs

__all__ = ["plot_runs", "plot_snapshot", "LABEL_COLOURS"]

# phase label -> (name, colour): Li metal grey, pristine blue, amorphous orange, crystalline red
LABEL_COLOURS = {0: ("Li metal", "#9e9e9e"), 1: ("pristine", "#3b6fb6"),
                 2: ("amorphous", "#f0a030"), 3: ("crystalline", "#c0282d")}


def _law_curve(fit: dict, t):
    func = LAWS[fit["law"]][0]
    return func(t, *fit["params"].values())


def plot_runs(runs: list[Run], output: str, *, log_time: bool = False,
              window=None, floor=None, fits: bool = True, dpi: int = 120) -> str:
    """Writes the two-panel figure to `output` (format from the suffix: .png, .pdf, .svg)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = group_runs(runs)
    colour = _condition_colours(list(groups), plt)
    profiled = [r for r in runs if r.profile is not None]
    if profiled:
        fig, axes = plt.subplots(2, 2, figsize=(10, 8), constrained_layout=True)
        (ax1, ax2), (ax3, ax4) = axes
    else:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    results = {}  # path -> analyse_run result, reused by the thickness panel
    for condition, group in groups.items():
        for k, run in enumerate(group):
            c = colour[run.condition]
            lw = 2.2 if k == 0 else 0.8
            res = analyse_run(run, window=window, floor=floor) if fits else {}
            results[run.path] = res
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
    # the data, not a fitted law extrapolated over noise, sets the vertical scale
    for ax, series in ((ax1, [r.reduced for r in runs]),
                       (ax2, [np.r_[r.crystalline, r.amorphous] for r in runs])):
        _data_ylim(ax, series)
    for ax, ylabel in ((ax1, "reduced (% of electrolyte)"),
                       (ax2, "crystalline (solid), amorphous (dotted) (%)")):
        ax.set_xlabel("time (ps)")
        ax.set_ylabel(ylabel)
        if log_time:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
    if profiled:
        _thickness_panel(ax3, profiled, colour, results, log_time)
        _depth_map(fig, ax4, profiled[0])
    ax1.legend(fontsize=7)
    ax1.set_title("reduced electrolyte (Fig. 3)")
    ax2.set_title("crystalline / amorphous SEI (Fig. 5)")
    fig.savefig(output, dpi=dpi)
    plt.close(fig)
    return output


def _data_ylim(ax, series) -> None:
    values = np.concatenate([np.asarray(v, float).ravel() for v in series])
    values = values[np.isfinite(values)]
    if values.size:
        lo, hi = min(0.0, values.min()), values.max()
        pad = 0.05 * (hi - lo) or 1.0
        ax.set_ylim(lo - (pad if lo < 0 else 0.0), hi + pad)


def _condition_colours(conditions: list[tuple], plt) -> dict:
    """condition -> colour: by temperature (cold blue to hot red) when each temperature is one
    condition; otherwise (e.g. two models at one temperature) one tab10 colour per condition,
    so that curves of different potentials or models are never drawn alike."""
    temps = sorted({c[0] for c in conditions if c[0] is not None})
    if len(temps) == len(conditions):
        cmap = plt.get_cmap("coolwarm")
        by_t = {T: cmap(i / max(1, len(temps) - 1)) for i, T in enumerate(temps)}
        return {c: by_t[c[0]] for c in conditions}
    cmap = plt.get_cmap("tab10")
    return {c: cmap(i % 10) for i, c in enumerate(conditions)}


def _thickness_panel(ax, runs, colour, results, log_time) -> None:
    for k, run in enumerate(runs):
        c = colour[run.condition]
        t = run.time_ps
        if run.thickness_nm is not None:
            ax.plot(t, run.thickness_nm, color=c, lw=2.0 if k == 0 else 0.8,
                    label=f"{run.label}: total")
            res = results.get(run.path, {})  # {} with --no-fits
            f = (res.get("thickness_fits") or {}).get(res.get("thickness_best_law") or "")
            if f:
                tt = np.linspace(*f["window_ps"], 200)
                ax.plot(tt, _law_curve(f, tt), color="k", lw=0.8, ls="--")
        if run.interface_thickness_nm is not None:
            for side, ls in ((0, "-."), (1, ":")):
                ax.plot(t, run.interface_thickness_nm[:, side], color=c, lw=0.8, ls=ls,
                        label=f"interface {side + 1}" if k == 0 else None)
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("reduced layer thickness (nm)")
    if log_time:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("SEI thickness")


def _depth_map(fig, ax, run) -> None:
    """Time (x) vs depth z (y, nm, fractional slabs times the mean Lz): the most common
    label of each slab, blank where a slab holds no atoms."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    prof = np.asarray(run.profile)                  # [n, bins, 4]
    dominant = np.where(prof.sum(axis=2) > 0, prof.argmax(axis=2), -1).astype(float)
    dominant[dominant < 0] = np.nan
    t = run.time_ps
    t_edges = np.concatenate([[t[0]], (t[1:] + t[:-1]) / 2, [t[-1]]])
    lz_nm = float(np.mean(run.lz_A)) / 10.0 if run.lz_A is not None else 1.0
    z_edges = np.linspace(0.0, lz_nm, prof.shape[1] + 1)
    cmap = ListedColormap([LABEL_COLOURS[k][1] for k in range(4)])
    mesh = ax.pcolormesh(t_edges, z_edges, dominant.T, cmap=cmap,
                         norm=BoundaryNorm(np.arange(-0.5, 4.5), 4), shading="flat")
    bar = fig.colorbar(mesh, ax=ax, ticks=range(4))
    bar.ax.set_yticklabels([LABEL_COLOURS[k][0] for k in range(4)], fontsize=7)
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("z (nm)" if run.lz_A is not None else "z (fraction of Lz)")
    ax.set_title(f"phase profile ({run.label})", fontsize=9)


def plot_snapshot(frame, output: str, *, renderer: str = "matplotlib", dpi: int = 120,
                  title: str | None = None) -> str:
    """Fig. 4: one frame (seimd.analysis.frames.LabelFrame) coloured by phase label, seen
    along y (z up). renderer "ovito" renders the particles with OVITO's Tachyon renderer
    (OVITO needs a Vulkan driver, e.g. Debian's mesa-vulkan-drivers); "matplotlib" draws
    the x-z projection, deeper atoms (larger y) first."""
    if renderer == "ovito":
        return _snapshot_ovito(frame, output, dpi=dpi)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lx, _, lz = frame.cell
    fig, ax = plt.subplots(figsize=(max(2.5, 8 * lx / lz), 8), constrained_layout=True)
    order = np.argsort(-frame.positions[:, 1])
    colours = np.array([LABEL_COLOURS[k][1] for k in range(4)])
    pos = np.mod(frame.positions[order], frame.cell)
    ax.scatter(pos[:, 0] / 10, pos[:, 2] / 10, c=colours[frame.labels[order]],
               s=float(np.clip(3e4 / max(1, len(order)), 1.0, 40.0)),  # dense for any N
               linewidths=0)
    for k, (name, c) in LABEL_COLOURS.items():
        n = int((frame.labels == k).sum())
        ax.scatter([], [], c=c, s=20, label=f"{name} ({n})")
    ax.set_xlim(0, lx / 10)
    ax.set_ylim(0, lz / 10)
    ax.set_aspect("equal")
    ax.set_xlabel("x (nm)")
    ax.set_ylabel("z (nm)")
    ax.legend(fontsize=7, loc="upper right", framealpha=0.9)
    ax.set_title(title or f"step {frame.step}", fontsize=9)
    fig.savefig(output, dpi=dpi)
    plt.close(fig)
    return output


def _snapshot_ovito(frame, output: str, *, dpi: int) -> str:
    """The same picture rendered by OVITO (perspective-free front view)."""
    from ovito.data import DataCollection, SimulationCell
    from ovito.pipeline import Pipeline, StaticSource
    from ovito.vis import TachyonRenderer, TextLabelOverlay, Viewport

    data = DataCollection()
    cell = np.zeros((3, 4))
    cell[:, :3] = np.diag(frame.cell)
    data.objects.append(SimulationCell(matrix=cell, pbc=tuple(bool(p) for p in frame.periodic)))
    particles = data.create_particles(count=len(frame.labels))
    particles.create_property("Position", data=np.mod(frame.positions, frame.cell))
    rgb = np.array([[int(LABEL_COLOURS[k][1][i:i + 2], 16) / 255 for i in (1, 3, 5)]
                    for k in range(4)])
    particles.create_property("Color", data=rgb[frame.labels])
    particles.create_property("Radius", data=np.full(len(frame.labels), 0.9))
    pipeline = Pipeline(source=StaticSource(data=data))
    pipeline.add_to_scene()
    try:
        vp = Viewport(type=Viewport.Type.Front)
        vp.zoom_all()
        shade = {0: "grey", 1: "blue", 2: "orange", 3: "red"}
        lines = [f"step {frame.step}"] + [f"{shade[k]}: {name} {int((frame.labels == k).sum())}"
                                          for k, (name, _) in LABEL_COLOURS.items()]
        for k, line in enumerate(lines):  # one overlay per line: the text is one line
            vp.overlays.append(TextLabelOverlay(text=line, font_size=0.025, text_color=(0, 0, 0),
                                                offset_y=-0.03 * k,
                                                alignment=0x0020 | 0x0001))  # Qt AlignTop | Left
        lx, _, lz = frame.cell
        height = int(800 * dpi / 120)  # the matplotlib picture's size at this dpi
        vp.render_image(size=(max(200, int(height * lx / lz)), height), filename=output,
                        renderer=TachyonRenderer())
    finally:
        pipeline.remove_from_scene()
    return output
