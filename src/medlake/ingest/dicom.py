"""DICOM connector: a PACS export tree → image_occurrence (one row per series) and image_series_meta.

Batch connector (``batch = True``): the runner calls ``ingest_batch(make_ctx, files)`` once with
every new or changed DICOM file of a run; ``make_ctx(src)`` gives each file its context (its stats
and quarantine). Only headers are read (``dicom_read``); a truncated or unreadable file is
quarantined and the rest lands.

Series span files, so rows are kept in parts per **bucket of studies** (``dicom-study-<n>``, the
study uid hashed into ``BUCKETS``): the instance headers of a bucket (``_dicom_instance``) are
merged with what earlier runs stored there, and its series rows are rebuilt from the merged
instances. A new day's PACS folder therefore rewrites only the buckets of the studies it contains
(a bounded number of parts however many studies the PACS holds); a series that grows keeps its
earlier instances. Patients (``person``, ``source_person``, namespace ``PACS``) are kept in parts
per bucket of PACS patient ids, upserted the same way. ``image_occurrence.note_id`` and ``visit_occurrence_id`` are taken from the
影像报告 note with the same accession number when it is already in the lake
(``note.accession_number``; the runner ingests notes before this batch connector).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import pyarrow.parquet as pq

from medlake.cdm.ids import stable_id
from medlake.cdm.lake import part_name
from medlake.ingest.base import Connector, IngestContext, SourceFile, person_id_for, register
from medlake.ingest.dicom_read import DicomUnreadable, Instance, looks_like_dicom, read_instance
from medlake.ingest.row_tables import to_table

SYSTEM = "PACS"
GENDER = {"M": 8507, "F": 8532}
RECORD_TYPE = "DICOM instance"


#: parts per table for the studies (and for the patients) of a PACS
BUCKETS = 64


def study_part(study_uid: str) -> str:
    return f"dicom-study-{stable_id('dicom-bucket', study_uid) % BUCKETS:02d}"


def patient_part(patient_id: str) -> str:
    return f"dicom-patient-{stable_id('dicom-bucket', patient_id) % BUCKETS:02d}"


@register
class DicomConnector(Connector):
    kind: ClassVar[str] = "dicom"
    system: ClassVar[str] = SYSTEM
    priority: ClassVar[int] = 200  # after the EMR notes, so reports link by accession number
    batch: ClassVar[bool] = True
    uses_pool: ClassVar[bool] = True

    @classmethod
    def detect(cls, path: Path, head: bytes) -> bool:
        return looks_like_dicom(head)

    def ingest(self, ctx: IngestContext) -> None:
        """One file on its own: a batch of one."""
        self.ingest_batch(lambda _src: ctx, [ctx.src])

    def ingest_batch(self, make_ctx: Callable[[SourceFile], IngestContext], files: list[SourceFile]) -> None:
        by_study: dict[str, list[tuple[IngestContext, dict[str, Any]]]] = defaultdict(list)
        patients: dict[str, tuple[IngestContext, Instance]] = {}
        pool = getattr(self, "pool", None)  # the runner's worker pool: headers are read there, ahead
        ahead = [pool.submit(read_instance, src.path) for src in files] if pool is not None else None
        for i, src in enumerate(files):
            ctx = make_ctx(src)
            ctx.stats.rows_read += 1
            ctx.stats.count(RECORD_TYPE, "read")
            try:
                inst = ahead[i].result() if ahead is not None else read_instance(src.path)
                if not inst.patient_id:
                    raise DicomUnreadable("missing PatientID")
            except DicomUnreadable as exc:
                ctx.stats.count(RECORD_TYPE, "quarantined")
                ctx.quarantine(src.rel, str(exc), system=SYSTEM)
                continue
            ctx.stats.count(RECORD_TYPE, "mapped")
            by_study[inst.image_study_uid].append((ctx, _instance_row(inst, src)))
            patients[inst.patient_id] = (ctx, inst)
        if not by_study:
            return
        lake = next(iter(by_study.values()))[0][0].lake
        by_bucket: dict[str, dict[str, tuple[IngestContext, dict[str, Any]]]] = defaultdict(dict)
        for study_uid, items in by_study.items():
            for ctx, row in items:
                by_bucket[study_part(study_uid)][row["sop_instance_uid"]] = (ctx, row)
        buckets: list[tuple[str, IngestContext, list[dict[str, Any]]]] = []
        for part, new in sorted(by_bucket.items()):
            ctx = next(iter(new.values()))[0]
            merged = {r["sop_instance_uid"]: r for r in _stored(ctx, "_dicom_instance", part)}
            merged.update({uid: row for uid, (_, row) in new.items()})
            instances = sorted(
                merged.values(),
                key=lambda r: (r["image_study_uid"], r["image_series_uid"], r["instance_number"] or 0),
            )
            buckets.append((part, ctx, instances))
        notes = _notes_by_accession(lake, {r["accession_number"] for _, _, rows in buckets for r in rows})
        for part, ctx, instances in buckets:
            occurrences, metas = _series_rows(instances, notes)
            ctx.write("_dicom_instance", to_table("_dicom_instance", instances), part=part)
            ctx.write("image_occurrence", to_table("image_occurrence", occurrences), part=part)
            ctx.write("image_series_meta", to_table("image_series_meta", metas), part=part)
        people: dict[str, dict[str, tuple[IngestContext, Instance]]] = defaultdict(dict)
        for patient_id, (ctx, inst) in patients.items():
            people[patient_part(patient_id)][patient_id] = (ctx, inst)
        for part, members in sorted(people.items()):
            ctx = next(iter(members.values()))[0]
            persons = {r["person_id"]: r for r in _stored(ctx, "person", part)}
            sources = {r["src_person_id"]: r for r in _stored(ctx, "source_person", part)}
            for patient_id, (member_ctx, inst) in members.items():
                person, source_person = _patient_rows(inst, member_ctx.src.sha256)
                persons[person["person_id"]] = person
                sources[patient_id] = source_person
            ctx.write("person", to_table("person", list(persons.values())), part=part)
            ctx.write("source_person", to_table("source_person", list(sources.values())), part=part)


def _instance_row(inst: Instance, src: SourceFile) -> dict[str, Any]:
    row = asdict(inst)
    for key in ("patient_name", "birth_date", "sex"):
        row.pop(key)
    row.update(
        {
            "local_path": str(src.path.resolve().parent),
            "source_path": src.rel,
            "src_file": src.sha256,
        }
    )
    return row


def _stored(ctx: IngestContext, table: str, part: str) -> list[dict[str, Any]]:
    path = ctx.lake.table_dir(table) / f"{part_name(part)}.parquet"
    return pq.read_table(path).to_pylist() if path.exists() else []


def _notes_by_accession(lake: Any, accessions: set[str]) -> dict[str, tuple[int, int | None]]:
    """accession number → (note_id, visit_occurrence_id) of the report already in the lake."""
    wanted = sorted(a for a in accessions if a)
    if not wanted:
        return {}
    con = lake.connect()
    try:
        found = con.execute(
            "SELECT accession_number, arg_min(note_id, note_id), arg_min(visit_occurrence_id, note_id) FROM note "
            "WHERE accession_number IN (SELECT unnest(?)) GROUP BY accession_number",
            [wanted],
        ).fetchall()
    finally:
        con.close()
    return {str(a): (int(n), int(v) if v is not None else None) for a, n, v in found}


def _series_rows(
    instances: list[dict[str, Any]], notes: dict[str, tuple[int, int | None]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in instances:
        series[row["image_series_uid"]].append(row)
    occurrences, metas = [], []
    for uid, rows in series.items():
        first = rows[0]
        accession = next((r["accession_number"] for r in rows if r["accession_number"]), "")
        note_id, visit_id = notes.get(accession, (None, None))
        occurrences.append(
            {
                "image_occurrence_id": stable_id("image", uid),
                "person_id": person_id_for(SYSTEM, first["patient_id"]),
                "anatomic_site_concept_id": 0,
                "local_path": first["local_path"],
                "image_occurrence_date": next((r["image_date"] for r in rows if r["image_date"]), None),
                "image_study_uid": first["image_study_uid"],
                "image_series_uid": uid,
                "modality_concept_id": 0,
                "modality": first["modality"] or None,
                "anatomic_site_source_value": first["body_part_examined"] or None,
                "accession_number": accession or None,
                "study_description": first["study_description"] or None,
                "series_description": first["series_description"] or None,
                "instance_count": len(rows),
                "note_id": note_id,
                "visit_occurrence_id": visit_id,
                "src_system": SYSTEM,
                "src_file": first["src_file"],
                "src_record": uid,
            }
        )
        metas.append(
            {
                "image_series_uid": uid,
                "image_study_uid": first["image_study_uid"],
                "rows": first["rows"],
                "columns": first["columns"],
                "slice_thickness": first["slice_thickness"],
                "pixel_spacing": first["pixel_spacing"] or None,
                "manufacturer": first["manufacturer"] or None,
                "manufacturer_model": first["manufacturer_model"] or None,
                "body_part_examined": first["body_part_examined"] or None,
                "series_number": first["series_number"],
                "instance_count": len(rows),
                "src_file": first["src_file"],
            }
        )
    return occurrences, metas


def _patient_rows(inst: Instance, src_file: str) -> tuple[dict[str, Any], dict[str, Any]]:
    birth = inst.birth_date
    record = f"{inst.image_study_uid}/{inst.sop_instance_uid}"
    person = {
        "person_id": person_id_for(SYSTEM, inst.patient_id),
        "gender_concept_id": GENDER.get(inst.sex, 0),
        "year_of_birth": birth.year if birth else None,
        "month_of_birth": birth.month if birth else None,
        "day_of_birth": birth.day if birth else None,
        "race_concept_id": 0,
        "ethnicity_concept_id": 0,
        "person_source_value": f"{SYSTEM}|{inst.patient_id}",
        "gender_source_value": inst.sex or None,
        "src_system": SYSTEM,
        "src_file": src_file,
        "src_record": record,
    }
    source_person = {
        "src_system": SYSTEM,
        "src_person_id": inst.patient_id,
        "name": inst.patient_name or None,
        "sex": inst.sex or None,
        "birth_date": birth,
        "src_file": src_file,
        "src_record": record,
    }
    return person, source_person
