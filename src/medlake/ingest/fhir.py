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
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow.parquet as pq

from medlake.cdm.lake import Lake, part_name
from medlake.errors import InputFormatError
from medlake.ingest.base import Connector, IngestContext, SourceFile, register
from medlake.ingest.fhir_map import CONCEPT_DOMAINS, MAPPERS, TABLES, MapContext, MappingError
from medlake.ingest.fhir_read import Item, first_resource_type, manifest_outputs, read_items, sniff, validate
from medlake.ingest.fhir_values import SYSTEM, Refs, patient_local_id
from medlake.ingest.parsed import ParsedFile, RecordingRegistry, remap_concepts
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
        contexts = [make_ctx(src) for src in ordered]
        if not contexts:
            return
        kinds = {src.rel: sniff(heads[src.rel]) or "ndjson" for src in ordered}
        pool = getattr(self, "pool", None)  # the runner's worker pool, when it has one
        registry = getattr(self, "registry", None)
        ahead: dict[str, Future[tuple[MappedFile | None, list[str | None] | None]]] = {}
        if pool is not None and registry is not None:
            # validating and mapping need nothing but the file when it holds every patient it refers to
            # (a partner's bundle per patient): the workers do both ahead, the rest is mapped here
            first = contexts[0]
            ahead = {
                src.rel: pool.submit(
                    map_file, str(first.lake.root), first.run_id, src, kinds[src.rel], self.validate
                )
                for src in ordered
            }
        patient_keys = _stored_patient_keys(contexts[0].lake)
        shared: dict[str, dict[object, dict[str, object]]] = {t: {} for t in SHARED_TABLES}
        for src, ctx in zip(ordered, contexts, strict=True):
            problems: list[str | None] | None = None
            if src.rel in ahead:
                mapped, problems = ahead.pop(src.rel).result()
                if mapped is not None:
                    parsed = mapped.parsed
                    ctx.adopt(remap_concepts(parsed, registry), parsed.stats, parsed.quarantine)  # type: ignore[arg-type]
                    patient_keys.update(mapped.patient_keys)
                    for table, rows in mapped.shared.items():
                        shared[table].update(rows)
                    continue
            try:
                self._ingest_file(ctx, kinds[src.rel], patient_keys, shared, problems)
            except InputFormatError as exc:  # the whole file is unusable: quarantine it, go on with the next
                ctx.stats.rows_read += 1
                ctx.stats.count("unreadable", "read")
                self._quarantine(ctx, "unreadable", "<file>", exc.message, "")
        _write_shared(contexts[-1], shared)

    def _ingest_file(
        self,
        ctx: IngestContext,
        kind: str,
        patient_keys: dict[str, str],
        shared: dict[str, dict[object, dict[str, object]]],
        problems: list[str | None] | None = None,
        items: list[Item] | None = None,
    ) -> None:
        """Map one file; ``problems``: its resources' validation messages when a worker checked them;
        ``items``: its resources when already read."""
        if kind in {"manifest", "log"}:
            self._ingest_export_metadata(ctx, kind)
            return
        if items is None:
            items, _bundle_type = read_items(ctx.src.path, kind)
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


def _problems(items: list[Item]) -> list[str | None]:
    """The validation message (None: valid) of each item; only resources a mapper would land, as in ``_one``."""
    return [
        validate(it.resource)
        if it.resource is not None and str(it.resource.get("resourceType")) in MAPPERS
        else None
        for it in items
    ]


class _OwnPatients(dict[str, str]):
    """Patient keys of one file that remember whether a reference looked for a patient elsewhere."""

    missed = False

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if key not in self:
            self.missed = True
        return super().get(key, default)


@dataclass
class MappedFile:
    """A file a worker validated and mapped: its rows, its Patient keys and its shared dimension rows."""

    parsed: ParsedFile
    patient_keys: dict[str, str]
    shared: dict[str, dict[object, dict[str, object]]]


def map_file(
    data_dir: str, run_id: str, src: SourceFile, kind: str, validate_resources: bool
) -> tuple[MappedFile | None, list[str | None] | None]:
    """Worker: validate a file's resources and, when every patient it refers to is in the file, map it.

    Returns the mapping (None when the runner must map the file itself: it refers to patients held
    by other files, or it cannot be read) and the validation messages either way.
    """
    if kind in {"manifest", "log"}:
        return None, None
    try:
        items, _bundle_type = read_items(src.path, kind)
    except InputFormatError:  # the runner reads it again and quarantines it
        return None, None
    problems = _problems(items) if validate_resources else None
    connector = FhirConnector()
    registry = RecordingRegistry()
    setattr(connector, "registry", registry)  # noqa: B010 - the runner's optional capability, recorded
    keys = _OwnPatients()
    shared: dict[str, dict[object, dict[str, object]]] = {t: {} for t in SHARED_TABLES}
    ctx = IngestContext(Lake(Path(data_dir)), None, run_id, src, chunk="worker")  # type: ignore[arg-type]
    connector._ingest_file(ctx, kind, keys, shared, problems, items)  # read already: nothing left to reject
    if keys.missed:
        return None, problems
    tables = {name: list(parts) for name, parts in ctx.buffered.items()}
    for name, rows in ctx.buffered_rows.items():
        tables.setdefault(name, []).append(to_table(name, rows))
    parsed = ParsedFile(tables, ctx.stats, ctx.pending_quarantine(), registry.codes)
    return MappedFile(parsed, dict(keys), shared), problems


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
