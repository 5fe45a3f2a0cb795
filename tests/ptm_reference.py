"""OVITO's polyhedral template matching on a periodic point set: the independent reference
for the SEI analysis' crystalline verdicts (tests/test_observables.py,
tests/test_sei_crystalline_bcc.py)."""

from __future__ import annotations

import numpy as np


def periodic_ptm(atoms, structures=("fcc",), rmsd_cutoff: float = 0.15) -> np.ndarray:
    """Structure of every atom of the periodic `atoms` by OVITO's PTM with only the
    templates in `structures` (of "fcc", "hcp", "bcc") enabled, each atom taking the best
    fitting one within rmsd_cutoff: "fcc", "hcp", "bcc" or "other"."""
    from seimd.sei.observables import _import_ovito

    DataCollection, Particles, SimulationCell, PTM = _import_ovito()
    types = {"fcc": PTM.Type.FCC, "hcp": PTM.Type.HCP, "bcc": PTM.Type.BCC}
    data = DataCollection()
    cell = SimulationCell(pbc=(True, True, True))
    cell[...] = np.hstack([atoms.cell.array.T, np.zeros((3, 1))])
    data.objects.append(cell)
    particles = Particles(count=len(atoms))
    particles.create_property("Position", data=atoms.positions)
    data.objects.append(particles)
    mod = PTM(rmsd_cutoff=rmsd_cutoff)
    wanted = {int(types[s]) for s in structures}
    for structure in mod.structures:
        structure.enabled = int(structure.id) in wanted
    data.apply(mod)
    names = {int(types[s]): s for s in structures}
    return np.array([names.get(int(t), "other") for t in data.particles["Structure Type"][...]])
