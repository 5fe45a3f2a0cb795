"""seimd.sei: observables of SEI growth at Li | Li6PS5Cl interfaces.

    from seimd.sei import analyse, analyse_points, fractions, required_radius
    res = analyse(atoms)                     # periodic ase.Atoms: counts, fractions, labels
    res.fractions.alpha, res.fractions.crystalline, res.labels

    # on an MPI rank: local atoms first, then ghosts within required_radius()
    counts = analyse_points(x, types, nlocal).counts
    total = SEICounts.from_array(comm.allreduce(counts.as_array()))
    frac = fractions(total, z)

Definitions and the per-atom label codes: :mod:`seimd.sei.observables`. Reference
structures with known observables: :mod:`seimd.sei.reference_structures`. The fcc test of
crystalline anions: :mod:`seimd.sei.fcc_match` (C++); OVITO's PTM is the optional
alternative (``SEIParams(fcc_matcher="ovito-ptm")``, ``pip install 'seimd[ovito]'``).
"""

from .observables import (DEFAULT_PARAMS, LABEL_AMORPHOUS, LABEL_CRYSTALLINE,
                          LABEL_ELECTROLYTE, LABEL_LI_METAL, LABEL_NAMES, TYPES, PointAnalysis,
                          SEICounts, SEIFractions, SEIParams, SEIResult, analyse,
                          analyse_points, fractions, map_types, periodic_images,
                          required_radius)

__all__ = [
    "DEFAULT_PARAMS", "LABEL_AMORPHOUS", "LABEL_CRYSTALLINE", "LABEL_ELECTROLYTE",
    "LABEL_LI_METAL", "LABEL_NAMES", "TYPES", "PointAnalysis", "SEICounts", "SEIFractions",
    "SEIParams", "SEIResult", "analyse", "analyse_points", "fractions", "map_types",
    "periodic_images", "required_radius",
]
