"""The export package: data files, data dictionary, README, de-identification report, manifest.

Written aside (a hidden temporary directory beside the destination), scanned by the release gate
while still aside, and only then renamed into place: a package is complete and clean, or absent.

Layout::

    data/<table>.parquet | .csv
    data_dictionary.csv          variable, labels (zh/en), type, unit, code system, missing rate, action
    README.md                    cohort definition, provenance, de-identification summary, terms
    deid_report.json             actions per column, k achieved, what suppression cost
    manifest.json                sha256 and size of every other file
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

import medlake
from medlake.errors import ReleaseBlocked
from medlake.export.columns import Column
from medlake.export.formats import get_format
from medlake.export.spec import DatasetSpec
from medlake.privacy.actions import ColumnRule
from medlake.privacy.deidentify import DeidReport
from medlake.privacy.release_scan import ScanResult

DICTIONARY_FIELDS = [
    "table",
    "variable",
    "label_zh",
    "label_en",
    "type",
    "unit",
    "code_system",
    "missing_rate",
    "action",
]


@dataclass
class PackageInfo:
    path: Path
    manifest_sha256: str
    files: int
    rows: dict[str, int]
    scan: ScanResult


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _arrow_type_name(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "number"
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return "date"
    return "text"


def dictionary_rows(
    tables: dict[str, pa.Table], columns: list[Column], plans: dict[str, dict[str, ColumnRule]]
) -> list[dict[str, Any]]:
    rows = []
    for c in columns:
        table = tables.get(c.table)
        if table is None or c.name not in table.column_names:
            continue  # suppressed columns are not in the package (the report lists them)
        col = table.column(c.name)
        missing = (col.null_count / len(col)) if len(col) else 0.0
        if pa.types.is_string(col.type) and len(col):
            missing = (col.null_count + int(pc.sum(pc.equal(col, "")).as_py() or 0)) / len(col)
        rows.append(
            {
                "table": c.table,
                "variable": c.name,
                "label_zh": c.label_zh,
                "label_en": c.label_en,
                "type": _arrow_type_name(col.type),
                "unit": c.unit,
                "code_system": c.code_system,
                "missing_rate": round(missing, 4),
                "action": plans[c.table][c.name].describe(),
            }
        )
    return rows


def public_spec(spec: DatasetSpec) -> dict[str, Any]:
    """The spec as it may leave: an explicit person list is replaced by its size (lake ids are identifying)."""
    data = spec.model_dump(mode="json")
    if data["cohort"].get("kind") == "persons":
        data["cohort"] = {"kind": "persons", "count": len(data["cohort"]["person_ids"])}
    return data


def readme_text(spec: DatasetSpec, meta: dict[str, Any], report: DeidReport, rows: dict[str, int]) -> str:
    k = report.kanon
    lines = [
        f"# {spec.name} v{spec.version} — de-identified research dataset / 去标识化科研数据集",
        "",
        f"- project / 项目: `{spec.project}`",
        f"- export request / 导出申请: {meta.get('request_id', '')} (requester {meta.get('requester', '')}, "
        f"approved by {meta.get('steward', '')})",
        f"- purpose / 用途: {meta.get('purpose', '')}",
        f"- data-use agreement / 数据使用协议: {meta.get('dua_version', '')}",
        f"- built / 生成时间: {meta.get('built_at', '')} by medlake {medlake.__version__}",
        f"- rows / 行数: {', '.join(f'{t} {n}' for t, n in rows.items())}",
        "",
        "## Cohort definition / 队列定义",
        "```json",
        json.dumps(
            {"cohort": public_spec(spec)["cohort"], "index": spec.index.model_dump(mode="json")},
            ensure_ascii=False,
            indent=2,
        ),
        "```",
        "",
        "## Provenance / 数据来源",
        f"Built from the medlake lake (OMOP CDM v5.4 tables) with the dataset specification below "
        f"(sha256 `{meta.get('spec_sha256', '')}`); variables and their windows are listed in "
        "`data_dictionary.csv`. Lake tables read / 读取的数据表:",
        "",
        "| table | rows | parts | newest part |",
        "| --- | --- | --- | --- |",
        *(
            f"| {name} | {info['rows']} | {info['parts']} | {info['newest_part'] or ''} |"
            for name, info in meta.get("lake", {}).items()
        ),
        "",
        "## De-identification / 去标识化",
        "Every column has an explicit action (allow-list, GB/T 37964-2019); see `deid_report.json`. "
        "Person ids are keyed pseudonyms (HMAC-SHA256, the key stays in the hospital); dates are shifted "
        f"per patient within ±{spec.deid.max_shift_days} days; free text is scrubbed of names, resident "
        "ids, phone numbers, addresses and record numbers.",
    ]
    if k is not None:
        lines.append(
            f"k-anonymity: k = {k.k} over {', '.join(k.quasi_identifiers)}; smallest class {k.smallest_class}; "
            f"{k.rows_suppressed} of {k.rows_in} rows suppressed; levels: "
            + ", ".join(f"{c} → {lv}" for c, lv in k.levels.items())
        )
    lines += [
        "",
        "## Terms / 使用条款",
        "The data may be used only for the stated purpose, by the requester, inside the agreement above; "
        "no attempt may be made to re-identify any person. 仅限申请用途使用，禁止任何再识别尝试。",
        "",
        "## Specification / 数据集定义",
        "```json",
        json.dumps(public_spec(spec), ensure_ascii=False, indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")


def write_package(
    dest: Path,
    *,
    spec: DatasetSpec,
    tables: dict[str, pa.Table],
    columns: list[Column],
    plans: dict[str, dict[str, ColumnRule]],
    report: DeidReport,
    formats: list[str],
    meta: dict[str, Any],
    scan: Callable[[Path], ScanResult],
) -> PackageInfo:
    """Write the package aside, scan it, then rename it to ``dest``; refused if the scan finds anything."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".tmp-{dest.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "data").mkdir(parents=True)
    try:
        for name, table in tables.items():
            for fmt_name in dict.fromkeys(formats):
                fmt = get_format(fmt_name)
                suffix = ".excel.csv" if fmt_name == "csv-excel" and "csv" in formats else fmt.suffix
                fmt.write(table, tmp / "data" / f"{name}{suffix}")
        dict_rows = dictionary_rows(tables, columns, plans)
        get_format("csv-excel").write(
            pa.Table.from_pylist(
                dict_rows,
                schema=pa.schema(
                    [(f, pa.string() if f != "missing_rate" else pa.float64()) for f in DICTIONARY_FIELDS]
                ),
            ),
            tmp / "data_dictionary.csv",
        )
        rows = {n: t.num_rows for n, t in tables.items()}
        meta = {**meta, "built_at": meta.get("built_at") or datetime.now(UTC).isoformat(timespec="seconds")}
        (tmp / "README.md").write_text(readme_text(spec, meta, report, rows), encoding="utf-8")
        _write_json(
            tmp / "deid_report.json", {"dataset": spec.name, "version": spec.version, **report.as_dict()}
        )
        files = {}
        for p in sorted(q for q in tmp.rglob("*") if q.is_file()):
            files[str(p.relative_to(tmp))] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        _write_json(
            tmp / "manifest.json", {"dataset": spec.name, "version": spec.version, "files": files, **meta}
        )
        result = scan(tmp)
        if not result.clean:
            counts = ", ".join(f"{n} {t}" for t, n in sorted(result.counts().items()))
            raise ReleaseBlocked(
                f"release scan found direct identifiers ({counts}); nothing was released",
                findings=result.as_dict(),
            )
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PackageInfo(dest, sha256_file(dest / "manifest.json"), len(files) + 1, rows, result)
