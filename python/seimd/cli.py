"""The `seimd` command line.

    seimd info POTENTIAL.mtp [...]       what potential files hold
    seimd data                           where the shipped potentials and inputs are
    seimd basis LEVEL -o untrained.mtp   write the untrained MTP basis of a level (02..28)
    seimd evaluate POTENTIAL.mtp DATA.cfg   energy/force/stress errors against labelled data
    seimd select POTENTIAL.mtp CANDIDATES.cfg (--als STATE.als | --training TRAIN.cfg) -o NEW.als
    seimd grade POTENTIAL.mtp STATE.als DATA.cfg   extrapolation grade of each configuration
    seimd build MODEL -o model.data      interface models (paper models I, II; XS .. M)
    seimd train / seimd learn            training, in-situ active learning (--help)
    seimd relaunch -- -in inputs/sei.in ...   lmp, continued after a crash with half the dt

Units: eV, Angstrom, eV/Angstrom; stresses in GPa in printed reports. `.cfg` files may be
gzip-compressed (`.cfg.gz`) wherever one is read. A user error (missing or malformed file,
bad option, unknown model) prints one line `seimd COMMAND: error: ...` and exits with code 2;
`seimd --debug COMMAND ...` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

EV_PER_A3_IN_GPA = 160.21766208


def _info(args: argparse.Namespace) -> int:
    for n, path in enumerate(args.potential):
        if n:
            print()
        _info_one(path)
    return 0


def _info_one(path: str) -> None:
    from .mtp.model import MTP

    mtp = MTP.read(path)
    print(f"file            {path}")
    print(f"name            {mtp.potential_name or '-'}")
    print(f"trained         {'yes' if mtp.is_trained else 'no (untrained template)'}")
    print(f"species         {mtp.species_count}"
          + (f"  elements {' '.join(mtp.elements)}" if mtp.elements else "  (no element names)"))
    print(f"radial basis    {mtp.radial_basis_type}, R = {mtp.radial_basis_size}, "
          f"K = {mtp.radial_funcs_count}, {mtp.min_dist:g} .. {mtp.max_dist:g} A")
    print(f"cutoff          {mtp.cutoff:g} A")
    print(f"moments         {mtp.alpha_moments_count} ({mtp.alpha_index_basic_count} basic, "
          f"{mtp.alpha_index_times_count} products)")
    print(f"basis functions {mtp.alpha_scalar_moments}")
    print(f"parameters      {mtp.n_parameters}")


def _basis(args: argparse.Namespace) -> int:
    from .mtp.basis import basis_to_mtp_text, generate_basis

    if not 2 <= args.level <= 28:
        raise SystemExit(f"seimd basis: level must be 2..28, got {args.level}")
    basis = generate_basis(args.level)
    text = basis_to_mtp_text(basis, species_count=args.species, min_dist=args.min_dist,
                             max_dist=args.max_dist, radial_basis_size=args.radial_basis_size,
                             name=f"level{args.level:02d}")
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}: level {args.level}, {len(basis['alpha_moment_mapping'])} "
              f"basis functions, {basis['alpha_moments_count']} moments")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .io.cfg import read_cfg, to_atoms
    from .mtp.calculator import MTPCalculator

    calc = MTPCalculator(args.potential, threads=args.threads)
    de, df, ds = [], [], []
    configs = [cfg for path in args.data for cfg in read_cfg(path)]
    for cfg in configs:
        atoms = to_atoms(cfg)
        labels = atoms.calc
        atoms.calc = calc
        if cfg.energy is not None:
            de.append((atoms.get_potential_energy() - labels.results["energy"]) / len(atoms))
        if cfg.forces is not None:
            df.append((atoms.get_forces() - labels.results["forces"]).ravel())
        if cfg.plus_stress is not None and "stress" in labels.results:
            ds.append((atoms.get_stress() - labels.results["stress"]) * EV_PER_A3_IN_GPA)
    print(f"{', '.join(args.data)}: {len(configs)} configurations")
    if de:
        print(f"energy RMSE {1000 * np.sqrt(np.mean(np.square(de))):.3f} meV/atom")
    if df:
        print(f"force  RMSE {np.sqrt(np.mean(np.square(np.concatenate(df)))):.4f} eV/A")
    if ds:
        print(f"stress RMSE {np.sqrt(np.mean(np.square(ds))):.4f} GPa")
    return 0


def _select(args: argparse.Namespace) -> int:
    from .active.select import select

    chosen = select(args.potential, args.candidates, args.output, args.selected, als=args.als,
                    training=args.training, mode=args.mode, threshold=args.threshold)
    print(f"selected {len(chosen)} of the candidate configurations -> {args.selected}; "
          f"active set -> {args.output}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from .active.select import grade

    grades = grade(args.potential, args.als, args.data, args.output)
    for n, g in enumerate(grades):
        print(f"{n:6d} {g:12.4f}")
    print(f"max grade {grades.max():.4f} over {len(grades)} configurations")
    return 0


def _build(args: argparse.Namespace) -> int:
    from .build import format_report, interface_report, named_model, write_interface

    atoms = named_model(args.model, lateral=args.lateral, lpsc_blocks=args.lpsc_blocks,
                        li_layers=args.li_layers, a_lpsc=args.a_lpsc, gap=args.gap, cut=args.cut,
                        li_shift=tuple(args.li_shift), a_li_ref=args.a_li_ref,
                        site_exchange=args.site_exchange, seed=args.seed)
    print(format_report(interface_report(atoms)))
    for path in write_interface(atoms, data=args.output, xyz=args.xyz, groups=not args.no_groups):
        print(f"wrote {path}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from .data import data_dir

    print(data_dir())
    return 0


class UserError(Exception):
    """A mistake of the user's: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):            # one line, not usage + error
        raise UserError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="seimd",
        description="SEI growth with Moment Tensor Potentials: potential files, bases, checks.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="LAMMPS runs use `lmp -in FILE` with `pair_style mtp` (see README.md).",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="summarise .mtp potential files")
    p.add_argument("potential", nargs="+", help="MLIP-2 .mtp file(s)")
    p.set_defaults(func=_info)

    p = sub.add_parser("data", help="print the folder of the shipped potentials/ and inputs/",
                       description="Print the folder that holds the potentials (*.mtp, *.als) "
                       "and inputs (sei.in, ...) installed with seimd, e.g. "
                       'cp "$(seimd data)/inputs/sei.in" .')
    p.set_defaults(func=_data)

    p = sub.add_parser("basis", help="write the untrained MTP basis of a level")
    p.add_argument("level", type=int, help="MTP level, 2..28 (the paper uses 8)")
    p.add_argument("-o", "--output", default="-", help="output .mtp file (default: stdout)")
    p.add_argument("--species", type=int, default=1, help="number of species (default 1)")
    p.add_argument("--min-dist", type=float, default=1.5, help="inner edge of the radial basis, A")
    p.add_argument("--max-dist", type=float, default=5.0, help="cutoff radius, A (default 5)")
    p.add_argument("--radial-basis-size", type=int, default=8, help="Chebyshev terms R (default 8)")
    p.set_defaults(func=_basis)

    p = sub.add_parser("evaluate", help="errors of a potential on labelled .cfg data")
    p.add_argument("potential", help="trained .mtp file")
    p.add_argument("data", nargs="+", help="labelled MLIP-2 .cfg file(s) (.cfg.gz too)")
    p.add_argument("--threads", type=int, default=0, help="OpenMP threads (0: all)")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("select", help="MaxVol: add the candidates that grow the active set")
    p.add_argument("potential", help="trained .mtp file")
    p.add_argument("candidates", help=".cfg file of candidate configurations (e.g. grade_save output)")
    p.add_argument("--als", help="current active set (.als); or build one with --training")
    p.add_argument("--training", help="training set .cfg to build the active set from")
    p.add_argument("-o", "--output", required=True, help="updated active set (.als)")
    p.add_argument("--selected", default="selected.cfg", help="selected configurations (.cfg)")
    p.add_argument("--mode", choices=["nbh", "neighbourhood", "cfg", "configuration"],
                   help="rows per atomic neighbourhood (nbh) or per configuration (cfg, "
                   "MLIP-2's calc-grade default); default: the --als file's mode, else nbh")
    p.add_argument("--threshold", type=float, default=1.001,
                   help="swap a row in when it grows |det A| by more than this factor (> 1)")
    p.set_defaults(func=_select)

    p = sub.add_parser("grade", help="extrapolation grade of every configuration of a .cfg")
    p.add_argument("potential", help="trained .mtp file")
    p.add_argument("als", help="active set (.als) of that potential")
    p.add_argument("data", help=".cfg file to grade")
    p.add_argument("-o", "--output", help="write the configurations with Feature MV_grade")
    p.set_defaults(func=_grade)

    p = sub.add_parser(
        "build", help="Li(110)|Li6PS5Cl(110) interface model (paper models I, II) for LAMMPS",
        description="Build a periodic bcc Li(110) | Li6PS5Cl(110) cell with two interfaces and "
        "no vacuum, print its report and write a LAMMPS data file (units metal, atom_style "
        "atomic; types 1 Li (anode and electrolyte) 2 P 3 S 4 Cl; electrolyte atoms first, "
        "groups in <data stem>.groups) and optionally an extended XYZ with the per-atom "
        "origin. Lengths in Angstrom, areas in Angstrom^2. Named models (LPSC blocks "
        "lateral, LPSC blocks along z, Li layers): XS 1x1,2,6 (212 atoms); S 2x2,4,10 (1552); "
        "M 3x3,4,12 (3816); I 3x3,8,26 (7956); II 6x6,8,26 (31824).")
    p.add_argument("model", help="XS, S, M, I or II (the repeat options override its repeats)")
    p.add_argument("-o", "--output", default="model.data", help="LAMMPS data file (default model.data)")
    p.add_argument("--xyz", help="also write this extended XYZ file")
    p.add_argument("--no-groups", action="store_true", help="do not write the <stem>.groups file")
    p.add_argument("--a-lpsc", type=float, default=10.28,
                   help="Li6PS5Cl lattice constant, Angstrom (default 10.28); a_Li = a_LPSC/3")
    p.add_argument("--a-li-ref", type=float, default=3.437,
                   help="bcc Li lattice constant the Li strain is reported against, Angstrom "
                   "(default 3.437, PBE)")
    p.add_argument("--gap", type=float, default=2.2,
                   help="outermost Li plane to LPSC cut plane, Angstrom (default 2.2)")
    p.add_argument("--cut", type=float, default=1.82,
                   help="LPSC cut height above a P/Cl plane, Angstrom (default 1.82; must keep "
                   "every PS4 whole: 1.68..1.95 at a = 10.28)")
    p.add_argument("--lateral", type=int, nargs=2, metavar=("NX", "NY"),
                   help="LPSC blocks (a*sqrt2 x a) along x=[1-10], y=[001]; Li gets 3NX x 3NY cells")
    p.add_argument("--lpsc-blocks", type=int, metavar="N",
                   help="LPSC (110) blocks along z (4 f.u., a/sqrt2 thick each)")
    p.add_argument("--li-layers", type=int, metavar="N", help="Li (110) layers (a_Li/sqrt2 apart)")
    p.add_argument("--li-shift", type=float, nargs=2, default=(0.0, 0.0), metavar=("SX", "SY"),
                   help="lateral shift of the Li slab, fractions of a Li (110) cell (default 0 0)")
    p.add_argument("--site-exchange", type=float, default=0.0,
                   help="fraction of free S2- (4c) swapped with Cl- (4a) at random (default 0)")
    p.add_argument("--seed", type=int, help="random seed for --site-exchange")
    p.set_defaults(func=_build)

    from .train.trainer import add_train_subcommand  # `seimd train` (seimd.train)

    add_train_subcommand(sub)
    from .learn.cli import add_learn_subcommand  # `seimd learn` (seimd.learn)

    add_learn_subcommand(sub)
    from .relaunch import add_relaunch_subcommand  # `seimd relaunch` (seimd.relaunch)

    add_relaunch_subcommand(sub)
    from .analysis.cli import add_analyze_subcommand, add_plot_subcommand  # seimd.analysis

    add_analyze_subcommand(sub)
    add_plot_subcommand(sub)
    return parser


USER_ERRORS = (UserError, OSError, ValueError, KeyError, EOFError)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[:_command_index(argv)]       # seimd --debug COMMAND ...
    command = next((a for a in argv if not a.startswith("-")), "")
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except SystemExit as exc:
        if isinstance(exc.code, str):       # raise SystemExit("message"): a user error
            return _report(command, exc.code)
        raise
    except USER_ERRORS as exc:
        if debug:
            raise
        return _report(command, _message(exc))


def _command_index(argv: list[str]) -> int:
    return next((i for i, a in enumerate(argv) if not a.startswith("-")), len(argv))


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    elif isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())          # one line


def _report(command: str, message: str) -> int:
    prefix = f"seimd {command}" if command else "seimd"
    if message.startswith(prefix + ": "):
        message = message[len(prefix) + 2:]
    print(f"{prefix}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
