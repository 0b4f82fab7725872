"""``medlake mpi apply``: make the lake show ONE person_id per real person.

Connectors give a non-HIS patient's rows the provisional id ``person_id_for(system, local id)``.
After linking, every clinical part holding rows of a system other than HIS whose person id must
change is read, mapped through a DuckDB join and written back under the same part name (the lake
stages it aside and swaps it in at commit). ``person`` rows of linked non-HIS patients are dropped
where the HIS (or another system's earlier row) already has one for that person.

The map written last is kept in ``_mpi_applied`` (system, provisional id → person id), so a later run
maps rows from what they hold *now*: re-running with unchanged links rewrites nothing, and a new
batch only touches the parts whose people changed. When a later run splits a cluster, rows whose
current id no longer tells which member they came from keep their id and are counted as ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from medlake.cdm.ids import stable_id_sql
from medlake.cdm.lake import Lake, LakeTransaction
from medlake.cdm.schema import TABLES

#: clinical tables whose person_id the index rewrites
PERSON_TABLES = (
    "person",
    "observation_period",
    "visit_occurrence",
    "visit_detail",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "measurement",
    "observation",
    "death",
    "note",
    "image_occurrence",
)
APPLIED_PART = "mpi"

_NEW_MAP_SQL = """
CREATE OR REPLACE TEMP TABLE mpi_new_map AS
SELECT src_system, {provisional} AS provisional_id, person_id
FROM person_link WHERE src_system <> 'HIS' AND person_id IS NOT NULL
"""

# (src_system, id a row holds now) → id it must hold: a provisional id maps to its person; an id written by an
# earlier apply maps to the person of the patients it stood for (k > 1 when a split makes that ambiguous)
_REMAP_SQL = """
CREATE OR REPLACE TEMP TABLE mpi_remap AS
WITH old AS (SELECT DISTINCT src_system, provisional_id, person_id FROM _mpi_applied),
targets AS (
    SELECT o.src_system, o.person_id AS from_id, n.person_id AS to_id
    FROM old o JOIN mpi_new_map n USING (src_system, provisional_id)
    UNION ALL
    SELECT src_system, provisional_id AS from_id, person_id AS to_id FROM mpi_new_map
)
SELECT src_system, from_id, min(to_id) AS to_id, count(DISTINCT to_id) AS k FROM targets GROUP BY ALL
"""


@dataclass
class ApplyResult:
    parts_rewritten: int = 0
    rows_remapped: int = 0
    person_rows_dropped: int = 0
    ambiguous_ids: int = 0
    tables: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _files_sql(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _person_drops(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Temp table ``mpi_person_drop(filename, rn)``: non-HIS person rows that duplicate a kept one."""
    parts = lake.parts("person")
    if not parts:
        con.execute("CREATE OR REPLACE TEMP TABLE mpi_person_drop (filename VARCHAR, rn BIGINT)")
        return
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE mpi_person_drop AS
        WITH rows AS (
            SELECT p.filename, p.file_row_number AS rn, p.src_system,
                   coalesce(m.to_id, p.person_id) AS person_id, p.src_record
            FROM read_parquet({_files_sql(parts)}, filename = true, file_row_number = true, union_by_name = true) p
            LEFT JOIN mpi_remap m ON m.src_system = p.src_system AND m.from_id = p.person_id
                                 AND p.src_system <> 'HIS' AND m.k = 1
        ),
        ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY person_id
                ORDER BY src_system <> 'HIS', src_system, filename, src_record, rn) AS keep_rank
            FROM rows
        )
        SELECT filename, rn FROM ranked WHERE keep_rank > 1 AND src_system <> 'HIS'"""
    )


def _rewrite_table(
    con: duckdb.DuckDBPyConnection, lake: Lake, tx: LakeTransaction, name: str
) -> tuple[int, int]:
    """Rewrite the parts of ``name`` that hold rows to remap (or person rows to drop)."""
    parts = lake.parts(name)
    if not parts:
        return 0, 0
    drop_join = "UNION SELECT DISTINCT filename FROM mpi_person_drop" if name == "person" else ""
    affected = con.execute(
        f"""SELECT DISTINCT p.filename
        FROM read_parquet({_files_sql(parts)}, filename = true, union_by_name = true) p
        JOIN mpi_remap m ON m.src_system = p.src_system AND m.from_id = p.person_id
        WHERE p.src_system <> 'HIS' AND m.k = 1 AND m.to_id <> m.from_id
        {drop_join}
        ORDER BY 1"""
    ).fetchall()
    cols = [c for c, _ in TABLES[name].columns]
    select = ", ".join(
        "coalesce(m.to_id, p.person_id) AS person_id" if c == "person_id" else f'p."{c}"' for c in cols
    )
    remapped = 0
    for (filename,) in affected:
        path = Path(filename)
        drop = (
            "ANTI JOIN (SELECT rn FROM mpi_person_drop WHERE filename = $f) d ON d.rn = p.file_row_number"
            if name == "person"
            else ""
        )
        rel = con.sql(
            f"""SELECT {select}, (m.to_id IS NOT NULL AND m.to_id <> p.person_id) AS _changed
            FROM read_parquet($f, file_row_number = true) p
            LEFT JOIN mpi_remap m ON m.src_system = p.src_system AND m.from_id = p.person_id
                                 AND p.src_system <> 'HIS' AND m.k = 1
            {drop}
            ORDER BY p.file_row_number""",
            params={"f": str(path)},
        ).to_arrow_table()
        remapped += int(rel.column("_changed").to_pylist().count(True))
        tx.write(name, path.stem, rel.drop_columns(["_changed"]))
    return len(affected), remapped


def apply_in(lake: Lake, tx: LakeTransaction, *, now: datetime | None = None) -> ApplyResult:
    """Remap person ids inside an open transaction (reads the committed lake: run after linking commits)."""
    now = (now or datetime.now()).replace(microsecond=0)
    out = ApplyResult()
    con = lake.connect()
    try:
        con.execute(
            _NEW_MAP_SQL.format(provisional=stable_id_sql("person", "src_system || '|' || src_person_id"))
        )
        con.execute(_REMAP_SQL)
        out.ambiguous_ids = int(con.execute("SELECT count(*) FROM mpi_remap WHERE k > 1").fetchall()[0][0])
        _person_drops(con, lake)
        out.person_rows_dropped = int(con.execute("SELECT count(*) FROM mpi_person_drop").fetchall()[0][0])
        for name in PERSON_TABLES:
            parts, rows = _rewrite_table(con, lake, tx, name)
            if parts:
                out.tables[name] = rows
                out.parts_rewritten += parts
                out.rows_remapped += rows
        changed = con.execute(
            """SELECT count(*) FROM (
                (SELECT src_system, provisional_id, person_id FROM mpi_new_map
                 EXCEPT SELECT src_system, provisional_id, person_id FROM _mpi_applied)
                UNION ALL
                (SELECT src_system, provisional_id, person_id FROM _mpi_applied
                 EXCEPT SELECT src_system, provisional_id, person_id FROM mpi_new_map))"""
        ).fetchall()[0][0]
        if changed:
            applied = con.sql(
                "SELECT src_system, provisional_id, person_id, ?::TIMESTAMP AS applied_at FROM mpi_new_map "
                "ORDER BY src_system, provisional_id",
                params=[now],
            ).to_arrow_table()
            tx.write("_mpi_applied", APPLIED_PART, applied)
    finally:
        con.close()
    return out


def apply(lake: Lake, *, now: datetime | None = None) -> ApplyResult:
    """Rewrite person ids of linked non-HIS rows across the lake and commit."""
    with lake.transaction() as tx:
        return apply_in(lake, tx, now=now)
