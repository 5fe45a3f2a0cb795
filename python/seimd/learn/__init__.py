"""In-situ active learning of Moment Tensor Potentials: ``seimd learn CONFIG``.

One iteration (MLIP-2's active-learning loop, without a person in it):

1. **md**: the exploration MD (a LAMMPS input, default ``inputs/learn_md.in``, one or more
   runs) with on-the-fly grades, until it breaks (grade > break threshold) or finishes;
2. **harvest**: the configurations it saved (grade > save threshold), whole periodic cells,
   or, for systems larger than the oracle takes, the environments of the extrapolative atoms
   cut as small cells;
3. **select**: MaxVol against the current active set (at most ``select.max_per_iteration``);
4. **label**: the oracle labels them (energy eV, forces eV/A, stress), spread over MPI ranks;
   each label is appended and fsync'ed to the training set before the manifest records it;
5. **train**: warm start from the current potential on the whole training set;
6. **activeset**: MaxVol active set of the new potential over the whole training set; the
   next iteration's MD goes on from the last restart file with the new potential.

The break threshold is annealed over the iterations; the run has converged when an
iteration at the final thresholds selects nothing. Everything lives in one run directory
with an atomically written ``manifest.json``: kill the process at any moment and run the
same command again to resume (``seimd learn status CONFIG`` shows where it stands).

Modules, one job each: :mod:`.config` (TOML keys, defaults, threshold schedule),
:mod:`.store` (manifest + append-only training set), :mod:`.oracles` (labellers behind one
interface, failure handling), :mod:`.md` (the LAMMPS run), :mod:`.harvest`,
:mod:`.selection`, :mod:`.labelling`, :mod:`.fitting` (training + active set),
:mod:`.loop` (the resumable state machine), :mod:`.status`, :mod:`.cli`.
"""

from .config import LearnConfig, load_config

__all__ = ["LearnConfig", "load_config", "run"]


def run(config_path, comm=None):
    """Run (or resume) the active-learning loop of a TOML config; see :mod:`seimd.learn.loop`."""
    from .loop import run_learning

    return run_learning(load_config(config_path), comm=comm)
