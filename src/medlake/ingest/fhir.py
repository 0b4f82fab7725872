"""FHIR R4 connector: partner bundles (transaction/collection/...) and bulk-data ``$export`` NDJSON.

Every resource is validated with its fhir.resources R4B model; an invalid resource, or one that
cannot be placed (no subject, no code), is quarantined with the message, the rest of the file
lands. Resource types without a mapper (``fhir_map.MAPPERS``) are counted as skipped by type.
``ctx.stats.by_type[<resource type>]`` reconciles: read = mapped + skipped + quarantined, and
``ctx.stats.written`` holds the rows per table.

Batch connector (``batch = True``): the runner hands over every FHIR file of a run at once, so
the Patient files of a bulk export are read first and every reference to a Patient resolves to
the patient's medical record number (``fhir_values.patient_local_id``) whichever file holds it;
Patients ingested by earlier runs are found in the lake's ``source_person``. Each file still has
its own context, parts and stats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pyarrow.parquet as pq

from medlake.cdm.lake import Lake, part_name
from medlake.errors import InputFormatError
from medlake.ingest.base import Connector, IngestContext, SourceFile, register
from medlake.ingest.fhir_map import CONCEPT_DOMAINS, MAPPERS, TABLES, MapContext, MappingError
from medlake.ingest.fhir_read import Item, first_resource_type, manifest_outputs, read_items, sniff, validate
from medlake.ingest.fhir_values import SYSTEM, Refs, patient_local_id
from medlake.ingest.row_tables import to_table
from medlake.ingest.source_codes import SourceConcepts

#: a resource not validated ahead by a worker
_UNCHECKED = "\0unchecked"


@register
class FhirConnector(Connector):
    kind: ClassVar[str] = "fhir"
    system: ClassVar[str] = SYSTEM
    priority: ClassVar[int] = 60
    #: validate every resource against its R4B model (about 1.5 ms a resource on one core)
    validate: ClassVar[bool] = True
    uses_pool: ClassVar[bool] = True
    batch: ClassVar[bool] = True

    @classmethod
    def detect(cls, path: Path, head: bytes) -> bool:
        return sniff(head) is not None

    def ingest(self, ctx: IngestContext) -> None:
        """One file on its own: a batch of one."""
        self.ingest_batch(lambda _src: ctx, [ctx.src])

    def ingest_batch(self, make_ctx: Callable[[SourceFile], IngestContext], files: list[SourceFile]) -> None:
        heads = {src.rel: _head(src.path) for src in files}
        ordered = sorted(files, key=lambda s: (first_resource_type(heads[s.rel]) != "Patient", s.rel))
        pool = getattr(self, "pool", None)  # the runner's worker pool, when it has one
        if self.validate and pool is not None:
            # validation is most of the cost and needs nothing but the file: the workers do it ahead
            self._validated = {
                src.rel: pool.submit(validate_file, str(src.path), sniff(heads[src.rel]) or "ndjson")
                for src in ordered
            }
        patient_keys: dict[str, str] | None = None
        shared: dict[str, dict[object, dict[str, object]]] = {t: {} for t in SHARED_TABLES}
        ctx: IngestContext | None = None
        for src in ordered:
            ctx = make_ctx(src)
            if patient_keys is None:
                patient_keys = _stored_patient_keys(ctx.lake)
            try:
                self._ingest_file(ctx, sniff(heads[src.rel]) or "ndjson", patient_keys, shared)
            except InputFormatError as exc:  # the whole file is unusable: quarantine it, go on with the next
                ctx.stats.rows_read += 1
                ctx.stats.count("unreadable", "read")
                self._quarantine(ctx, "unreadable", "<file>", exc.message, "")
        if ctx is not None:
            _write_shared(ctx, shared)

    def _ingest_file(
        self,
        ctx: IngestContext,
        kind: str,
        patient_keys: dict[str, str],
        shared: dict[str, dict[object, dict[str, object]]],
    ) -> None:
        if kind in {"manifest", "log"}:
            self._ingest_export_metadata(ctx, kind)
            return
        items, _bundle_type = read_items(ctx.src.path, kind)
        future = getattr(self, "_validated", {}).pop(ctx.src.rel, None)
        problems: list[str | None] | None = future.result() if future is not None else None
        if problems is not None and len(problems) != len(items):
            problems = None  # the file changed under us: validate here
        for it in items:
            if (
                it.resource is not None
                and it.resource.get("resourceType") == "Patient"
                and it.resource.get("id")
            ):
                patient_keys[str(it.resource["id"])] = patient_local_id(it.resource)
        refs = Refs(
            {
                it.full_url: (str(it.resource["resourceType"]), str(it.resource.get("id", "")))
                for it in items
                if it.full_url and it.resource is not None
            },
            patient_keys,
        )
        concepts = SourceConcepts(self)
        mctx = MapContext(refs, ctx.src.sha256, concepts)
        out: dict[str, dict[object, dict[str, object]]] = {t: {} for t in TABLES}
        out.update(shared)
        for i, item in enumerate(items):
            self._one(ctx, item, mctx, out, problems[i] if problems is not None else _UNCHECKED)
        concepts.resolve(CONCEPT_DOMAINS)
        for table in TABLES:
            if table not in SHARED_TABLES:
                rows = list(out[table].values())
                ctx.write(table, rows if ctx.chunk is not None else to_table(table, rows))

    def _one(
        self,
        ctx: IngestContext,
        item: Item,
        mctx: MapContext,
        out: dict[str, dict[object, dict[str, object]]],
        problem: str | None = _UNCHECKED,
    ) -> None:
        ctx.stats.rows_read += 1
        res = item.resource
        rtype = str(res["resourceType"]) if res is not None else "unreadable"
        ctx.stats.count(rtype, "read")
        if res is None:
            self._quarantine(ctx, rtype, item.record, item.error, item.raw)
            return
        mapper = MAPPERS.get(rtype)
        if mapper is None:
            ctx.stats.count(rtype, "skipped")
            ctx.stats.skip(f"{rtype} not mapped")
            return
        if self.validate:
            if problem == _UNCHECKED:
                problem = validate(res)
            if problem:
                self._quarantine(
                    ctx, rtype, item.record, problem, item.raw or json.dumps(res, ensure_ascii=False)
                )
                return
        try:
            rows = mapper(res, mctx)
        except MappingError as exc:
            self._quarantine(
                ctx, rtype, item.record, str(exc), item.raw or json.dumps(res, ensure_ascii=False)
            )
            return
        if rows is None:
            ctx.stats.count(rtype, "skipped")
            ctx.stats.skip(f"{rtype} without text (results are read from their Observations)")
            return
        ctx.stats.count(rtype, "mapped")
        for table, row in rows:
            key = next(iter(row.values())) if table != "source_person" else row["src_person_id"]
            out[table][key] = row

    def _quarantine(self, ctx: IngestContext, rtype: str, record: str, reason: str, raw: str) -> None:
        ctx.stats.count(rtype, "quarantined")
        ctx.quarantine(record, reason, raw, SYSTEM)

    def _ingest_export_metadata(self, ctx: IngestContext, kind: str) -> None:
        """A manifest or export log carries no clinical rows: note what it lists, write nothing."""
        if kind == "manifest":
            outputs = manifest_outputs(ctx.src.path)
            ctx.stats.skip(f"$export manifest listing {len(outputs)} output files")
        else:
            ctx.stats.skip("$export log")


#: dimension tables that many files repeat (Synthea puts the same Practitioner in every bundle):
#: kept in a few parts keyed by id bucket and upserted, instead of one copy per file
SHARED_TABLES = ("provider", "care_site")
_BUCKETS = 8


def _write_shared(ctx: IngestContext, shared: dict[str, dict[object, dict[str, object]]]) -> None:
    for table, rows in shared.items():
        buckets: dict[int, dict[object, dict[str, object]]] = {}
        for key, row in rows.items():
            buckets.setdefault(int(str(key)) % _BUCKETS, {})[key] = row
        for bucket, new in buckets.items():
            part = f"fhir-{table}-{bucket}"
            path = ctx.lake.table_dir(table) / f"{part_name(part)}.parquet"
            stored = pq.read_table(path).to_pylist() if path.exists() else []
            merged = {r[f"{table}_id"]: r for r in stored}
            merged.update(new)
            ctx.write(table, to_table(table, merged.values()), part=part)


def validate_file(path: str, kind: str) -> list[str | None]:
    """The validation message (None: valid) of each resource of a file, in ``read_items`` order.

    Runs in a worker process; only resources a mapper would land are validated, as in ``_one``.
    """
    try:
        items, _bundle_type = read_items(Path(path), kind)
    except InputFormatError:
        return []
    return [
        validate(it.resource)
        if it.resource is not None and str(it.resource.get("resourceType")) in MAPPERS
        else None
        for it in items
    ]


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(65536)


def _stored_patient_keys(lake: Lake) -> dict[str, str]:
    """Patient resource id → local id of the partner patients already in the lake."""
    con = lake.connect()
    try:
        found = con.execute(
            "SELECT src_record, src_person_id FROM source_person "
            "WHERE src_system = ? AND starts_with(src_record, 'Patient/')",
            [SYSTEM],
        ).fetchall()
    finally:
        con.close()
    return {str(record).removeprefix("Patient/"): str(local) for record, local in found}
