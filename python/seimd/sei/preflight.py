"""Setup checks of ``inputs/sei.in``, run once before the trajectory starts.

``fix ID all seimd/python 1000000000 seimd.sei.preflight:Preflight nvalues 1 args ...``
followed by ``run 0``: on that step every rank takes part in the checks, rank 0 writes
what it found to the LAMMPS include file ``report=FILE`` (``print`` lines, then ``quit 2``
when something is wrong), which sei.in then includes. A user error therefore ends the run
with one clear ``SEI ERROR:`` line and exit code 2, before any step is taken.

Arguments (``key=value``, then the pair_coeff species as plain words):

    report=FILE        the include file to write (required)
    stage=fresh|continue|recover   fresh start (read_data), continuation of an earlier
                       run (-var restart), or the guard's recovery inside one lmp call
    potential=FILE     the .mtp file (its min_dist, its element names)
    active_set=FILE    none, or the .als file that must exist
    h5=FILE            the SEI monitor's H5MD file, or none (monitor off)
    overwrite=yes|no   a fresh start may replace an existing h5 file
    dump=FILE          the trajectory dump (none: no dump); on a continuation from step S
                       frames with timestep > S are cut (a crashed run's frames after the
                       restart; the continuation writes its own, from S + 1 on)
    close_pairs=stop|allow   pairs closer than the min_dist of the potential at a fresh start
    step=S             the step the run starts from
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MASS_TOLERANCE = 0.5     # amu: a type's mass must be its element's within this
ELEMENTS_OF_INTEREST = ("Li", "P", "S", "Cl")


def lammps_quoted(text: str) -> str:
    """``text`` as one quoted LAMMPS word for a ``print`` line: quotes become backticks and
    ``$`` is dropped (no variable substitution), whitespace runs become one space."""
    text = str(text).replace('"', "`").replace("'", "`").replace("$", "")
    return '"' + " ".join(text.split()) + '"'


def element_masses() -> dict[str, float]:
    from ase.data import atomic_masses, chemical_symbols

    return {s: float(m) for s, m in zip(chemical_symbols, atomic_masses) if s != "X"}


def element_from_mass(mass: float) -> str | None:
    """The element whose standard atomic mass is within MASS_TOLERANCE of `mass` (the
    closest one), or None."""
    masses = element_masses()
    best = min(masses, key=lambda s: abs(masses[s] - mass))
    return best if abs(masses[best] - mass) <= MASS_TOLERANCE else None


def is_element(word: str) -> bool:
    return word in element_masses()


def type_elements(species: list[str], masses: np.ndarray, potential_elements=None) -> list[str]:
    """Element of each LAMMPS type 1..N from the pair_coeff words: element names as given;
    species indices (``0 1 2 3``) through the potential's declared elements, else from the
    data file's masses (``masses[t]`` for type t, index 0 unused). Raises ValueError."""
    out = []
    for t, word in enumerate(species, start=1):
        if is_element(word):
            out.append(word)
            continue
        if not word.lstrip("-").isdigit():
            raise ValueError(f"species entry {word!r} of type {t} is neither an element nor "
                             f"a species index")
        index = int(word)
        if potential_elements is not None and 0 <= index < len(potential_elements):
            out.append(potential_elements[index])
            continue
        element = element_from_mass(float(masses[t])) if t < len(masses) else None
        if element is None:
            raise ValueError(f"type {t} (species {index}): no element has mass "
                             f"{float(masses[t]):g}; name the elements in -var species")
        out.append(element)
    return out


def mass_mismatches(elements: list[str], masses: np.ndarray) -> list[str]:
    known = element_masses()
    bad = []
    for t, el in enumerate(elements, start=1):
        m = float(masses[t])
        if abs(known[el] - m) > MASS_TOLERANCE:
            guess = element_from_mass(m)
            bad.append(f"type {t} is {el} ({known[el]:.2f}) but has mass {m:g}"
                       + (f" ({guess})" if guess else ""))
    return bad


def close_pairs(positions, cell, ids, elements_per_atom, cutoff, limit: int = 5):
    """Pairs closer than `cutoff` (A), closest first: (distance, id_i, id_j, el_i, el_j)."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    atoms = Atoms(positions=positions, cell=cell, pbc=True)
    i, j, d = neighbor_list("ijd", atoms, float(cutoff), self_interaction=False)
    keep = i < j
    i, j, d = i[keep], j[keep], d[keep]
    order = np.argsort(d)[:limit]
    return [(float(d[k]), int(ids[i[k]]), int(ids[j[k]]), elements_per_atom[i[k]],
             elements_per_atom[j[k]]) for k in order], int(len(d))


def trim_dump(path: Path, step: int) -> int:
    """Cuts a LAMMPS text dump before its first frame with timestep > `step` (frames the
    restart at `step` has replaced; `step` itself is the restart's state); returns the number
    of frames removed."""
    if not path.is_file():
        return 0
    with open(path, "rb") as f:
        data = f.read()
    marker = b"ITEM: TIMESTEP\n"
    pos, cut, removed = 0, None, 0
    while True:
        k = data.find(marker, pos)
        if k < 0:
            break
        end = data.find(b"\n", k + len(marker))
        try:
            ts = int(data[k + len(marker):end])
        except ValueError:
            ts = step + 1  # a torn frame header: cut there
        if ts > step:
            if cut is None:
                cut = k
            removed += 1
        pos = k + len(marker)
    if cut is not None:
        with open(path, "r+b") as f:
            f.truncate(cut)
    return removed


def h5_problem(path: Path) -> str | None:
    """Why `path` cannot be continued as the SEI monitor's H5MD file, or None."""
    import h5py

    from .h5md import H5MDLayoutError, _check_layout, _coerce_specs
    from .monitor import OBSERVABLES

    way_out = (f"move {path} away (or delete it) or give -var h5 NEW.h5 to write the "
               f"monitor's rows to a new file")
    if path.stat().st_size == 0:
        return f"{path} is empty (0 bytes), not an H5MD file: {way_out}"
    try:
        f = h5py.File(path, "r", locking=False)
    except OSError as exc:
        why = str(exc).split("(")[0].strip().rstrip(":") or "unreadable"
        return f"{path} is not a readable HDF5 file ({why}; truncated or foreign): {way_out}"
    with f:
        try:
            _check_layout(f, _coerce_specs(OBSERVABLES))
        except H5MDLayoutError:
            return f"{path} is an HDF5 file but not the SEI monitor's H5MD layout: {way_out}"
    return None


class Preflight:
    names = ("failed",)

    def __init__(self, ctx):
        self.kw = ctx.kwargs
        self.species = list(ctx.args)
        self.report = Path(self.kw["report"])
        self.result = None
        self.remove_after_checks = None

    def __call__(self, ctx):
        if self.result is not None:      # run 0 calls on its first and last step: once is enough
            return self.result
        errors, notes = [], []
        try:
            self._check(ctx, errors, notes)
            if self.remove_after_checks is not None and not errors:
                self.remove_after_checks.unlink()
                notes.append(f"{self.remove_after_checks}: earlier file removed (overwrite yes)")
        except Exception as exc:  # noqa: BLE001 - reported as one line
            errors.append(f"setup check failed: {type(exc).__name__}: {exc}")
        if ctx.comm is not None and ctx.comm.Get_size() > 1:
            errors = ctx.comm.bcast(errors, root=0)
        if ctx.rank == 0:
            self._write(errors, notes)
        self.result = 1.0 if errors else 0.0
        return self.result

    def _write(self, errors, notes):
        quoted = lammps_quoted
        lines = [f"shell rm {self.report}"]
        lines += [f"print {quoted('SEI: ' + n)}" for n in notes]
        lines += [f"print {quoted('SEI ERROR: ' + e)}" for e in errors]
        if errors:
            lines.append("quit 2")
        self.report.write_text("\n".join(lines) + "\n")

    def _check(self, ctx, errors, notes):
        kw = self.kw
        stage = kw.get("stage", "fresh")
        step = int(float(kw.get("step", ctx.step)))
        lmp = ctx.lmp
        # every rank: gather positions for the close-pair check (collective)
        check_close = stage == "fresh" and kw.get("close_pairs", "stop") != "allow"
        gathered = None
        if check_close and "potential" in kw:
            n = ctx.nlocal
            mine = (np.array(ctx.x[:n]), np.array(ctx.id[:n]), np.array(ctx.type[:n]))
            gathered = ctx.comm.gather(mine, root=0) if ctx.comm is not None else [mine]
        if ctx.rank != 0:
            return
        dump = kw.get("dump", "none")
        if stage != "fresh" and dump != "none":
            removed = trim_dump(Path(dump), step)
            if removed:
                notes.append(f"{dump}: {removed} frame(s) after step {step} removed "
                             f"(the run continues from the restart at step {step})")
        if stage == "recover":
            return
        active = kw.get("active_set", "none")
        if active != "none" and not Path(active).is_file():
            errors.append(f"active_set {active} is not a file (give the .als of the "
                          f"potential, or leave active_set at none)")
        from ..mtp.model import MTP

        mtp = MTP.read(kw["potential"]) if "potential" in kw else None
        masses = np.asarray(lmp.numpy.extract_atom("mass"), dtype=float)
        ntypes = len(masses) - 1
        if len(self.species) != ntypes:
            errors.append(f"species `{' '.join(self.species)}` names {len(self.species)} "
                          f"types, the data file has {ntypes}")
            return
        try:
            elements = type_elements(self.species, masses, mtp.elements if mtp else None)
        except ValueError as exc:
            errors.append(str(exc))
            return
        bad = mass_mismatches(elements, masses)
        if bad:
            errors.append(f"species `{' '.join(self.species)}` do not match the masses: "
                          + "; ".join(bad) + " (order -var species as the types of the data file)")
        h5 = kw.get("h5", "none")
        if int(float(kw.get("monitor", 1))) <= 0:
            h5 = "none"
        elif h5 == "none" and kw.get("h5_prefix"):
            h5 = kw["h5_prefix"] + ".h5"
        if h5 != "none" and Path(h5).exists():
            path = Path(h5)
            if stage == "fresh":
                if kw.get("overwrite", "no") == "yes":
                    self.remove_after_checks = path
                else:
                    errors.append(f"{h5} exists (the monitor data of an earlier run): this fresh "
                                  f"start would mix with it; give a new -var prefix (or -var "
                                  f"h5 NEW.h5), or -var overwrite yes to replace it")
            else:
                why = h5_problem(path)
                if why:
                    errors.append(why)
        if gathered is not None and mtp is not None:
            x = np.concatenate([g[0] for g in gathered]) - np.asarray(ctx.box["boxlo"], float)
            ids = np.concatenate([g[1] for g in gathered])
            types = np.concatenate([g[2] for g in gathered])
            box = ctx.box
            cell = _cell(box)
            per_atom = [elements[t - 1] for t in types]
            pairs, total = close_pairs(x, cell, ids, per_atom, mtp.min_dist)
            if pairs:
                shown = ", ".join(f"{a}{i}-{b}{j} {d:.3f} A" for d, i, j, a, b in pairs)
                errors.append(f"{total} atom pair(s) closer than the min_dist of the potential "
                              f"{mtp.min_dist:g} A (closest: {shown}); fix the structure, or "
                              f"-var close_pairs allow to run anyway")


def _cell(box) -> np.ndarray:
    lo, hi = np.asarray(box["boxlo"], float), np.asarray(box["boxhi"], float)
    xy, yz, xz = box.get("xy", 0.0), box.get("yz", 0.0), box.get("xz", 0.0)
    L = hi - lo
    return np.array([[L[0], 0, 0], [xy, L[1], 0], [xz, yz, L[2]]])
