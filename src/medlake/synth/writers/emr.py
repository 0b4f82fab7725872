"""EMR notes (``emr/notes-<yyyy>.jsonl``) and their gold annotations (``gold/notes_gold.jsonl``)."""

from __future__ import annotations

import orjson

from medlake.synth.model import Patient
from medlake.synth.writers.chunk import ChunkBuffers

GOLD = "gold/notes_gold.jsonl"


def notes_file(year: int) -> str:
    return f"emr/notes-{year}.jsonl"


def add_notes(patient: Patient, buffers: ChunkBuffers) -> int:
    """One patient's notes (one JSON object per line, in the file of the note's year) and gold."""
    pid = patient.person.his_id
    gold = buffers.text(GOLD)
    for n in patient.notes:
        row = {
            "doc_id": n.doc_id,
            "patient_id": pid,
            "visit_no": n.visit_no,
            "doc_type": n.doc_type,
            "doc_time": str(n.doc_time)[:19],
            "title": n.title,
            "text": n.text,
            "author": n.author,
            "accession_no": n.accession_no,
        }
        buffers.text(notes_file(n.doc_time.year)).write(orjson.dumps(row).decode() + "\n")
        gold.write(orjson.dumps(n.gold).decode() + "\n")
    return len(patient.notes)
