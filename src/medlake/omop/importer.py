"""Import an existing OMOP CDM into the lake.

Sources: a DuckDB database file (opened from a private copy, read-only, so the original is never
touched or locked) or a folder of CDM CSV files (``person.csv``, ``CONDITION_OCCURRENCE.csv`` ...).
Column names are lower-cased; a table whose columns are only ``column0, column1, ...`` holds a
junk header row instead of data (as in the Eunomia GiBleed file) and is treated as empty; columns
the lake schema does not know are dropped with a notice; values are cast to the schema types
(``TRY_CAST``; values that do not cast are counted in the notices). Each table becomes one lake
part ``omop-<source>`` (chunked for big tables), written in one lake transaction.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from medlake.cdm.lake import Lake
from medlake.cdm.schema import TABLES, cdm_tables, duckdb_columns
from medlake.errors import InputFormatError, InputNotFound

_JUNK = re.compile(r"^column\d+$", re.IGNORECASE)
CHUNK_ROWS = 2_000_000
# CDM v5.3 column names that v5.4 renamed
RENAMED = {
    "admitting_source_concept_id": "admitted_from_concept_id",
    "admitting_source_value": "admitted_from_source_value",
    "discharge_to_concept_id": "discharged_to_concept_id",
    "discharge_to_source_value": "discharged_to_source_value",
}


@dataclass
class ImportReport:
    source: str
    tables: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "tables": self.tables,
            "skipped": self.skipped,
            "notices": self.notices,
        }


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _open_source(source: Path, workdir: Path) -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """A connection and a map lake table name -> source relation SQL."""
    if source.is_dir():
        con = duckdb.connect(":memory:")
        rels = {}
        for csv in sorted(source.glob("*.csv")):
            name = csv.stem.lower()
            path = str(csv).replace("'", "''")
            rels[name] = f"read_csv('{path}', header = true, all_varchar = true)"
        return con, rels
    if not source.is_file():
        raise InputNotFound(f"OMOP source {source} not found")
    with open(source, "rb") as fh:
        head = fh.read(16)
    if b"DUCK" not in head and head[8:12] != b"DUCK":
        raise InputFormatError(f"{source} is neither a DuckDB file nor a folder of CSV files")
    copy = workdir / "source.duckdb"
    shutil.copyfile(source, copy)
    con = duckdb.connect(str(copy), read_only=True)
    rels = {}
    for schema, table in con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
    ).fetchall():
        rels.setdefault(table.lower(), f"{_quote(schema)}.{_quote(table)}")
    return con, rels


def _select(con: duckdb.DuckDBPyConnection, name: str, rel: str, report: ImportReport) -> str | None:
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
    if cols and all(_JUNK.match(c) for c in cols):
        report.skipped[name] = "junk header row only (empty table)"
        return None
    by_lower = {RENAMED.get(c.lower(), c.lower()): c for c in cols}
    target = duckdb_columns(name)
    extra = sorted(set(by_lower) - {c for c, _ in target})
    if extra:
        report.notices.append(f"{name}: dropped columns not in the lake schema: {', '.join(extra)}")
    parts = []
    for col, typ in target:
        src = by_lower.get(col)
        if src is None:
            parts.append(f"CAST(NULL AS {typ}) AS {_quote(col)}")
        elif typ == "VARCHAR":
            parts.append(f"CAST({_quote(src)} AS VARCHAR) AS {_quote(col)}")
        else:
            parts.append(
                f"TRY_CAST(NULLIF(TRIM(CAST({_quote(src)} AS VARCHAR)), '') AS {typ}) AS {_quote(col)}"
            )
    return ", ".join(parts)


def import_omop(
    source: Path, lake: Lake, *, progress: Callable[[str, int], None] | None = None
) -> ImportReport:
    """Copy every OMOP table of ``source`` that the lake schema knows into ``lake``."""
    report = ImportReport(str(source))
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", source.stem or "omop")
    with tempfile.TemporaryDirectory(prefix="medlake-omop-") as tmp:
        con, rels = _open_source(source, Path(tmp))
        try:
            known = set(cdm_tables())
            for name in sorted(rels):
                if name not in known:
                    report.skipped[name] = "not a lake table"
            with lake.transaction() as tx:
                for name in sorted(n for n in rels if n in known):
                    select = _select(con, name, rels[name], report)
                    if select is None:
                        continue
                    total = int(con.execute(f"SELECT COUNT(*) FROM {rels[name]}").fetchall()[0][0])
                    lineage = TABLES[name].clinical
                    written = 0
                    for i, offset in enumerate(range(0, max(total, 1), CHUNK_ROWS)):
                        q = f"SELECT {select} FROM {rels[name]} LIMIT {CHUNK_ROWS} OFFSET {offset}"
                        table = con.sql(q).to_arrow_table()
                        if lineage:
                            table = table.set_column(
                                table.schema.get_field_index("src_system"),
                                "src_system",
                                pa.array(["omop"] * table.num_rows, pa.string()),
                            ).set_column(
                                table.schema.get_field_index("src_file"),
                                "src_file",
                                pa.array([source.name] * table.num_rows, pa.string()),
                            )
                        part = f"omop-{tag}" if total <= CHUNK_ROWS else f"omop-{tag}-{i:04d}"
                        written += tx.write(name, part, table)
                    report.tables[name] = written
                    if progress:
                        progress(name, written)
        finally:
            con.close()
    return report
