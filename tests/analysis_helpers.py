"""Synthetic SEI monitor curves and files for the tests of seimd.analysis."""

from __future__ import annotations

import numpy as np

from seimd.sei.h5md import H5MDObservables

PCT = ("%", (), np.float64)
OBS = {"reduced": PCT, "crystalline": PCT, "amorphous": PCT}


def synthetic(law="log", n=400, t_end=2000.0, noise=0.2, rng=0, onset=500.0, n_cryst=1.5,
              amorphous_peak=1200.0):
    """Time (ps) and reduced/crystalline/amorphous % with known laws and Gaussian noise:
    reduced 5 + 3 ln t, 0.8 t^0.4 or 0.5 t^0.5; crystalline 1e-3 (t - onset)^n_cryst after
    the onset; amorphous = reduced - crystalline (peaking when crystallisation wins)."""
    rng = np.random.default_rng(rng)
    t = np.linspace(t_end / n, t_end, n)
    reduced = {"log": 5 + 3 * np.log(t), "power": 0.8 * t ** 0.4, "sqrt": 0.5 * np.sqrt(t)}[law]
    cryst = np.where(t > onset, 1e-3 * np.clip(t - onset, 0, None) ** n_cryst, 0.0)
    # keep the crystalline part below the reduced one; then amorphous falls after its peak
    cryst = np.minimum(cryst, 0.95 * reduced)
    amorph = reduced - cryst
    return (t, reduced + rng.normal(0, noise, n), cryst + rng.normal(0, noise / 4, n),
            amorph + rng.normal(0, noise / 4, n))


def write_run(path, t, reduced, crystalline, amorphous, **parameters):
    parameters = {"temperature_K": 400.0, "pressure_bar": 1.0, "seed": 1,
                  "potential": "potentials/model-x.mtp", **parameters}
    with H5MDObservables.open(path, OBS, parameters, creator_version="test") as h5:
        for i, ti in enumerate(t):
            h5.append(100 * (i + 1), float(ti), {"reduced": reduced[i], "crystalline": crystalline[i],
                                                 "amorphous": amorphous[i]})
    return path
