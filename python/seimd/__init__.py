"""seimd: SEI growth at Li-metal | Li6PS5Cl interfaces with Moment Tensor Potentials.

Units everywhere are LAMMPS `metal` units: eV, Angstrom, eV/Angstrom, ps, and
stresses in eV/Angstrom^3 on the Python (ASE) side.
"""

__version__ = "0.1.0"
