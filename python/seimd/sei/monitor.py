"""The in-situ SEI monitor: ``fix ID all seimd/python N seimd.sei.monitor:Monitor args ...``.

Every N steps each MPI rank analyses its own atoms (with the ghost atoms LAMMPS keeps
around them) with :func:`seimd.sei.observables.analyse_points`; the integer counts are
summed over ranks with mpi4py (no gather of the system) and turned into the paper's
fractions. Rank 0 writes one line to the LAMMPS screen and log, one row per observable
to an H5MD file, and every rank returns the same values to the fix's global vector:

    f_ID[1] time (ps)         f_ID[2] reduced (%)        f_ID[3] crystalline (%)
    f_ID[4] amorphous (%)     f_ID[5] crystallinity (%)  f_ID[6..10] N(PS_0) .. N(PS_4)

(reduced, crystalline and amorphous in % of the electrolyte, Z formula units;
crystallinity = crystalline / reduced in %). Arguments (key=value after ``args``,
lengths in A):

    h5=FILE            H5MD output (default sei.h5; "none" = no file), appended across
                       restarts: rows from the restart step on are replaced
    h5_prefix=PREFIX   with h5=none: write PREFIX.h5 instead of no file (sei.in's default)
    types=Li,P,S,Cl    element of each LAMMPS atom type, in type order; or, as in pair_coeff,
                       the elements as plain words after the key=value arguments; species
                       indices (0 1 2 3) take the potential's declared elements
                       (potential=FILE) or, without them, the element of each type's mass
    ps_cutoff=3.0      P-S bond criterion
    ptm_rmsd=0.15      RMSD cutoff of the fcc template match of the anion sublattice
    fcc_matcher=template  or ovito-ptm: OVITO's polyhedral template matching
    fcc_max_distance=5.0, ptm_max_distance=7.5, context_radius=6.0, li_anion_cutoff=3.0
                       see seimd.sei.observables.SEIParams
    z=N                LPSC formula units (default: the number of P atoms at the first call)
    labels=no          yes: per-atom phase labels as the fix's per-atom vector (f_ID in
                       dumps: 0 Li metal, 1 pristine electrolyte, 2 amorphous reduced,
                       3 crystalline reduced)
    log=yes            one line per analysis in the LAMMPS log
    profile_bins=0     N > 0: also write, per analysis, the atoms of each phase label in N
                       slabs of z (observable "profile", [N, 4]), the box length "lz" (A)
                       and the reduced-layer thickness "reduced_thickness" (nm, summed over
                       the cell's interfaces) and per interface "interface_thickness"
                       ([2] nm, seimd.sei.profile); needs the labels' wider
                       ghost shell. Off by default: a file keeps the observables it was
                       created with, so continuations must use the same setting
    progress=10        every this many analyses a line "SEI progress: ..." with the speed
                       (ns/day of simulated time, wall clock since the first analysis of this
                       lmp call) and, with run_ps=END (ps, the trajectory's end time, as
                       inputs/sei.in passes it), the estimated wall time left; 0 = off
    any other key=value is stored with the run parameters in the H5MD file
    (e.g. temperature=400 potential=... seed=1).
"""

from __future__ import annotations

import time as _time

import numpy as np

from .observables import (SEICounts, SEIParams, analyse_points, fractions, map_types, prepare,
                          required_radius)

VALUE_NAMES = ("time_ps", "reduced_pct", "crystalline_pct", "amorphous_pct", "crystallinity_pct",
               "n_PS0", "n_PS1", "n_PS2", "n_PS3", "n_PS4")
MONITOR_KEYS = {"h5", "h5_prefix", "types", "ps_cutoff", "ptm_rmsd", "fcc_max_distance", "ptm_max_distance",
                "context_radius", "li_anion_cutoff", "fcc_matcher", "z", "labels", "log", "progress",
                "profile_bins"}


PERCENT = ("%", (), np.float64)
OBSERVABLES = {"reduced": PERCENT, "crystalline": PERCENT, "amorphous": PERCENT,
               "crystallinity": PERCENT, "n_PS": (None, (5,), np.int64),
               "n_crystalline_anions": (None, (), np.int64), "z": (None, (), np.int64)}


def _flag(text: str, key: str) -> bool:
    low = text.strip().lower()
    if low in {"yes", "true", "1", "on"}:
        return True
    if low in {"no", "false", "0", "off"}:
        return False
    raise ValueError(f"SEI monitor: {key}={text!r} is not yes/no")


def _parameters(kwargs: dict[str, str]) -> SEIParams:
    names = {"ps_cutoff": "ps_cutoff", "ptm_rmsd": "fcc_rmsd_cutoff",
             "fcc_max_distance": "fcc_max_distance", "ptm_max_distance": "ptm_max_distance",
             "context_radius": "context_radius", "li_anion_cutoff": "li_anion_cutoff"}
    values = {field: float(kwargs[key]) for key, field in names.items() if key in kwargs}
    if "fcc_matcher" in kwargs:
        values["fcc_matcher"] = kwargs["fcc_matcher"]
    return SEIParams(**values)


def _type_lookup(text: str) -> np.ndarray:
    """'Li,P,S,Cl' (or space separated) -> array: LAMMPS type -> seimd type (1 Li .. 4 Cl)."""
    elements = text.replace(",", " ").split()
    if not elements:
        raise ValueError("SEI monitor: types= names no element")
    lookup = np.zeros(len(elements) + 1, dtype=np.int64)
    lookup[1:] = map_types(np.array(elements))
    return lookup


class Monitor:
    """The fix's callable (one instance per MPI rank); see the module docstring."""

    names = VALUE_NAMES

    def __init__(self, ctx):
        kw = ctx.kwargs
        self.params = _parameters(kw)
        if "types" in kw and ctx.args:
            raise ValueError(f"SEI monitor: elements given twice (types= and {ctx.args})")
        words = (kw.get("types") or "").replace(",", " ").split() or list(ctx.args)
        if words and not all(w.isalpha() for w in words):
            words = self._elements_of_types(ctx, words)
        self.type_text = ",".join(words) or "Li,P,S,Cl"
        self.types = _type_lookup(self.type_text)
        self.labels = _flag(kw.get("labels", "no"), "labels")
        self.log = _flag(kw.get("log", "yes"), "log")
        self.z = int(kw["z"]) if "z" in kw else None
        if self.z is not None and self.z <= 0:
            raise ValueError(f"SEI monitor: z={self.z} must be a positive number of formula units")
        self.h5_path = kw.get("h5", "sei.h5")
        if self.h5_path.lower() == "none" and kw.get("h5_prefix"):
            self.h5_path = kw["h5_prefix"] + ".h5"
        self.run_parameters = {k: v for k, v in kw.items() if k not in MONITOR_KEYS}
        self.profile_bins = int(kw.get("profile_bins", 0))
        if self.profile_bins < 0:
            raise ValueError(f"SEI monitor: profile_bins={self.profile_bins} must be >= 0")
        self.peratom = self.labels
        # the profile needs every local atom's label, hence the labels' ghost shell
        self.ghost_cutoff = required_radius(self.params, labels=self.labels or self.profile_bins > 0)
        prepare(self.params)    # load the fcc matcher at fix creation, not mid-run
        self.writer = None
        self.calls = 0
        self.seconds = 0.0          # analyses after the first
        self.first_seconds = 0.0
        self.progress_every = int(kw.get("progress", 10))
        self.run_ps = float(kw["run_ps"]) if kw.get("run_ps") not in (None, "") else None
        self.start = None           # (wall s, simulated ps) of the first analysis

    @staticmethod
    def _elements_of_types(ctx, words):
        """Species indices of pair_coeff -> elements (the potential's names, else masses)."""
        from .preflight import type_elements

        potential_elements = None
        if ctx.kwargs.get("potential"):
            from ..mtp.model import MTP

            try:
                potential_elements = MTP.read(ctx.kwargs["potential"]).elements
            except (OSError, ValueError):
                potential_elements = None
        masses = np.asarray(ctx.lmp.numpy.extract_atom("mass"), dtype=float)
        try:
            return type_elements(words, masses, potential_elements)
        except ValueError as exc:
            raise ValueError(f"SEI monitor: {exc}") from None

    # ---- the analysis of one step
    def __call__(self, ctx):
        start = _time.perf_counter()
        n_all = ctx.nlocal + ctx.nghost
        lammps_types = ctx.type[:n_all]
        if lammps_types.size and lammps_types.max() >= len(self.types):
            raise ValueError(f"SEI monitor: atom type {lammps_types.max()} has no element in "
                             f"types= ({len(self.types) - 1} given)")
        local = analyse_points(ctx.x[:n_all], self.types[lammps_types], ctx.nlocal,
                               params=self.params, labels=self.labels or self.profile_bins > 0)
        counts = self._sum_over_ranks(ctx, local.counts)
        profile = self._profile(ctx, local.labels) if self.profile_bins else None
        if self.z is None:
            self.z = max(counts.n_p, 1)
        fr = fractions(counts, self.z)
        values = [ctx.time, 100 * fr.alpha, 100 * fr.crystalline, 100 * fr.amorphous,
                  100 * fr.crystallinity, *counts.n_ps]
        if self.labels:
            ctx.set_peratom(local.labels)
        if ctx.rank == 0:
            self._record(ctx, values, counts, profile)
        self.calls += 1
        elapsed = _time.perf_counter() - start
        if self.calls == 1:
            self.first_seconds = elapsed    # includes first-use costs
        else:
            self.seconds += elapsed
        return values

    def _sum_over_ranks(self, ctx, local: SEICounts) -> SEICounts:
        if ctx.comm is None or ctx.comm.Get_size() == 1:
            return local
        from mpi4py import MPI

        mine = local.as_array()
        total = np.empty_like(mine)
        ctx.comm.Allreduce(mine, total, op=MPI.SUM)
        return SEICounts.from_array(total)

    # ---- rank 0: log line and H5MD row
    def _profile(self, ctx, labels):
        """(profile [bins, 4] summed over ranks, lz in A)."""
        from .profile import label_profile

        lo, hi = float(ctx.box["boxlo"][2]), float(ctx.box["boxhi"][2])
        mine = label_profile(ctx.x[:ctx.nlocal, 2], labels, lo, hi, self.profile_bins)
        if ctx.comm is not None and ctx.comm.Get_size() > 1:
            from mpi4py import MPI

            total = np.empty_like(mine)
            ctx.comm.Allreduce(mine, total, op=MPI.SUM)
            mine = total
        return mine, hi - lo

    def _record(self, ctx, values, counts: SEICounts, profile=None) -> None:
        if self.log:
            if self.calls == 0:
                ctx.log("SEI monitor: step time(ps) reduced% crystalline% amorphous% "
                        "crystallinity% N(P) N(PS) N(PS2) N(PS3) N(PS4) "
                        f"[Z={self.z}, P-S {self.params.ps_cutoff} A, fcc rmsd "
                        f"{self.params.fcc_rmsd_cutoff} ({self.params.fcc_matcher}), "
                        f"anions {counts.n_anions}]")
            t, red, cry, amo, cty = values[:5]
            ctx.log(f"SEI {ctx.step} {t:.4f} {red:.2f} {cry:.2f} {amo:.2f} {cty:.2f} "
                    + " ".join(str(int(n)) for n in counts.n_ps))
            line = self._progress(ctx.step, t)
            if line:
                ctx.log(line)
        if self.h5_path.lower() == "none":
            return
        if self.writer is None:
            self.writer = self._open_writer(ctx)
        self.writer.append(ctx.step, ctx.time, {
            "reduced": values[1], "crystalline": values[2], "amorphous": values[3],
            "crystallinity": values[4], "n_PS": np.asarray(counts.n_ps, dtype=np.int64),
            "n_crystalline_anions": np.int64(counts.n_crystalline), "z": np.int64(self.z),
            **self._profile_row(profile),
        })

    @staticmethod
    def _profile_row(profile) -> dict:
        if profile is None:
            return {}
        from .profile import interface_thickness_nm, reduced_thickness_nm

        hist, lz = profile
        return {"profile": hist, "lz": np.float64(lz),
                "reduced_thickness": np.float64(reduced_thickness_nm(hist, lz)),
                "interface_thickness": interface_thickness_nm(hist, lz)}

    def _open_writer(self, ctx):
        from .h5md import H5MDObservables

        observables = dict(OBSERVABLES)
        if self.profile_bins:
            observables.update({"profile": (None, (self.profile_bins, 4), np.int64),
                                "lz": ("Ang", (), np.float64),
                                "reduced_thickness": ("nm", (), np.float64),
                                "interface_thickness": ("nm", (2,), np.float64)})
        p = self.params
        parameters = {"ps_cutoff_A": p.ps_cutoff, "fcc_rmsd_cutoff": p.fcc_rmsd_cutoff,
                      "fcc_matcher": p.fcc_matcher,
                      "fcc_max_distance_A": p.fcc_max_distance,
                      "ptm_max_distance_A": p.ptm_max_distance,
                      "context_radius_A": p.context_radius,
                      "li_anion_cutoff_A": p.li_anion_cutoff,
                      "types": self.type_text, "every_steps": ctx.nevery,
                      **self.run_parameters}
        # The first analysed step is where this (continued) run starts: rows from it on
        # belong to a trajectory that a restart has replaced.
        return H5MDObservables.open(self.h5_path, observables, parameters,
                                    restart_step=ctx.step)

    def _progress(self, step: int, time_ps: float) -> str | None:
        """Speed and time left, measured from the first analysis of this lmp call (the
        MD between analyses included, so it is the whole run's speed, not the monitor's)."""
        now = _time.perf_counter()
        if self.start is None:
            self.start = (now, time_ps)
            return None
        if self.progress_every <= 0 or self.calls % self.progress_every:
            return None
        wall, sim = now - self.start[0], time_ps - self.start[1]
        if wall <= 0 or sim <= 0:
            return None
        ps_per_s = sim / wall
        line = f"SEI progress: step {step} time {time_ps:.4f} ps, {ps_per_s * 86.4:.3g} ns/day"
        if self.run_ps is not None:
            left = max(self.run_ps - time_ps, 0.0) / ps_per_s
            h, rem = divmod(int(round(left)), 3600)
            line += f", {h}:{rem // 60:02d}:{rem % 60:02d} (h:mm:ss) left to {self.run_ps:g} ps"
        return line

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            # rank 0 only (it owns the writer); stdout = LAMMPS' screen, not its log file
            if self.calls > 1:
                print(f"SEI monitor: {self.calls} analyses on rank 0: the first (with imports) "
                      f"{1e3 * self.first_seconds:.0f} ms, then "
                      f"{1e3 * self.seconds / (self.calls - 1):.1f} ms each", flush=True)
