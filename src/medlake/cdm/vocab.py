"""Vocabularies: local Chinese codes as concepts (ids >= 2,000,000,000) and code-table loading.

``ConceptRegistry`` hands out concept ids for (vocabulary, code) pairs: an id once given is kept
for ever (re-loads and re-ingests reuse it), new codes get the next free local id. Codes first
seen in source data (a HIS diagnosis, a LIS test) are registered automatically with their source
name, so nothing waits for a vocabulary load; ``load_code_table`` later adds the official names
and the hierarchy (``Is a`` relationships and ``concept_ancestor``) of a code table such as
ICD-10 北京临床版.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from medlake.cdm.lake import Lake, LakeTransaction
from medlake.cdm.schema import LOCAL_CONCEPT_ID_START
from medlake.errors import InputNotFound, VocabularyError

VALID_START = date(1970, 1, 1)
VALID_END = date(2099, 12, 31)


@dataclass
class _Vocab:
    rows: dict[str, dict[str, object]] = field(default_factory=dict)
    dirty: bool = False


class ConceptRegistry:
    """Stable concept ids for local codes; staged into the lake by ``flush``."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._ids: dict[tuple[str, str], int] = {}
        self._auto: dict[str, _Vocab] = {}
        self._next = LOCAL_CONCEPT_ID_START
        con = lake.connect()
        try:
            for cid, vocab, code in con.execute(
                "SELECT concept_id, vocabulary_id, concept_code FROM concept"
            ).fetchall():
                self._ids[(vocab, code)] = cid
                if cid >= self._next:
                    self._next = cid + 1
        finally:
            con.close()

    def lookup(self, vocabulary: str, code: str) -> int | None:
        return self._ids.get((vocabulary, code))

    def ensure(
        self, vocabulary: str, items: dict[str, str], *, domain: str, concept_class: str
    ) -> dict[str, int]:
        """Ids for ``{code: name}``; unknown codes are registered in the vocabulary's auto part."""
        out: dict[str, int] = {}
        for code, name in items.items():
            key = (vocabulary, code)
            cid = self._ids.get(key)
            if cid is None:
                cid = self._next
                self._next += 1
                self._ids[key] = cid
                vocab = self._auto_vocab(vocabulary)
                vocab.rows[code] = _concept_row(cid, name or code, domain, vocabulary, concept_class, code)
                vocab.dirty = True
            out[code] = cid
        return out

    def _auto_vocab(self, vocabulary: str) -> _Vocab:
        if vocabulary not in self._auto:
            v = _Vocab()
            path = self.lake.table_dir("concept") / f"auto-{vocabulary}.parquet"
            if path.exists():
                for row in pq.read_table(path).to_pylist():
                    v.rows[row["concept_code"]] = row
            self._auto[vocabulary] = v
        return self._auto[vocabulary]

    def flush(self, tx: LakeTransaction) -> None:
        for vocabulary, v in self._auto.items():
            if v.dirty:
                tx.write("concept", f"auto-{vocabulary}", list(v.rows.values()))
                v.dirty = False


def _concept_row(cid: int, name: str, domain: str, vocabulary: str, cls: str, code: str) -> dict[str, object]:
    return {
        "concept_id": cid,
        "concept_name": name,
        "domain_id": domain,
        "vocabulary_id": vocabulary,
        "concept_class_id": cls,
        "standard_concept": None,
        "concept_code": code,
        "valid_start_date": VALID_START,
        "valid_end_date": VALID_END,
        "invalid_reason": None,
    }


def _parent(code: str, known: set[str]) -> str | None:
    """Nearest loaded ancestor by truncation: A15.010 → A15.0 → A15."""
    c = code
    while len(c) > 3:
        c = c[:-1].rstrip(".")
        if c in known and c != code:
            return c
    return None


def read_code_table(path: Path) -> list[tuple[str, str]]:
    """(code, name) pairs from a CSV/TSV code table; malformed rows are reported together."""
    if not path.exists():
        raise InputNotFound(f"code table not found: {path}")
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise VocabularyError(f"{path}: neither UTF-8 nor GB18030 text")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header or len(header) < 2:
        raise VocabularyError(f"{path}: expected a header with at least two columns (code, name)")
    problems: list[str] = []
    seen: dict[str, int] = {}
    pairs: list[tuple[str, str]] = []
    for lineno, row in enumerate(reader, start=2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {lineno}: expected {len(header)} fields, found {len(row)}")
            continue
        code, name = row[0].strip(), row[1].strip()
        if not code or not name:
            problems.append(f"line {lineno}: empty {'code' if not code else 'name'}")
            continue
        if code in seen:
            problems.append(f"line {lineno}: duplicate code {code} (first on line {seen[code]})")
            continue
        seen[code] = lineno
        pairs.append((code, name))
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise VocabularyError(f"{path}: {len(problems)} malformed row(s): {shown}{more}")
    return pairs


def load_code_table(
    lake: Lake,
    path: Path,
    *,
    vocabulary: str,
    domain: str = "Condition",
    concept_class: str = "Diagnosis",
    name: str | None = None,
) -> dict[str, int]:
    """Load a code table as local concepts with their hierarchy. Returns counts."""
    pairs = read_code_table(path)
    with lake.lock():
        registry = ConceptRegistry(lake)
        existing_auto = registry._auto_vocab(vocabulary)
        rows = []
        new = 0
        for code, cname in pairs:
            cid = registry.lookup(vocabulary, code)
            if cid is None:
                cid = registry.ensure(vocabulary, {code: cname}, domain=domain, concept_class=concept_class)[
                    code
                ]
                new += 1
            rows.append(_concept_row(cid, cname, domain, vocabulary, concept_class, code))
        loaded = {c for c, _ in pairs}
        # codes of this table leave the auto part: they now live in the vocabulary's own part
        remaining_auto = [r for c, r in existing_auto.rows.items() if c not in loaded]
        ids = {c: registry.lookup(vocabulary, c) for c in loaded}
        rel, anc = [], []
        for code in loaded:
            child = ids[code]
            anc.append((child, child, 0))
            level, node = 0, code
            while (parent := _parent(node, loaded)) is not None:
                level += 1
                if level == 1:
                    rel.append((child, ids[parent]))
                anc.append((ids[parent], child, level))
                node = parent
        with lake.transaction(locked=True) as tx:
            tx.write("concept", f"vocab-{vocabulary}", rows)
            if remaining_auto or existing_auto.rows:
                tx.write("concept", f"auto-{vocabulary}", remaining_auto)
            tx.write(
                "concept_relationship",
                f"vocab-{vocabulary}",
                [
                    r
                    for c, p in rel
                    for r in (
                        {
                            "concept_id_1": c,
                            "concept_id_2": p,
                            "relationship_id": "Is a",
                            "valid_start_date": VALID_START,
                            "valid_end_date": VALID_END,
                        },
                        {
                            "concept_id_1": p,
                            "concept_id_2": c,
                            "relationship_id": "Subsumes",
                            "valid_start_date": VALID_START,
                            "valid_end_date": VALID_END,
                        },
                    )
                ],
            )
            tx.write(
                "concept_ancestor",
                f"vocab-{vocabulary}",
                [
                    {
                        "ancestor_concept_id": a,
                        "descendant_concept_id": d,
                        "min_levels_of_separation": lv,
                        "max_levels_of_separation": lv,
                    }
                    for a, d, lv in anc
                ],
            )
            tx.write(
                "vocabulary",
                f"vocab-{vocabulary}",
                [
                    {
                        "vocabulary_id": vocabulary,
                        "vocabulary_name": name or vocabulary,
                        "vocabulary_reference": str(path.name),
                        "vocabulary_version": None,
                        "vocabulary_concept_id": 0,
                    }
                ],
            )
    return {"concepts": len(rows), "new": new, "relationships": len(rel), "ancestors": len(anc)}
