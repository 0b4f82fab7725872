"""Data sources: ingest run reports (``<data_dir>/runs/*.json``), raw files, quarantine, MPI review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medlake.cdm.schema import TABLES
from medlake.web.storage.lake_reader import LakeReader

LIST_LIMIT = 200
MPI_REVIEW_TABLE = "mpi_review"


def runs(data_dir: Path, *, limit: int = 50) -> list[dict[str, Any]]:
    """Run reports, newest first; an unreadable report is listed with its error, not hidden."""
    folder = data_dir / "runs"
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[:limit]
    out: list[dict[str, Any]] = []
    for path in files:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            out.append({"run_id": path.stem, "error": f"unreadable report: {type(exc).__name__}"})
            continue
        if not isinstance(raw, dict):
            out.append({"run_id": path.stem, "error": "report is not a JSON object"})
            continue
        summary = {k: v for k, v in raw.items() if isinstance(v, str | int | float | bool) or v is None}
        summary.setdefault("run_id", path.stem)
        out.append(summary)
    return out


def run_report(data_dir: Path, run_id: str) -> dict[str, Any] | None:
    if not run_id.replace("-", "").replace("_", "").isalnum():
        return None
    path = data_dir / "runs" / f"{run_id}.json"
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    return raw if isinstance(raw, dict) else {"report": raw}


def raw_files(reader: LakeReader, *, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    return reader.rows(
        f"""SELECT sha256, source_path, source_kind, size_bytes, version, captured_at, rows_read, rows_written,
                   rows_quarantined, run_id
            FROM _raw_file ORDER BY captured_at DESC NULLS LAST, source_path LIMIT {int(limit)}"""
    )


def quarantine_reasons(reader: LakeReader) -> list[dict[str, Any]]:
    return reader.rows(
        """SELECT src_system, reason, count(*) AS n FROM _quarantine GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT 100"""
    )


def quarantine_rows(reader: LakeReader, *, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    return reader.rows(
        f"""SELECT src_system, source_path, src_record, reason, left(raw, 200) AS raw, run_id, quarantined_at
            FROM _quarantine ORDER BY quarantined_at DESC NULLS LAST LIMIT {int(limit)}"""
    )


def mpi_review(reader: LakeReader, *, limit: int = LIST_LIMIT) -> list[dict[str, Any]] | None:
    """The MPI review queue, or None when the lake has no such table yet."""
    if MPI_REVIEW_TABLE not in TABLES:
        return None
    return reader.rows(f'SELECT * FROM "{MPI_REVIEW_TABLE}" LIMIT {int(limit)}')
