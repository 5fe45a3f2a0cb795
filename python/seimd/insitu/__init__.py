"""Python inside a running LAMMPS: the `fix seimd/python` callback contract (bridge.py)."""

from .bridge import FixContext

__all__ = ["FixContext"]
