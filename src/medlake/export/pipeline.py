"""From an approved specification to a released package: build, de-identify, package, scan, swap.

``release`` is the one path every export takes (CLI, web, benchmark): the lake is queried, the
allow-list plan applied, k-anonymity reached, the package written aside and scanned with the
cohort's registry identities, and renamed into place only when the scan is clean.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medlake.cdm.lake import Lake
from medlake.errors import ValidationFailed
from medlake.export.builder import BuiltDataset, build_from_lake, deidentify_dataset
from medlake.export.package import PackageInfo, write_package
from medlake.export.spec import DatasetSpec
from medlake.privacy.keys import ProjectKey
from medlake.privacy.release_scan import ReleaseScanner, ScanResult

Progress = Callable[[str], None]


def restrict_fields(built: BuiltDataset, fields: list[str]) -> BuiltDataset:
    """Keep only the requested output columns (person_id always stays); unknown fields are an error."""
    if not fields:
        return built
    known = {c.name for c in built.columns}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValidationFailed(f"requested fields not in the dataset: {', '.join(unknown)}")
    wanted = set(fields) | {"person_id"}
    columns = [c for c in built.columns if c.name in wanted]
    tables = {}
    for name, table in built.tables.items():
        keep = [c.name for c in columns if c.table == name and c.name in table.column_names]
        if len(keep) > 1 or name == "patients":
            tables[name] = table.select(keep)
    columns = [c for c in columns if c.table in tables]
    return BuiltDataset(built.spec, tables, columns, built.registry)


def lake_snapshot(data_dir: Path, spec: DatasetSpec) -> dict[str, Any]:
    """Provenance: the rows and newest part of every lake table the spec reads."""
    lake = Lake(data_dir)
    tables = {"person", "person_link", "source_person", "visit_occurrence", "location"}
    kinds = {v.type for v in spec.variables}
    tables |= {t for k, t in _TABLE_OF.items() if k in kinds}
    if spec.notes is not None:
        tables.add("note")
    if spec.cohort.kind == "cohort":
        tables.add("cohort")
    out: dict[str, Any] = {}
    for name in sorted(tables):
        parts = lake.parts(name)
        newest = max((p.stat().st_mtime for p in parts), default=None)
        out[name] = {
            "rows": lake.count(name),
            "parts": len(parts),
            "newest_part": datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds")
            if newest
            else None,
        }
    return out


_TABLE_OF = {
    "condition": "condition_occurrence",
    "drug": "drug_exposure",
    "procedure": "procedure_occurrence",
    "lab": "measurement",
    "nlp_fact": "note_nlp",
    "demographic": "death",
}


def release(
    spec: DatasetSpec,
    *,
    data_dir: Path,
    dest: Path,
    formats: list[str],
    fields: list[str] | None = None,
    meta: dict[str, Any] | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
) -> PackageInfo:
    say = progress or (lambda _msg: None)
    meta = {**(meta or {}), "lake": lake_snapshot(data_dir, spec)}
    say("querying the lake")
    built = restrict_fields(build_from_lake(spec, data_dir, threads=threads), fields or [])
    say(f"de-identifying {built.tables['patients'].num_rows} persons")
    key = ProjectKey.load_or_create(data_dir, spec.project)
    tables, report, plans = deidentify_dataset(built, key)
    scanner = ReleaseScanner(built.known_identifiers())

    def scan(path: Path) -> ScanResult:
        say("release scan")
        return scanner.scan_dir(path)

    say("writing the package")
    return write_package(
        dest,
        spec=spec,
        tables=tables,
        columns=built.columns,
        plans=plans,
        report=report,
        formats=formats,
        meta=meta,
        scan=scan,
    )


def preview_release(
    spec: DatasetSpec,
    data_dir: Path,
    *,
    fields: list[str] | None = None,
    rows: int = 20,
    threads: int | None = None,
) -> dict[str, Any]:
    """What a steward reviews: the first rows of every table exactly as the package would hold them,
    the action of every column and the de-identification report (k reached, rows suppressed)."""
    built = restrict_fields(build_from_lake(spec, data_dir, threads=threads), fields or [])
    tables, report, plans = deidentify_dataset(built, ProjectKey.load_or_create(data_dir, spec.project))
    return {
        "tables": {
            n: {"columns": t.column_names, "rows": t.slice(0, rows).to_pylist(), "total": t.num_rows}
            for n, t in tables.items()
        },
        "plan": {t: {c: r.describe() for c, r in cols.items()} for t, cols in plans.items()},
        "report": report.as_dict(),
    }
