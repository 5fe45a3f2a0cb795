"""Interface models: bcc Li(110) | Li6PS5Cl(110) | Li(110), periodic, two interfaces.

    from seimd.build import named_model, build_interface, interface_report, format_report
    atoms = named_model("I")                   # 7956 atoms, 1345.1 A^2 (paper model I)
    atoms = named_model("II", a_lpsc=9.85)     # 31824 atoms at the experimental a
    atoms = build_interface(lateral=(2, 1), lpsc_blocks=4, li_layers=12, gap=2.2)
    print(format_report(interface_report(atoms)))
    write_interface(atoms, data="model.data", xyz="model.extxyz")

Named models (MODELS): XS (212 atoms), S (1552), M (3816), I (7956), II (31824).
Lengths in Angstrom; recipe in docs/interface-models.md; the frame and
stacking conventions are documented in :mod:`seimd.build.interface`, the file formats
(types 1..4 = Li, P, S, Cl; anode/electrolyte by id range) in :mod:`seimd.build.output`.
"""

from .interface import (A_LI_REF, CUT, GAP, MODELS, SPECORDER, ModelSpec, broken_ps4,
                        build_interface, li110_slab, lpsc110_block, lpsc110_slab, named_model,
                        ps4_coordination)
from .output import groups_path, write_extxyz, write_interface, write_lammps
from .report import closest_contacts, format_report, interface_report

__all__ = [
    "A_LI_REF", "CUT", "GAP", "MODELS", "SPECORDER", "ModelSpec", "broken_ps4",
    "build_interface", "li110_slab", "lpsc110_block", "lpsc110_slab", "named_model",
    "ps4_coordination", "groups_path", "write_extxyz", "write_interface", "write_lammps",
    "closest_contacts", "format_report", "interface_report",
]
