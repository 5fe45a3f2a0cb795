"""The TOML configuration of ``seimd learn``: every key, its default and its unit.

The table :data:`KEYS` is the single source of truth: parsing, defaults, validation and the
key reference of ``seimd learn --help`` (and of the README) all come from it.

Paths: relative paths are taken relative to the current directory (as ``lmp -in
inputs/sei.in`` takes its potential path), so run ``seimd learn`` from the directory the
config refers to (the repository root for the shipped ``inputs/learn.toml``). Entries of
``start.training`` and ``start.unlabelled`` may be glob patterns and ``.gz`` files.

Units: eV, Angstrom, eV/Angstrom, ps, K, bar (LAMMPS ``metal``); times in seconds of wall
time; grades are dimensionless (MaxVol).
"""

from __future__ import annotations

import glob
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

__all__ = ["KEYS", "LearnConfig", "load_config", "ConfigError", "key_reference",
           "RESUMABLE_CHANGES", "Thresholds"]


class ConfigError(ValueError):
    """An invalid ``seimd learn`` configuration (the message names the key)."""


@dataclass(frozen=True)
class Key:
    section: str
    name: str
    default: Any
    kind: str
    """str, path, paths, int, float, bool, floats (number or list), strs, table (free),
    vars (a table of LAMMPS -var values), runs."""
    doc: str
    required: bool = False


_NO_DEFAULT = None

KEYS: list[Key] = [
    # ------------------------------------------------------------------ run
    Key("run", "workdir", "learn", "path",
        "run directory: manifest.json, training.cfg (the growing training set), learn.log, "
        "iter-NNN/ folders, current.mtp/.als and at the end final.mtp/.als"),
    Key("run", "species", _NO_DEFAULT, "strs",
        "element of MTP species 0, 1, ... (e.g. [\"Li\", \"P\", \"S\", \"Cl\"]); written into "
        "the potentials as `elements:` and used for the oracle's atoms", required=True),
    Key("run", "seed", 0, "int",
        "base seed: velocities (seed + run index on a fresh start) and training"),
    # ------------------------------------------------------------------ start
    Key("start", "potential", "", "path",
        "starting .mtp: a trained potential (warm start), or an untrained template (e.g. "
        "`seimd basis 8 --species 4`) that is first trained on start.training (required by "
        "seimd learn; in a production run, inputs/sei.in -var learn, empty = sei.in's "
        "potential and active_set)"),
    Key("start", "training", [], "paths",
        "labelled .cfg files (globs, .gz allowed): the initial training set, copied into "
        "WORKDIR/training.cfg"),
    Key("start", "active_set", "", "path",
        "active set (.als) of start.potential; empty: built by MaxVol from the training set"),
    Key("start", "unlabelled", [], "paths",
        "structures (.cfg or anything ase.io.read reads; globs, .gz) labelled by the oracle "
        "before the first iteration and added to the training set"),
    Key("start", "max_iter", 1000, "int",
        "L-BFGS iterations of the first training, which runs when start.potential is an "
        "untrained template or start.unlabelled added labels"),
    # ------------------------------------------------------------------ md
    Key("md", "input", "inputs/learn_md.in", "path",
        "LAMMPS input run for exploration; it receives -var data|restart potential als "
        "species seed steps grade_every grade_save grade_break save_mode prefix restart_every "
        "plus md.vars and the run's vars (see inputs/learn_md.in for the contract)"),
    Key("md", "steps", 2000, "int", "timesteps of each run per iteration"),
    Key("md", "grade_every", 10, "int", "grade every N steps (pair_style mtp grade_every)"),
    Key("md", "restart_every", 500, "int",
        "steps per chunk; a restart file after each chunk that finished below the break "
        "threshold"),
    Key("md", "continue", True, "bool",
        "each iteration goes on from the last restart of the previous ones (false: every "
        "iteration starts from the data file with fresh velocities)"),
    Key("md", "harvest", "auto", "str",
        "configuration (whole periodic cells to the oracle), neighbourhood (environments of "
        "extrapolative atoms cut as small cells), or auto (neighbourhood when a run has more "
        "than oracle.max_atoms atoms)"),
    Key("md", "threads", 1, "int", "OpenMP threads of each LAMMPS rank"),
    Key("md", "max_failures", 3, "int",
        "stop the loop when the MD fails (LAMMPS error) this many iterations in a row"),
    Key("md", "vars", {}, "vars",
        "-var NAME VALUE for every run (e.g. temperature = 400, ensemble = \"nvt\"); with no "
        "[[md.runs]], data = \"FILE\" here makes the single run"),
    Key("md", "runs", [], "runs",
        "[[md.runs]] tables, one exploration run each, all run every iteration: name "
        "(required, unique), data (LAMMPS data file) or model (a `seimd build` model name: "
        "XS, S, M, I, II, built into WORKDIR), and vars (a table of -var overrides, e.g. "
        "temperature, pressure, species); none: one run of md.vars with data from md.vars"),
    # ------------------------------------------------------------------ thresholds
    Key("thresholds", "save", 1.5, "floats",
        "grade above which MD configurations are saved as candidates; a number, or a list "
        "per iteration (the last value repeats)"),
    Key("thresholds", "break_start", 5.5, "float", "break threshold of iteration 0"),
    Key("thresholds", "break_final", 2.5, "float", "break threshold from anneal_iterations - 1 on"),
    Key("thresholds", "anneal_iterations", 10, "int",
        "iterations over which the break threshold goes from break_start to break_final"),
    Key("thresholds", "schedule", "linear", "str", "linear or geometric annealing"),
    Key("thresholds", "break", [], "floats",
        "explicit break thresholds per iteration (the last repeats); overrides the annealing"),
    # ------------------------------------------------------------------ select
    Key("select", "max_per_iteration", 20, "int",
        "at most this many configurations selected (and labelled) per iteration: those "
        "holding the most rows of the grown active set"),
    Key("select", "max_candidates", 200, "int",
        "at most this many harvested candidates go to MaxVol (the highest graded)"),
    Key("select", "swap_threshold", 1.001, "float",
        "MaxVol swaps a row in when it grows |det A| by more than this factor (> 1)"),
    # ------------------------------------------------------------------ oracle
    Key("oracle", "kind", "sevennet", "str",
        "sevennet (SevenNet-0, offline), gpaw (PBE plane waves), cp2k (PBE GTH/DZVP), mtp "
        "(a known .mtp as teacher, for tests), ase (any ASE calculator by import path)"),
    Key("oracle", "settings", {}, "table",
        "kind-specific settings (see seimd.learn.oracles): sevennet model; gpaw ecut (eV), "
        "smearing (eV), kpts, maxiter, txt, ...; cp2k cutoff (Ry), smearing (eV), command, "
        "...; mtp potential; ase calculator = \"module:factory\" or \"file.py:factory\" and "
        "kwargs"),
    Key("oracle", "retries", 2, "int", "retries after a failed call (then the configuration is skipped)"),
    Key("oracle", "timeout", 0.0, "float", "seconds per call, 0 = no limit"),
    Key("oracle", "threads", 1, "int", "threads of the oracle (torch, BLAS) on each rank"),
    Key("oracle", "ranks_per_task", 1, "int",
        "MPI ranks per labelling task (GPAW with an MPI communicator); tasks go round-robin "
        "to the groups"),
    Key("oracle", "max_atoms", 300, "int",
        "largest configuration given to the oracle; larger MD systems are harvested as "
        "neighbourhoods (md.harvest = auto)"),
    Key("oracle", "vacuum", 6.0, "float",
        "Angstrom of vacuum around a cut environment (>= the MTP cutoff keeps images apart)"),
    Key("oracle", "max_force", 50.0, "float",
        "eV/A; labels with a larger force component are rejected as unphysical"),
    Key("oracle", "stress", True, "bool",
        "label stresses of periodic cells (never for cut environments)"),
    # ------------------------------------------------------------------ train
    Key("train", "max_iter", 300, "int", "L-BFGS iterations per retraining"),
    Key("train", "tol", 1e-8, "float", "relative loss decrease over tol_window iterations that stops it"),
    Key("train", "tol_window", 50, "int", "see tol"),
    Key("train", "energy_weight", 1.0, "float", "w_E (energy per atom)"),
    Key("train", "force_weight", 0.01, "float", "w_F, A^2"),
    Key("train", "stress_weight", 0.001, "float", "w_S (virial per atom)"),
    Key("train", "weighting", "structures", "str",
        "how energy and virial errors are weighted per configuration (seimd train "
        "--weighting): structures (per atom, N^2; the default here, what inputs/learn.toml's "
        "weights were tuned with), vibrations (N, MLIP-2's default) or molecules (1)"),
    Key("train", "warm_start", True, "bool",
        "retrain from the current potential (false: from scratch every iteration)"),
    Key("train", "threads", 1, "int", "OpenMP threads of each kernel call (parallelism is MPI)"),
    # ------------------------------------------------------------------ stop
    Key("stop", "max_iterations", 40, "int",
        "stop after this many iterations (in a production run with -var learn: the cap on "
        "retrainings; the run goes on with the last generation and ends, exit code 3, at "
        "its next break)"),
    Key("stop", "converge_after", 1, "int",
        "converged after this many consecutive iterations at the final thresholds that "
        "select nothing"),
]

SECTIONS = ["run", "start", "md", "thresholds", "select", "oracle", "train", "stop"]

RESUMABLE_CHANGES = {
    ("stop", "max_iterations"), ("stop", "converge_after"), ("oracle", "retries"),
    ("oracle", "timeout"), ("oracle", "threads"), ("oracle", "ranks_per_task"),
    ("md", "threads"), ("md", "max_failures"), ("train", "threads"),
}
"""Keys that may change between a run and its resumption (they do not change results)."""


def key_reference(width: int = 94) -> str:
    """Every key with its default and meaning, as TOML-ish text (for --help and the README)."""
    import textwrap

    lines = []
    for section in SECTIONS:
        lines.append(f"[{section}]")
        for k in (k for k in KEYS if k.section == section):
            default = "(required)" if k.required else _toml_value(k.default)
            head = f"  {k.name} = {default}"
            lines.append(head)
            lines.extend(textwrap.wrap(k.doc, width, initial_indent="      ",
                                       subsequent_indent="      "))
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{}" if not value else "{ " + ", ".join(f"{k} = {_toml_value(v)}"
                                                      for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


# --------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Thresholds:
    """The save and break thresholds of every iteration."""

    save: tuple[float, ...]
    break_start: float
    break_final: float
    anneal_iterations: int
    schedule: str
    explicit_break: tuple[float, ...] = ()

    def save_at(self, iteration: int) -> float:
        return float(self.save[min(iteration, len(self.save) - 1)])

    def break_at(self, iteration: int) -> float:
        if self.explicit_break:
            return float(self.explicit_break[min(iteration, len(self.explicit_break) - 1)])
        n = max(self.anneal_iterations, 1)
        if n == 1 or iteration >= n - 1:
            return float(self.break_final)
        f = iteration / (n - 1)
        if self.schedule == "geometric":
            return float(self.break_start * (self.break_final / self.break_start) ** f)
        return float(self.break_start + (self.break_final - self.break_start) * f)

    def final_iteration(self) -> int:
        """The first iteration from which both thresholds stay at their final values."""
        n_break = len(self.explicit_break) if self.explicit_break else max(self.anneal_iterations, 1)
        last = max(len(self.save), n_break) - 1
        save, brk = self.save_at(last), self.break_at(last)
        while last > 0 and self.save_at(last - 1) == save and self.break_at(last - 1) == brk:
            last -= 1
        return last

    def final(self) -> tuple[float, float]:
        """(save, break) of the final iterations."""
        i = self.final_iteration()
        return self.save_at(i), self.break_at(i)

    def at_final(self, iteration: int) -> bool:
        return iteration >= self.final_iteration()


# --------------------------------------------------------------------------- config


@dataclass
class LearnConfig:
    """A parsed configuration: ``cfg.md.steps``, ``cfg.oracle.kind``, ... (see :data:`KEYS`)."""

    source: str
    values: dict[str, dict[str, Any]]
    sections: dict[str, SimpleNamespace] = field(init=False)

    def __post_init__(self) -> None:
        self.sections = {s: SimpleNamespace(**self.values[s]) for s in SECTIONS}

    def __getattr__(self, name: str):
        sections = self.__dict__.get("sections")
        if sections is not None and name in sections:
            return sections[name]
        raise AttributeError(name)

    @property
    def thresholds(self) -> Thresholds:
        t = self.values["thresholds"]
        return Thresholds(tuple(t["save"]), t["break_start"], t["break_final"],
                          t["anneal_iterations"], t["schedule"], tuple(t["break"]))

    @property
    def workdir(self) -> Path:
        return Path(self.values["run"]["workdir"])

    def snapshot(self) -> dict:
        """JSON-able copy of every value (what the manifest records)."""
        return json.loads(json.dumps(self.values))

    def changes_from(self, old: dict) -> list[tuple[str, str, Any, Any]]:
        """(section, key, old, new) of the values that differ from a recorded snapshot."""
        now = self.snapshot()
        out = []
        for section in SECTIONS:
            for key in sorted(set(now.get(section, {})) | set(old.get(section, {}))):
                a, b = old.get(section, {}).get(key), now.get(section, {}).get(key)
                if a != b:
                    out.append((section, key, a, b))
        return out


def load_config(path: str | Path, production: bool = False) -> LearnConfig:
    """Read and validate a ``seimd learn`` TOML file (unknown keys are errors).

    ``production``: the config of in-situ learning in a production run (inputs/sei.in
    -var learn): the MD is the run's own, so the [md] runs and input are not needed."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:         # a folder, no permission, binary
        raise ConfigError(f"{path}: cannot read the config file "
                          f"({getattr(exc, 'strerror', None) or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    cfg = parse_config(raw, str(path), production)
    check_files(cfg, production)
    return cfg


def check_files(cfg: LearnConfig, production: bool = False) -> None:
    """Every input file the config names exists (relative paths: from the current directory)."""
    v = cfg.values
    named = [] if production else [("md.input", v["md"]["input"])]
    if v["start"]["potential"]:
        named.append(("start.potential", v["start"]["potential"]))
    if v["start"]["active_set"]:
        named.append(("start.active_set", v["start"]["active_set"]))
    if not production:
        named += [(f"md.runs {r['name']} data", r["data"]) for r in md_runs(cfg) if r["data"]]
    for what, path in named:
        if not Path(path).is_file():
            raise ConfigError(f"{cfg.source}: {what} = {path}: no such file (relative paths are "
                              f"taken from the current directory, {Path.cwd()})")


def parse_config(raw: dict, source: str = "<config>", production: bool = False) -> LearnConfig:
    """Validate a TOML document (as a dict), fill defaults, resolve paths."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {unknown}; sections: {SECTIONS}")
    values: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        given = raw.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        bad = sorted(set(given) - {k.name for k in KEYS if k.section == section})
        if bad:
            known = ", ".join(k.name for k in KEYS if k.section == section)
            raise ConfigError(f"{source}: unknown key(s) {bad} in [{section}] (known: {known})")
        values[section] = {}
        for k in (k for k in KEYS if k.section == section):
            where = f"{source}: {section}.{k.name}"
            if k.name in given:
                values[section][k.name] = _convert(given[k.name], k, where)
            elif k.required:
                raise ConfigError(f"{where} is required ({k.doc})")
            else:
                values[section][k.name] = _convert(k.default, k, where)
    _validate(values, source, production)
    return LearnConfig(source, values)


def _convert(value: Any, key: Key, where: str) -> Any:
    kind = key.kind

    def fail(expect: str) -> ConfigError:
        return ConfigError(f"{where}: expected {expect}, got {value!r}")

    if kind in ("str", "path"):
        if not isinstance(value, str):
            raise fail("a string")
        return str(Path(value).resolve()) if kind == "path" and value else value
    if kind == "paths":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise fail("a path or a list of paths")
        out = []
        for pattern in items:
            hits = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            if not hits:
                raise ConfigError(f"{where}: {pattern!r} matches no file (relative paths are "
                                  f"taken from the current directory, {Path.cwd()})")
            out.extend(str(Path(h).resolve()) for h in hits)
        return out
    if kind == "strs":
        items = value.split() if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise fail("a non-empty list of strings")
        return list(items)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        return int(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if kind == "floats":
        items = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if not isinstance(items, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            raise fail("a number or a list of numbers")
        return [float(v) for v in items]
    if kind == "table":
        if not isinstance(value, dict):
            raise fail("a table")
        return json.loads(json.dumps(value))
    if kind == "vars":
        if not isinstance(value, dict):
            raise fail("a table")
        return {str(k): _var_value(v, f"{where}.{k}") for k, v in value.items()}
    if kind == "runs":
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise fail("an array of tables [[md.runs]]")
        runs = []
        for n, run in enumerate(value):
            bad = sorted(set(run) - {"name", "data", "model", "vars"})
            if bad:
                raise ConfigError(f"{where}[{n}]: unknown key(s) {bad} (name, data, model, vars)")
            name = run.get("name")
            if not isinstance(name, str) or not name or not name.replace("-", "").replace(
                    "_", "").replace(".", "").isalnum():
                raise ConfigError(f"{where}[{n}]: name must be a non-empty word "
                                  f"(letters, digits, - _ .), got {name!r}")
            data, model = run.get("data", ""), run.get("model", "")
            if bool(data) == bool(model):
                raise ConfigError(f"{where}[{n}] ({name}): give exactly one of data and model")
            if not isinstance(data, str) or not isinstance(model, str):
                raise ConfigError(f"{where}[{n}] ({name}): data and model are strings")
            vars_ = run.get("vars", {})
            if not isinstance(vars_, dict):
                raise ConfigError(f"{where}[{n}] ({name}): vars must be a table")
            runs.append({"name": name, "data": str(Path(data).resolve()) if data else "",
                         "model": model,
                         "vars": {str(k): _var_value(v, f"{where}[{n}].vars.{k}")
                                  for k, v in vars_.items()}})
        return runs
    raise AssertionError(kind)


def _var_value(value: Any, where: str) -> str:
    """A LAMMPS -var value as text (lists become space-separated words)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return " ".join(str(v) for v in value)
    raise ConfigError(f"{where}: expected a string, number or list, got {value!r}")


_RESERVED_VARS = {"data", "restart", "potential", "als", "steps", "grade_every", "grade_save",
                  "grade_break", "save_mode", "prefix", "restart_every"}


def _validate(v: dict, source: str, production: bool = False) -> None:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"{source}: {message}")

    if len(set(v["run"]["species"])) != len(v["run"]["species"]):
        raise fail(f"run.species has repeated elements: {v['run']['species']}")
    for section, key in [("md", "steps"), ("md", "grade_every"), ("md", "restart_every"),
                         ("md", "threads"), ("md", "max_failures"), ("oracle", "threads"),
                         ("oracle", "ranks_per_task"), ("oracle", "max_atoms"),
                         ("select", "max_per_iteration"), ("select", "max_candidates"),
                         ("stop", "max_iterations"), ("stop", "converge_after"),
                         ("thresholds", "anneal_iterations"), ("train", "threads"),
                         ("train", "tol_window")]:
        if v[section][key] < 1:
            raise fail(f"{section}.{key} must be >= 1, got {v[section][key]}")
    for section, key in [("train", "max_iter"), ("start", "max_iter"), ("oracle", "retries"),
                         ("oracle", "timeout"), ("oracle", "vacuum"), ("train", "tol")]:
        if v[section][key] < 0:
            raise fail(f"{section}.{key} must be >= 0, got {v[section][key]}")
    if v["md"]["harvest"] not in ("auto", "configuration", "neighbourhood"):
        raise fail(f"md.harvest must be auto, configuration or neighbourhood, got "
                   f"{v['md']['harvest']!r}")
    if v["train"]["weighting"] not in ("structures", "vibrations", "molecules"):
        raise fail(f"train.weighting must be structures, vibrations or molecules, got "
                   f"{v['train']['weighting']!r}")
    t = v["thresholds"]
    if t["schedule"] not in ("linear", "geometric"):
        raise fail(f"thresholds.schedule must be linear or geometric, got {t['schedule']!r}")
    if not t["save"]:
        raise fail("thresholds.save must not be empty")
    for name in ("save", "break"):
        if any(x <= 1.0 or not math.isfinite(x) for x in t[name]):
            raise fail(f"thresholds.{name}: grades above 1 only (<= 1 is interpolation): {t[name]}")
    for name in ("break_start", "break_final"):
        if not t[name] > 1.0:
            raise fail(f"thresholds.{name} must be > 1, got {t[name]}")
    th = Thresholds(tuple(t["save"]), t["break_start"], t["break_final"], t["anneal_iterations"],
                    t["schedule"], tuple(t["break"]))
    for i in range(th.final_iteration() + 1):
        if th.break_at(i) <= th.save_at(i):
            raise fail(f"iteration {i}: break threshold {th.break_at(i):g} must exceed the save "
                       f"threshold {th.save_at(i):g}")
    if not v["select"]["swap_threshold"] > 1.0:
        raise fail(f"select.swap_threshold must be > 1, got {v['select']['swap_threshold']}")
    if v["oracle"]["kind"] not in ("sevennet", "gpaw", "cp2k", "mtp", "ase"):
        raise fail(f"oracle.kind must be sevennet, gpaw, cp2k, mtp or ase, got "
                   f"{v['oracle']['kind']!r}")
    names = [r["name"] for r in v["md"]["runs"]]
    if len(set(names)) != len(names):
        raise fail(f"md.runs: names must be unique, got {names}")
    for where, vars_ in [("md.vars", v["md"]["vars"])] + [
            (f"md.runs {r['name']} vars", r["vars"]) for r in v["md"]["runs"]]:
        reserved = _RESERVED_VARS - {"data"} if where == "md.vars" else _RESERVED_VARS
        clash = sorted(set(vars_) & reserved)
        if clash:
            raise fail(f"{where}: {clash} are set by seimd learn (use the md/thresholds keys)")
    if not production and not v["start"]["potential"]:
        raise fail(f"start.potential is required ({_doc('start', 'potential')})")
    if not production and not v["md"]["runs"] and "data" not in v["md"]["vars"]:
        raise fail("give [[md.runs]] tables, or md.vars.data for a single run")
    for run in v["md"]["runs"]:
        if run["model"]:
            from seimd.build import MODELS

            if run["model"].upper() not in MODELS:
                raise fail(f"md.runs {run['name']}: unknown model {run['model']!r} "
                           f"(known: {', '.join(MODELS)})")
    if not v["start"]["training"] and not v["start"]["unlabelled"]:
        raise fail("start.training and start.unlabelled are both empty: the active set needs "
                   "configurations")


def _doc(section: str, name: str) -> str:
    return next(k.doc for k in KEYS if (k.section, k.name) == (section, name))


def md_runs(cfg: LearnConfig) -> list[dict]:
    """The exploration runs: name, data, model and the merged -var table of each."""
    runs = cfg.values["md"]["runs"]
    base = dict(cfg.values["md"]["vars"])
    if not runs:
        data = base.pop("data")
        return [{"name": "md", "data": str(Path(data).resolve()), "model": "", "vars": base}]
    return [{**r, "vars": {**base, **r["vars"]}} for r in runs]
