"""`seimd analyze` and `seimd plot`: argparse glue of seimd.analysis."""

from __future__ import annotations

import argparse
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


def _common(p):
    p.add_argument("files", nargs="+", metavar="RUN.h5",
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

    groups = []
    for condition, runs in group_runs(_load(args)).items():
        results = [analyse_run(r, window=args.window, floor=args.floor, avrami=args.avrami)
                   for r in runs]
        T, P, model = condition
        label = ", ".join(x for x in (f"{T:g} K" if T is not None else None,
                                      f"{P:g} bar" if P is not None else None, model) if x)
        groups.append({"condition": {"temperature_K": T, "pressure_bar": P, "model": model},
                       "condition_label": label or "unknown condition",
                       "runs": results, "seed_spread": seed_spread(results)})
    if args.json:
        Path(args.json).write_text(to_json(groups) + "\n")
    if args.csv:
        Path(args.csv).write_text(to_csv(groups))
    if not args.quiet:
        print(format_table(groups))
    return 0


def _plot(args) -> int:
    from .plot import plot_runs

    if Path(args.output).suffix.lower() not in {".png", ".pdf", ".svg"}:
        raise ValueError(f"{args.output}: the output must end in .png, .pdf or .svg")
    plot_runs(_load(args), args.output, log_time=args.log_time, window=args.window,
              floor=args.floor, fits=not args.no_fits, dpi=args.dpi)
    print(f"wrote {args.output}")
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
                    "onset law dashed.")
    _common(p)
    p.add_argument("-o", "--output", default="sei.png",
                   help="figure file, .png, .pdf or .svg (default sei.png)")
    p.add_argument("--log-time", action="store_true", help="logarithmic time axis")
    p.add_argument("--no-fits", action="store_true", help="data only, no fitted laws")
    p.add_argument("--dpi", type=int, default=120, help="resolution of a PNG (default 120)")
    p.set_defaults(func=_plot)
