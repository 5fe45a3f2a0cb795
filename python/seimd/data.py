"""Where the files shipped with seimd are: ``potentials/*.mtp``, ``potentials/*.als`` and
``inputs/*`` (``sei.in`` ...).

An installed seimd carries them inside the package (``seimd/data/``); a source tree (an
editable install, or ``PYTHONPATH=python``) uses the repository's own folders. ``seimd data``
prints the directory; ``cp "$(seimd data)/inputs/sei.in" .`` copies the main input.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir() -> Path:
    """The directory holding ``potentials/`` and ``inputs/`` (absolute)."""
    installed = _PACKAGE / "data"
    if (installed / "inputs").is_dir():
        return installed
    repo = _PACKAGE.parents[1]
    if (repo / "inputs" / "sei.in").is_file():
        return repo
    return installed


def export_data_dir() -> None:
    """SEIMD_DATA for ``inputs/sei.in`` (an existing setting is kept)."""
    os.environ.setdefault("SEIMD_DATA", str(data_dir()))
