"""Active learning for Moment Tensor Potentials: MaxVol selection and extrapolation grades.

- :mod:`seimd.active.maxvol`: the MaxVol active set (:class:`~seimd.active.maxvol.ActiveSet`),
  extrapolation grades ``max_j |(b A^-1)_j|`` and the selection of new rows.
- :mod:`seimd.active.als`: MLIP-2's ``.als`` state file (potential + active set +
  selected configurations), read and written byte for byte.

The candidate rows are the parameter gradients of the site energies, computed by
:mod:`seimd.mtp.reference_gradients` ("nbh" mode: one row per atom; "cfg" mode:
one row per configuration, ``dE/dtheta / N``).
"""
