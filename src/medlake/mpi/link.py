"""``medlake mpi link``: source_person → scored pairs → clusters → ``person_link`` and the review queue.

One run reads every ``source_person`` row, fits (or re-fits, deterministically) the Splink model,
scores the blocked pairs, adds reviewers' decisions (a ``match`` is a sure link, a ``no-match`` a
cannot-link), clusters and writes, in one lake transaction, ``person_link`` (one row per source
patient) and ``mpi_review`` (pairs between ``review_threshold`` and ``threshold`` that the clusters
did not already settle, and strong pairs refused because they would merge two HIS patients).
Timestamps of unchanged links and review entries are kept, so a re-run on the same data writes the
same rows. A new batch (say, a new LIS file) simply joins the people already known.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from medlake.cdm.lake import Lake, LakeTransaction
from medlake.errors import ValidationFailed
from medlake.mpi.cluster import Clustering, cluster_arrays
from medlake.mpi.model import TrainingConfig, build_linker, predict_pairs, train
from medlake.mpi.prepare import prepare_input

LINK_PART = "mpi"


@dataclass(frozen=True)
class LinkConfig:
    """Thresholds: a pair links at ``threshold`` or above, goes to review from ``review_threshold``."""

    threshold: float = 0.9
    review_threshold: float = 0.5
    training: TrainingConfig = field(default_factory=TrainingConfig)
    threads: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.review_threshold <= self.threshold <= 1.0:
            raise ValidationFailed(
                f"thresholds must satisfy 0 < review ({self.review_threshold}) <= link ({self.threshold}) <= 1",
                hint="e.g. --threshold 0.9 --review-threshold 0.5",
            )


@dataclass
class LinkResult:
    records: int = 0
    persons: int = 0
    linked_records: int = 0
    pairs_scored: int = 0
    review_pairs: int = 0
    decisions_applied: int = 0
    trained: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    def lap(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[phase] = round(now - since, 2)
        return now


def pair_id(uid_a: str, uid_b: str) -> str:
    """Stable id of an unordered pair of ``SYSTEM|local id`` keys (same as ``_PAIR_ID_SQL``)."""
    lo, hi = sorted((uid_a, uid_b))
    return hashlib.md5(f"{lo}~{hi}".encode()).hexdigest()[:16]


_PAIR_ID_SQL = "substr(md5(least({a}, {b}) || '~' || greatest({a}, {b})), 1, 16)"

_DECISIONS_SQL = """
CREATE OR REPLACE TEMP TABLE mpi_decisions AS
SELECT d.pair_id, d.decision, nl.idx AS idx_l, nr.idx AS idx_r
FROM (SELECT * FROM mpi_decision QUALIFY row_number() OVER (PARTITION BY pair_id ORDER BY decided_at DESC) = 1) d
JOIN mpi_nodes nl ON nl.unique_id = d.src_system_l || '|' || d.src_person_id_l
JOIN mpi_nodes nr ON nr.unique_id = d.src_system_r || '|' || d.src_person_id_r
"""


def _load_pairs(con: duckdb.DuckDBPyConnection, predictions: str) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE mpi_nodes AS SELECT row_number() OVER (ORDER BY unique_id) - 1 AS idx, "
        "unique_id, src_system, src_person_id, provisional_id FROM mpi_input"
    )
    pid = _PAIR_ID_SQL.format(a="p.unique_id_l", b="p.unique_id_r")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE mpi_pairs AS
        SELECT {pid} AS pair_id, nl.idx AS idx_l, nr.idx AS idx_r, p.match_probability
        FROM {predictions} p
        JOIN mpi_nodes nl ON nl.unique_id = p.unique_id_l
        JOIN mpi_nodes nr ON nr.unique_id = p.unique_id_r"""
    )
    con.execute(_DECISIONS_SQL)


def _cluster(con: duckdb.DuckDBPyConnection, threshold: float) -> tuple[Clustering, int]:
    """Cluster the nodes along model links at ``threshold`` and reviewers' decisions; (result, decisions used)."""
    edges = con.sql(
        """SELECT idx_l, idx_r, match_probability, false AS review FROM mpi_pairs
        WHERE match_probability >= $t AND pair_id NOT IN (SELECT pair_id FROM mpi_decisions)
        UNION ALL
        SELECT idx_l, idx_r, 1.0, true FROM mpi_decisions WHERE decision = 'match'""",
        params={"t": threshold},
    ).to_arrow_table()
    no_match = [
        (int(a), int(b))
        for a, b in con.execute(
            "SELECT idx_l, idx_r FROM mpi_decisions WHERE decision = 'no-match' ORDER BY pair_id"
        ).fetchall()
    ]
    nodes = con.sql(
        "SELECT src_system = 'HIS' AS his, provisional_id FROM mpi_nodes ORDER BY idx"
    ).to_arrow_table()
    review = edges.column("review").to_numpy(zero_copy_only=False).astype(bool)
    result = cluster_arrays(
        nodes.column("provisional_id").to_numpy().astype(np.int64),
        nodes.column("his").to_numpy(zero_copy_only=False).astype(bool),
        edges.column("idx_l").to_numpy().astype(np.int64),
        edges.column("idx_r").to_numpy().astype(np.int64),
        edges.column("match_probability").to_numpy().astype(np.float64),
        review,
        no_match,
    )
    return result, int(review.sum()) + len(no_match)


def _person_link_table(con: duckdb.DuckDBPyConnection, result: Clustering, now: datetime) -> pa.Table:
    nodes = con.sql("SELECT src_system, src_person_id FROM mpi_nodes ORDER BY idx").to_arrow_table()
    fresh = nodes.append_column("person_id", pa.array(result.person_id, pa.int64()))
    fresh = fresh.append_column("match_probability", pa.array(result.probability, pa.float64()))
    fresh = fresh.append_column("link_method", pa.array(result.method, pa.string()))
    con.register("mpi_fresh_links", fresh)
    try:
        return con.sql(
            """SELECT f.src_system, f.src_person_id, f.person_id, f.match_probability, f.link_method,
                   CASE WHEN o.person_id = f.person_id THEN o.linked_at ELSE ?::TIMESTAMP END AS linked_at
            FROM mpi_fresh_links f
            LEFT JOIN (SELECT * FROM person_link QUALIFY row_number() OVER (
                           PARTITION BY src_system, src_person_id ORDER BY linked_at) = 1) o
              ON o.src_system = f.src_system AND o.src_person_id = f.src_person_id
            ORDER BY f.src_system, f.src_person_id""",
            params=[now],
        ).to_arrow_table()
    finally:
        con.unregister("mpi_fresh_links")


def _review_table(
    con: duckdb.DuckDBPyConnection, cfg: LinkConfig, result: Clustering, now: datetime
) -> pa.Table:
    refused = pa.table(
        {
            "idx_l": pa.array([e.left for e in result.refused if e.method == "splink"], pa.int64()),
            "idx_r": pa.array([e.right for e in result.refused if e.method == "splink"], pa.int64()),
        }
    )
    clusters = pa.table({"idx": pa.array(range(len(result.person_id)), pa.int64()), "cid": result.person_id})
    con.register("mpi_refused", refused)
    con.register("mpi_clusters", clusters)
    try:
        return con.sql(
            """WITH candidates AS (
                SELECT p.*, 'uncertain' AS reason FROM mpi_pairs p
                JOIN mpi_clusters cl ON cl.idx = p.idx_l JOIN mpi_clusters cr ON cr.idx = p.idx_r
                WHERE p.match_probability >= ? AND p.match_probability < ? AND cl.cid <> cr.cid
                UNION ALL
                SELECT p.*, 'would merge two HIS patients' AS reason FROM mpi_pairs p
                JOIN mpi_refused r ON r.idx_l = p.idx_l AND r.idx_r = p.idx_r
            )
            SELECT c.pair_id, nl.src_system AS src_system_l, nl.src_person_id AS src_person_id_l,
                   nr.src_system AS src_system_r, nr.src_person_id AS src_person_id_r, c.match_probability, c.reason,
                   coalesce(o.created_at, ?::TIMESTAMP) AS created_at
            FROM candidates c
            JOIN mpi_nodes nl ON nl.idx = c.idx_l JOIN mpi_nodes nr ON nr.idx = c.idx_r
            LEFT JOIN (SELECT pair_id, min(created_at) AS created_at FROM mpi_review GROUP BY pair_id) o
              ON o.pair_id = c.pair_id
            WHERE c.pair_id NOT IN (SELECT pair_id FROM mpi_decisions)
            ORDER BY c.match_probability DESC, c.pair_id""",
            params=[cfg.review_threshold, cfg.threshold, now],
        ).to_arrow_table()
    finally:
        con.unregister("mpi_refused")
        con.unregister("mpi_clusters")


def link_in(
    lake: Lake,
    tx: LakeTransaction,
    cfg: LinkConfig,
    *,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> LinkResult:
    """Run the linkage inside an open transaction ``tx`` (its writes are staged, not yet visible);
    ``progress`` is told the name of each phase as it starts."""
    now = (now or datetime.now()).replace(microsecond=0)
    say = progress or (lambda _phase: None)
    say("reading and normalising source patients")
    t = time.perf_counter()
    con = lake.connect(threads=cfg.threads)
    try:
        out = LinkResult(records=prepare_input(con))
        t = out.lap("prepare", t)
        if out.records == 0:
            tx.write("person_link", LINK_PART, [])
            tx.write("mpi_review", LINK_PART, [])
            return out
        say(f"training the model on {out.records:,} source patients")
        linker = build_linker(con, out.records)
        out.trained = train(linker, out.records, cfg.training)
        t = out.lap("train", t)
        say("scoring blocked pairs")
        _load_pairs(con, predict_pairs(linker, cfg.review_threshold))
        t = out.lap("predict", t)
        out.pairs_scored = int(con.execute("SELECT count(*) FROM mpi_pairs").fetchall()[0][0])
        say("clustering")
        result, out.decisions_applied = _cluster(con, cfg.threshold)
        t = out.lap("cluster", t)
        links = _person_link_table(con, result, now)
        review = _review_table(con, cfg, result, now)
    finally:
        con.close()
    tx.write("person_link", LINK_PART, links)
    tx.write("mpi_review", LINK_PART, review)
    out.lap("write", t)
    out.persons = len(set(result.person_id))
    sizes = Counter(result.person_id)
    out.linked_records = sum(n for n in sizes.values() if n > 1)
    out.review_pairs = review.num_rows
    return out


def link(
    lake: Lake,
    cfg: LinkConfig | None = None,
    *,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> LinkResult:
    """Link every source patient in ``lake`` and commit ``person_link`` and ``mpi_review``."""
    with lake.transaction() as tx:
        return link_in(lake, tx, cfg or LinkConfig(), now=now, progress=progress)
