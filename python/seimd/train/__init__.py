"""Training of Moment Tensor Potentials (fitting an MLIP-2 ``.mtp`` to labelled data).

Modules
-------
:mod:`seimd.train.data`
    Labelled configurations (``.cfg`` and extended XYZ, or ``ase.Atoms``) as a
    training set: MTP species, positions, cell, energy (eV), forces (eV/A) and
    virial (eV, the MLIP ``PlusStress``); random hold-out and k-fold splits.
:mod:`seimd.train.loss`
    The loss (MLIP users' conventions) and its exact-to-1e-8 gradient with
    respect to all parameters ``[radial | species | moment]``, evaluated on
    seimd's C++ kernel; configurations are split over MPI ranks.
:mod:`seimd.train.trainer`
    :func:`train`: linear least-squares start of the species and moment
    coefficients, then SciPy L-BFGS-B on all parameters; :func:`cross_validate`;
    the ``seimd train`` command line.

The loss, in eV^2 (sum over configurations c with N_c atoms)::

    L = sum_c w_c [ w_E (E_c - E_c^ref)^2 / d_c
                  + w_F sum_k |F_k - F_k^ref|^2
                  + w_S sum_{6 comps} (W_c - W_c^ref)^2 / d_c ]

with W the virial in eV (MLIP convention ``W = -sum_ij (dV_i/dr_ij) r_ij^T``,
symmetrised; a ``.cfg`` file's ``PlusStress``), d_c = N_c by default
(weighting "vibrations", MLIP-2's default; "structures" N_c^2, "molecules" 1),
defaults w_E = 1, w_F = 0.01 A^2, w_S = 0.001 and w_c = 1.
See :mod:`seimd.train.loss` for the details.

Quick use::

    from seimd.mtp.model import MTP
    from seimd.train import train, load_training_set
    data = load_training_set(["train.cfg"])
    mtp, report = train(MTP.read("untrained.mtp"), data, max_iter=1000, seed=0)
    mtp.write("trained.mtp")
"""

from .data import (
    TrainingConfiguration,
    kfold_splits,
    load_training_set,
    split_holdout,
    to_training_set,
)
from .loss import Errors, Loss, LossWeights
from .trainer import TrainingReport, cross_validate, initial_parameters, train

__all__ = [
    "TrainingConfiguration",
    "load_training_set",
    "to_training_set",
    "split_holdout",
    "kfold_splits",
    "Loss",
    "LossWeights",
    "Errors",
    "train",
    "cross_validate",
    "initial_parameters",
    "TrainingReport",
]
