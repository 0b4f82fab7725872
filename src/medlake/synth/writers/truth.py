"""Ground truth: which source ids are one person (``truth/identity.csv``) and the modelled
outcomes with their true risks (``truth/outcomes.csv``). Never ingested."""

from __future__ import annotations

from medlake.synth.model import Patient
from medlake.synth.writers.chunk import ChunkBuffers

TRUTH_CSV: dict[str, tuple[str, list[str]]] = {
    "truth/identity.csv": ("utf-8", ["person_key", "system", "local_id"]),
    "truth/outcomes.csv": ("utf-8", ["person_key", "his_patient_id", "task", "true_risk", "outcome"]),
}


def add_truth(patient: Patient, systems: list[tuple[str, str]], buffers: ChunkBuffers) -> None:
    p = patient.person
    identity = buffers.csv("truth/identity.csv")
    for system, local_id in systems:
        identity.writerow([p.person_key, system, local_id])
    if patient.outcomes:
        outcomes = buffers.csv("truth/outcomes.csv")
        for o in patient.outcomes:
            outcomes.writerow([p.person_key, p.his_id, o.task, f"{o.true_risk:.6f}", o.outcome])
