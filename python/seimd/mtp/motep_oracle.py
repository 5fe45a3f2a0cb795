"""motep (an independent MIT-licensed MTP code, a test dependency) as an oracle."""

from __future__ import annotations

import importlib


def motep_engine_name() -> str:
    """motep's fastest engine that imports here: cext (compiled C), else numba, else numpy."""
    for name, module in (("cext", "motep.potentials.mtp.cext.engine"),
                         ("numba", "motep.potentials.mtp.numba.engine")):
        try:
            importlib.import_module(module)
            return name
        except ImportError:
            continue
    return "numpy"
