"""`seimd analyze` and `seimd plot`: argparse glue of seimd.analysis."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_analyze_subcommand", "add_plot_subcommand"]


def _window(text: str) -> tuple[float, float]:
    try:
        t0, t1 = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected T0,T1 in ps, got {text!r}") from None
    if not 0 <= t0 < t1:
        raise argparse.ArgumentTypeError(f"need 0 <= T0 < T1, got {text!r}")
    return t0, t1


def _common(p, nargs="+"):
    p.add_argument("files", nargs=nargs, metavar="RUN.h5",
                   help="H5MD files of the SEI monitor (inputs/sei.in writes PREFIX.h5)")
    p.add_argument("--temperature", type=float, metavar="K",
                   help="temperature of every file (overrides the recorded temperature_K)")
    p.add_argument("--pressure", type=float, metavar="BAR",
                   help="pressure of every file (overrides the recorded pressure_bar)")
    p.add_argument("--model", help="model name of every file (default: the recorded potential's stem)")
    p.add_argument("--seed", type=int, help="seed (overrides the recorded one; one file only)")
    p.add_argument("--window", type=_window, metavar="T0,T1",
                   help="fit window of the reduced-fraction laws in ps (default: from where "
                        "10%% of the total rise is reached, after the initial transient, to the end)")
    p.add_argument("--floor", type=float, metavar="PCT",
                   help="crystalline noise floor in %% (default: mean + 3 sigma of the first "
                        "10%% of samples, the pristine interface)")


def _load(args):
    from .runs import load_run

    if args.seed is not None and len(args.files) > 1:
        raise ValueError("--seed applies to one file only")
    return [load_run(f, temperature=args.temperature, pressure=args.pressure,
                     model=args.model, seed=args.seed) for f in args.files]


def _analyze(args) -> int:
    from .analyse import analyse_run, seed_spread
    from .report import format_table, to_csv, to_json
    from .runs import group_runs

    if args.frames and len(args.files) != 1:
        raise ValueError("--frames belongs to one run: give exactly one RUN.h5")
    if args.every < 1 or args.cutoff <= 0:
        raise ValueError(f"--every {args.every} must be >= 1 and --cutoff {args.cutoff} A positive")
    loaded = _load(args)
    groups = []
    for condition, runs in group_runs(loaded).items():
        results = [analyse_run(r, window=args.window, floor=args.floor, avrami=args.avrami)
                   for r in runs]
        T, P, model = condition
        label = ", ".join(x for x in (f"{T:g} K" if T is not None else None,
                                      f"{P:g} bar" if P is not None else None, model) if x)
        groups.append({"condition": {"temperature_K": T, "pressure_bar": P, "model": model},
                       "condition_label": label or "unknown condition",
                       "runs": results, "seed_spread": seed_spread(results)})
    if args.frames:
        _percolation(args, loaded[0], groups)
    if args.json:
        Path(args.json).write_text(to_json(groups) + "\n")
    if args.csv:
        Path(args.csv).write_text(to_csv(groups))
    if not args.quiet:
        print(format_table(groups))
    return 0


def _percolation(args, run, groups) -> None:
    """Stage 4 from dump frames of `run` (the one loaded file), into its result."""
    from .frames import percolation_series, read_label_frames

    if len(args.files) != 1:
        raise ValueError("--frames belongs to one run: give exactly one RUN.h5")
    (result,) = [r for g in groups for r in g["runs"]]
    if args.timestep is not None:
        dt_ps = args.timestep / 1000.0
    else:  # the run's own steps and times (the guard may halve the step: then give --timestep)
        steps = run.extra["steps"]
        if steps[-1] == steps[0]:
            raise ValueError(f"{args.files[0]}: one step only; give --timestep FS")
        dt_ps = float((run.time_ps[-1] - run.time_ps[0]) / (steps[-1] - steps[0]))
    frames = read_label_frames(args.frames, args.label_column, args.every)
    perc = percolation_series(frames, dt_ps, cutoff=args.cutoff,
                              progress=None if args.quiet else sys.stderr)
    perc["timestep_fs"] = dt_ps * 1000.0
    result["percolation"] = perc
    result["stages"]["sealed_ps"] = perc["first_separated_ps"]


def _plot(args) -> int:
    from .plot import plot_runs

    if Path(args.output).suffix.lower() not in {".png", ".pdf", ".svg"}:
        raise ValueError(f"{args.output}: the output must end in .png, .pdf or .svg")
    if args.snapshot:
        return _snapshot(args)
    if not args.files:
        raise ValueError("give RUN.h5 files (or --snapshot DUMP)")
    plot_runs(_load(args), args.output, log_time=args.log_time, window=args.window,
              floor=args.floor, fits=not args.no_fits, dpi=args.dpi)
    print(f"wrote {args.output}")
    return 0


def _snapshot(args) -> int:
    from .frames import read_label_frames
    from .plot import plot_snapshot

    if args.files:
        raise ValueError("--snapshot draws one dump frame: give no RUN.h5 files with it")
    frames = read_label_frames(args.snapshot, args.label_column)
    if not -len(frames) <= args.frame < len(frames):
        raise ValueError(f"{args.snapshot}: frame {args.frame} out of range ({len(frames)} frames)")
    frame = frames[args.frame]
    renderer = args.renderer
    if renderer in ("auto", "ovito"):
        try:
            plot_snapshot(frame, args.output, renderer="ovito", dpi=args.dpi)
            print(f"wrote {args.output} (OVITO, step {frame.step})")
            return 0
        except Exception as exc:  # no OVITO, or no Vulkan driver for its renderer
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            if renderer == "ovito":
                raise ValueError(f"OVITO could not render: {reason}") from None
            print(f"OVITO could not render ({reason}); drawn with matplotlib", file=sys.stderr)
    plot_snapshot(frame, args.output, renderer="matplotlib", dpi=args.dpi)
    print(f"wrote {args.output} (matplotlib, step {frame.step})")
    return 0


def add_analyze_subcommand(sub) -> None:
    p = sub.add_parser(
        "analyze", help="growth laws, crystalline onset and SEI stages of monitor H5MD files",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fits the reduced fraction (% of the electrolyte) vs time t (ps) with\n"
                    "  log:   a + b ln(t/ps)   (the paper's law: Butler-Volmer kinetics with a\n"
                    "                           vanishing Li chemical-potential difference)\n"
                    "  power: a (t/ps)^n\n"
                    "  sqrt:  a (t/ps)^(1/2)   (diffusion-limited)\n"
                    "and picks the law with the smallest AIC; errors are 1 sigma from the fit\n"
                    "covariance. The crystalline fraction gives an onset time (first sustained\n"
                    "rise above a noise floor) and the exponent n of A (t - onset)^n with a 95%\n"
                    "interval. Stages: amorphous onset, first nuclei, coalescence (maximum of\n"
                    "the amorphous fraction; conversion = crystalline/reduced there), stall\n"
                    "(reduced rate 10x below its peak). Runs are grouped by the recorded\n"
                    "temperature, pressure and potential, seeds within a group summarised.")
    _common(p)
    p.add_argument("--frames", metavar="DUMP",
                   help="LAMMPS text dump of the (one) run with per-atom phase labels "
                        "(fix sei ... labels=yes; dump ... id type x y z f_sei): stage 4, the "
                        "first frame where the crystalline layer seals Li metal off the pristine "
                        "electrolyte (no non-crystalline neighbour path through the cell)")
    p.add_argument("--label-column", metavar="NAME",
                   help="dump column of the labels (default: the one f_/c_/v_ column)")
    p.add_argument("--every", type=int, default=1, metavar="K", help="every K-th dump frame (default 1)")
    p.add_argument("--cutoff", type=float, default=3.0, metavar="A",
                   help="neighbour distance joining non-crystalline atoms, A (default 3.0, about "
                        "the first shell; much larger jumps across a thin crystalline layer)")
    p.add_argument("--timestep", type=float, metavar="FS",
                   help="MD timestep in fs for the dump's steps (default: from the H5MD file)")
    p.add_argument("--avrami", action="store_true",
                   help="also fit the crystalline fraction with Avrami (JMAK) kinetics")
    p.add_argument("--json", metavar="FILE", help="write every result to FILE as JSON")
    p.add_argument("--csv", metavar="FILE", help="write one row per run to FILE as CSV")
    p.add_argument("-q", "--quiet", action="store_true", help="no table on the terminal")
    p.set_defaults(func=_analyze)


def add_plot_subcommand(sub) -> None:
    p = sub.add_parser(
        "plot", help="figures of monitor H5MD files: reduced, crystalline, amorphous %% vs time",
        description="Left: reduced % vs time (paper Fig. 3), colour = temperature, the first "
                    "seed of a condition thick, further seeds thin, best law dashed. Right: "
                    "crystalline (solid) and amorphous (dotted) % vs time (Fig. 5) with the "
                    "onset law dashed. With the monitor's profile_bins: a second row with "
                    "the reduced-layer thickness vs time (total and per interface) and a "
                    "time-vs-depth map of the phase profile. --snapshot DUMP instead draws "
                    "one frame coloured by phase label (Fig. 4).")
    _common(p, nargs="*")
    p.add_argument("--snapshot", metavar="DUMP",
                   help="Fig. 4: draw one frame of a dump with per-atom phase labels "
                        "(fix sei ... labels=yes; dump ... id type x y z f_sei)")
    p.add_argument("--frame", type=int, default=-1, metavar="K",
                   help="which frame of --snapshot (0-based; default -1, the last)")
    p.add_argument("--label-column", metavar="NAME",
                   help="dump column of the labels (default: the one f_/c_/v_ column)")
    p.add_argument("--renderer", choices=["auto", "ovito", "matplotlib"], default="auto",
                   help="--snapshot renderer: auto (OVITO when it can render, else matplotlib; "
                        "OVITO needs a Vulkan driver such as Debian's mesa-vulkan-drivers)")
    p.add_argument("-o", "--output", default="sei.png",
                   help="figure file, .png, .pdf or .svg (default sei.png)")
    p.add_argument("--log-time", action="store_true", help="logarithmic time axis")
    p.add_argument("--no-fits", action="store_true", help="data only, no fitted laws")
    p.add_argument("--dpi", type=int, default=120, help="resolution of a PNG (default 120)")
    p.set_defaults(func=_plot)
