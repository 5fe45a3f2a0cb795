"""File formats: MLIP ``.cfg`` configurations (:mod:`seimd.io.cfg`)."""
