"""Checks of a `seimd learn` set-up that need more than the config's own keys, run before
any MD: an oracle that cannot work, or an active set of another potential, would otherwise
show up only after the first MD run (or as every iteration failing the same way)."""

from __future__ import annotations

from .config import LearnConfig

__all__ = ["SetupError", "check_setup"]


class SetupError(ValueError):
    """A set-up that cannot run (one line)."""


def check_setup(cfg: LearnConfig, potential: str = "", active_set: str = "") -> None:
    """Raise :class:`SetupError` if the oracle is unusable or start.active_set does not
    belong to start.potential. ``potential``/``active_set``: used when the config names
    no start.potential (a production run's own files)."""
    _check_oracle(cfg)
    if not cfg.start.potential:
        if active_set and active_set != "none":
            _check_active_set(active_set, potential, what="active_set")
        return
    if cfg.start.active_set:
        _check_active_set(cfg.start.active_set, cfg.start.potential)


def _check_oracle(cfg: LearnConfig) -> None:
    from .oracles import OracleError, make_oracle

    try:
        make_oracle(cfg.oracle.kind, cfg.oracle.settings).check_available()
    except OracleError as exc:
        raise SetupError(f"{cfg.source}: {exc}") from None


def _check_active_set(als: str, potential: str, what: str = "start.active_set") -> None:
    """Same species, basis and size as the potential, and weights seimd grades with. The
    parameters themselves may differ when the start potential is retrained (the run then
    builds its own active set), so they are checked later, by the loop."""
    from seimd.active.als import ALSFormatError, read_als
    from seimd.active.grades import grade_mode
    from seimd.mtp.model import MTP

    try:
        state = read_als(als)
        mtp = MTP.read(potential)
        mode = grade_mode(state.weights, str(als))
    except (ALSFormatError, ValueError, OSError) as exc:
        raise SetupError(f"{what}: {exc}") from None
    if mode != "nbh":         # the loop selects neighbourhood rows: they must not mix
        raise SetupError(f"{what} {als} is a configuration-mode active set (weights "
                         f"0 1 0 0); seimd learn grows neighbourhood-mode sets: leave "
                         f"start.active_set empty to build one")
    a, b = state.mtp, mtp
    checks = [("species", a.species_count, b.species_count),
              ("parameters (level/basis size)", a.n_parameters, b.n_parameters)]
    for attribute in ("radial_basis_size", "radial_funcs_count", "alpha_moments_count",
                      "elements"):
        if hasattr(a, attribute) and hasattr(b, attribute):
            checks.append((attribute, getattr(a, attribute), getattr(b, attribute)))
    for name, have, want in checks:
        if have and want and have != want:        # an .mtp without elements: no check
            raise SetupError(f"{what} {als} belongs to another potential than "
                             f"{potential}: {name} {have} vs {want}")
