"""``medlake mpi eval``: pairwise precision / recall / F1 of the links against a truth file.

The truth is ``truth/identity.csv`` (``person_key, system, local_id``). Every truth record is
scored: pairs of source records the index put in one cluster (``person_link.person_id``) against
pairs that truly are one person. A truth record the lake never saw counts as a cluster of its own.
Counts come from cluster × person-key cell sizes, so a million records evaluate in a second.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from medlake.cdm.lake import Lake
from medlake.errors import InputFormatError, InputNotFound

_EVAL_SQL = """
WITH truth AS (
    SELECT DISTINCT trim(person_key) AS person_key, upper(trim(system)) AS system, trim(local_id) AS local_id
    FROM mpi_truth WHERE local_id IS NOT NULL AND trim(local_id) <> ''
),
links AS (
    SELECT src_system, src_person_id, any_value(person_id) AS person_id FROM person_link GROUP BY ALL
),
rec AS (
    SELECT t.person_key, coalesce(CAST(l.person_id AS VARCHAR), 'missing:' || t.system || '|' || t.local_id) AS cid,
           l.person_id IS NOT NULL AS found
    FROM truth t LEFT JOIN links l ON l.src_system = t.system AND l.src_person_id = t.local_id
),
cells AS (SELECT cid, person_key, count(*) AS n FROM rec GROUP BY ALL),
clusters AS (SELECT cid, count(*) AS n FROM rec GROUP BY ALL),
keys AS (SELECT person_key, count(*) AS n FROM rec GROUP BY ALL)
SELECT
    (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM cells) AS tp,
    (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM clusters) AS predicted,
    (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM keys) AS actual,
    (SELECT count(*) FROM rec) AS records,
    (SELECT count(*) FROM rec WHERE found) AS found
"""


_TRUTH_SCHEMA = pa.schema([("person_key", pa.string()), ("system", pa.string()), ("local_id", pa.string())])


def _read_truth(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"person_key", "system", "local_id"} - {h.strip() for h in reader.fieldnames or []}
        if missing:
            raise InputFormatError(
                f"truth file {path.name} lacks columns {sorted(missing)}",
                hint="expected person_key,system,local_id",
            )
        return [{k: (row.get(k) or "") for k in ("person_key", "system", "local_id")} for row in reader]


@dataclass(frozen=True)
class Evaluation:
    precision: float
    recall: float
    f1: float
    pairs: int
    true_pairs: int
    true_positive_pairs: int
    records: int
    records_found: int

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def evaluate(lake: Lake, truth: Path) -> Evaluation:
    """Score ``person_link`` in ``lake`` against ``truth`` (CSV with person_key, system, local_id)."""
    if not truth.is_file():
        raise InputNotFound(f"truth file not found: {truth}")
    rows = _read_truth(truth)
    con = lake.connect()
    try:
        con.register("mpi_truth", pa.Table.from_pylist(rows, schema=_TRUTH_SCHEMA))
        tp, predicted, actual, records, found = con.execute(_EVAL_SQL).fetchall()[0]
    finally:
        con.close()
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Evaluation(
        precision=round(precision, 6),
        recall=round(recall, 6),
        f1=round(f1, 6),
        pairs=int(predicted),
        true_pairs=int(actual),
        true_positive_pairs=int(tp),
        records=int(records),
        records_found=int(found),
    )
