"""``medlake nlp run``: annotate the lake's new notes and write note_nlp plus the facts they assert.

Notes whose id is already in ``_nlp_processed`` are skipped, so a run only does new work. Notes are
annotated by a pool of forked workers (the pipeline is built once, before the fork) in batches;
each batch is one lake transaction writing parts named ``nlp-<batch>`` into note_nlp,
condition_occurrence, measurement, procedure_occurrence, drug_exposure and _nlp_processed, so a
re-run of the same batch replaces rather than duplicates. Facts carry ``src_system='NLP'`` and are
derived only from present, possible or historical findings — never negated, family or hypothetical.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from medlake.cdm.ids import stable_id
from medlake.cdm.lake import Lake
from medlake.nlp.pipeline import Pipeline
from medlake.nlp.types import DISEASE, DRUG, IMAGING, LAB, OPERATION, Entity

NLP_TYPE_CONCEPT = 32858  # OMOP type concept "NLP"
ASSERTED = ("present", "possible", "historical")
_SNIPPET = 20

_WORKER_PIPELINE: Pipeline | None = None


@dataclass
class Note:
    note_id: int
    person_id: int | None
    note_date: date | None
    visit_occurrence_id: int | None
    text: str


@dataclass
class RunStats:
    notes_total: int = 0
    notes_skipped: int = 0
    notes_processed: int = 0
    entities: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__ | {
            "notes_per_second": round(self.notes_processed / self.seconds, 1) if self.seconds else None
        }


def _annotate(note: Note) -> tuple[int, list[Entity]]:
    assert _WORKER_PIPELINE is not None
    return note.note_id, _WORKER_PIPELINE.annotate(note.text, note.note_date)


def new_notes(lake: Lake) -> tuple[list[Note], int]:
    """Notes not yet processed (in note_id order) and how many were skipped as already done."""
    con = lake.connect()
    try:
        done = {r[0] for r in con.execute("SELECT DISTINCT note_id FROM _nlp_processed").fetchall()}
        rows = con.execute(
            "SELECT note_id, person_id, note_date, visit_occurrence_id, note_text FROM note "
            "WHERE note_text IS NOT NULL ORDER BY note_id"
        ).fetchall()
    finally:
        con.close()
    notes = [Note(r[0], r[1], r[2], r[3], r[4]) for r in rows if r[0] not in done]
    return notes, len(rows) - len(notes)


def _batches(notes: Sequence[Note], size: int) -> Iterator[Sequence[Note]]:
    for i in range(0, len(notes), size):
        yield notes[i : i + size]


def batch_key(notes: Sequence[Note]) -> str:
    digest = hashlib.sha1(",".join(str(n.note_id) for n in notes).encode()).hexdigest()[:12]
    return f"nlp-{notes[0].note_id}-{digest}"


def run(
    lake: Lake,
    pipeline: Pipeline,
    *,
    workers: int = 0,
    batch_size: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> RunStats:
    """Process every new note of ``lake``; ``progress(done, total)`` is called as notes finish."""
    global _WORKER_PIPELINE
    started = datetime.now()
    stats = RunStats()
    notes, stats.notes_skipped = new_notes(lake)
    stats.notes_total = len(notes) + stats.notes_skipped
    if not notes:
        return stats
    concepts = local_concepts(lake)
    workers = workers or os.cpu_count() or 1
    _WORKER_PIPELINE = pipeline
    done = 0
    t0 = datetime.now()
    pool = mp.get_context("fork").Pool(workers, initializer=_one_thread) if workers > 1 else None
    try:
        for batch in _batches(notes, batch_size):
            by_id = {n.note_id: n for n in batch}
            results: list[tuple[int, list[Entity]]] = []
            it = pool.imap(_annotate, batch, chunksize=8) if pool else map(_annotate, batch)
            for res in it:
                results.append(res)
                done += 1
                if progress:
                    progress(done, len(notes))
            key = batch_key(batch)
            tables = build_rows(results, by_id, pipeline.system, started, batch=key, concepts=concepts)
            with lake.transaction() as tx:
                for name, rows in tables.items():
                    stats.rows[name] = stats.rows.get(name, 0) + tx.write(name, key, rows)
            stats.notes_processed += len(batch)
            stats.entities += sum(len(e) for _, e in results)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        _WORKER_PIPELINE = None
    stats.seconds = (datetime.now() - t0).total_seconds()
    return stats


def _one_thread() -> None:
    """A worker is one of ``workers`` processes: a neural model in it must not start a thread per core."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _modifiers(ent: Entity) -> str:
    parts = [f"assertion={ent.assertion}"]
    if ent.modifiers:
        parts.append("modifiers=" + ",".join(ent.modifiers))
    parts.append(f"type={ent.type}")
    parts.append(f"source={ent.source}")
    if ent.value is not None:
        parts.append(f"value={ent.value.text}")
    return ";".join(parts)


def local_concepts(lake: Lake) -> dict[str, int]:
    """Concept ids of the lake's concept table by code and by name (for source concept ids)."""
    con = lake.connect()
    try:
        rows = con.execute(
            "SELECT concept_id, concept_code, concept_name FROM concept "
            "WHERE domain_id IN ('Condition', 'Drug', 'Measurement', 'Procedure')"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, int] = {}
    for cid, code, name in rows:
        for k in (code, name):
            if k and k not in out:
                out[k] = cid
    return out


def build_rows(
    results: Sequence[tuple[int, list[Entity]]],
    notes: dict[int, Note],
    system: str,
    when: datetime,
    *,
    batch: str = "",
    concepts: dict[str, int] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Rows of every table a batch writes (note_nlp, the derived facts and _nlp_processed)."""
    concepts = concepts or {}
    out: dict[str, list[dict[str, Any]]] = {
        "note_nlp": [],
        "condition_occurrence": [],
        "measurement": [],
        "procedure_occurrence": [],
        "drug_exposure": [],
        "_nlp_processed": [],
    }
    for note_id, ents in results:
        note = notes[note_id]
        out["_nlp_processed"].append(
            {
                "note_id": note_id,
                "nlp_system": system,
                "batch": batch,
                "entity_count": len(ents),
                "processed_at": when,
            }
        )
        for ent in ents:
            key = f"{note_id}:{ent.start}:{ent.end}:{ent.type}"
            when_date = ent.time.date_from if ent.time and ent.time.date_from else note.note_date
            val = ent.value
            out["note_nlp"].append(
                {
                    "note_nlp_id": stable_id("note_nlp", key),
                    "note_id": note_id,
                    "person_id": note.person_id,
                    "snippet": note.text[max(0, ent.start - _SNIPPET) : ent.end + _SNIPPET],
                    "offset": f"{ent.start}-{ent.end}",
                    "offset_start": ent.start,
                    "offset_end": ent.end,
                    "lexical_variant": ent.text,
                    "note_nlp_concept_id": 0,
                    "nlp_system": system,
                    "nlp_date": when.date(),
                    "nlp_datetime": when,
                    "term_exists": "Y" if ent.assertion in ASSERTED else "N",
                    "term_temporal": "past" if ent.assertion == "historical" else "present",
                    "term_modifiers": _modifiers(ent),
                    "entity_type": ent.type,
                    "assertion": ent.assertion,
                    "concept_code": ent.code,
                    "concept_name": ent.code_name,
                    "code_score": ent.code_score,
                    "term_date": ent.time.date_from if ent.time else None,
                    "term_date_end": ent.time.date_to if ent.time else None,
                    "value_as_number": val.number if val else None,
                    "value_high": val.high if val else None,
                    "value_text": val.text if val else None,
                    "unit": val.unit if val else None,
                    "unit_ucum": val.ucum if val else None,
                    "src_system": "NLP",
                    "src_file": f"note:{note_id}",
                    "src_record": key,
                }
            )
            if ent.assertion not in ASSERTED or note.person_id is None:
                continue
            lineage = {"src_system": "NLP", "src_file": f"note:{note_id}", "src_record": key}
            source_concept = concepts.get(ent.code or "") or concepts.get(ent.text)
            common = {"person_id": note.person_id, "visit_occurrence_id": note.visit_occurrence_id}
            if ent.type == DISEASE:
                out["condition_occurrence"].append(
                    common
                    | lineage
                    | {
                        "condition_occurrence_id": stable_id("nlp_condition", key),
                        "condition_concept_id": 0,
                        "condition_start_date": when_date,
                        "condition_type_concept_id": NLP_TYPE_CONCEPT,
                        "condition_source_value": ent.code or ent.text,
                        "condition_status_source_value": ent.assertion,
                        "condition_source_concept_id": source_concept,
                    }
                )
            elif ent.type == LAB and val is not None and val.number is not None:
                out["measurement"].append(
                    common
                    | lineage
                    | {
                        "measurement_id": stable_id("nlp_measurement", key),
                        "measurement_concept_id": 0,
                        "measurement_date": when_date,
                        "measurement_type_concept_id": NLP_TYPE_CONCEPT,
                        "value_as_number": val.number,
                        "measurement_source_value": ent.code or ent.text,
                        "unit_source_value": val.unit or val.ucum,
                        "unit_ucum": val.ucum,
                        "value_source_value": val.text,
                        "measurement_source_concept_id": source_concept,
                    }
                )
            elif ent.type in (OPERATION, IMAGING):
                out["procedure_occurrence"].append(
                    common
                    | lineage
                    | {
                        "procedure_occurrence_id": stable_id("nlp_procedure", key),
                        "procedure_concept_id": 0,
                        "procedure_date": when_date,
                        "procedure_type_concept_id": NLP_TYPE_CONCEPT,
                        "procedure_source_value": ent.code or ent.text,
                        "procedure_source_concept_id": source_concept,
                    }
                )
            elif ent.type == DRUG:
                out["drug_exposure"].append(
                    common
                    | lineage
                    | {
                        "drug_exposure_id": stable_id("nlp_drug", key),
                        "drug_concept_id": 0,
                        "drug_exposure_start_date": when_date,
                        "drug_exposure_end_date": when_date,
                        "drug_type_concept_id": NLP_TYPE_CONCEPT,
                        "drug_source_value": ent.code or ent.text,
                        "drug_source_concept_id": source_concept,
                    }
                )
    return out
