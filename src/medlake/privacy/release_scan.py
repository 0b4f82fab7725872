"""The final gate before release: scan every file of a package for direct identifiers.

Two nets: the recognisers of ``medlake.privacy.recognisers`` (resident ids, phones, street-level
addresses, names after context words, record numbers) and an exact lookup (Aho-Corasick) of the
cohort's own registry names, resident ids, phones, addresses and source ids. Any finding blocks
the release. Findings carry the file, the place and the type, with the value masked (the scan's
output may be shown to people who must not see it).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from medlake.privacy.lexicons import load_lexicons
from medlake.privacy.recognisers import (
    AddressRecogniser,
    NameRecogniser,
    Span,
    find_emails,
    find_ids,
    find_phones,
    find_record_numbers,
    is_street_level_address,
)

TEXT_SUFFIXES = {".tsv", ".txt", ".md", ".json", ".jsonl"}
# a cell made of ASCII letters, digits and . - + only: an identifier only if it is one as a whole
_PLAIN_TOKEN = re.compile(r"^[A-Za-z0-9.+\-]*$")
_DECIMAL = re.compile(r"^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$")
_IDENTIFIER_TOKEN = re.compile(
    r"^(?:\d{17}[\dXx]|\d{15}|(?:\+?86|0086)?1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|[A-Z]{1,4}\d{6,}[A-Z0-9]*|\d{6,})$"
)


def mask(value: str) -> str:
    """First character kept, the rest starred: enough to find it, not enough to read it."""
    return value[:1] + "*" * max(len(value) - 1, 1) if value else ""


@dataclass(frozen=True)
class Finding:
    file: str
    where: str
    type: str
    source: str  # "recogniser" or "registry"
    masked: str

    def as_dict(self) -> dict[str, str]:
        return {
            "file": self.file,
            "where": self.where,
            "type": self.type,
            "source": self.source,
            "value": self.masked,
        }


@dataclass
class KnownIdentifiers:
    """The cohort's registry identifiers, looked up exactly."""

    names: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    addresses: set[str] = field(default_factory=set)
    record_numbers: set[str] = field(default_factory=set)

    def automaton(self) -> ahocorasick.Automaton | None:
        auto = ahocorasick.Automaton()
        n = 0
        for typ, values, min_len in (
            ("NAME", self.names, 2),
            ("ID", self.ids, 15),
            ("PHONE", self.phones, 7),
            ("ADDRESS", self.addresses, 6),
            ("MRN", self.record_numbers, 6),
        ):
            for v in values:
                v = (v or "").strip()
                if len(v) >= min_len:
                    auto.add_word(v, (typ, v))
                    n += 1
        if not n:
            return None
        auto.make_automaton()
        return auto


@dataclass
class ScanResult:
    files_scanned: int = 0
    values_scanned: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.type] = out.get(f.type, 0) + 1
        return out

    def as_dict(self, limit: int = 200) -> dict[str, object]:
        return {
            "clean": self.clean,
            "files_scanned": self.files_scanned,
            "values_scanned": self.values_scanned,
            "findings_by_type": self.counts(),
            "findings": [f.as_dict() for f in self.findings[:limit]],
        }


class ReleaseScanner:
    def __init__(self, known: KnownIdentifiers | None = None) -> None:
        lex = load_lexicons()
        self.addresses = AddressRecogniser(lex)
        self.names = NameRecogniser(lex)
        known = known or KnownIdentifiers()
        self.automaton = known.automaton()
        self.known_tokens = frozenset(
            v for v in known.ids | known.phones | known.record_numbers if v and _PLAIN_TOKEN.match(v)
        )
        self._known_array = pa.array(sorted(self.known_tokens), type=pa.string())

    def spans(self, text: str) -> Iterable[tuple[Span, str]]:
        for s in find_ids(text):
            yield s, "recogniser"
        for s in find_phones(text):
            yield s, "recogniser"
        for s in find_emails(text):
            yield s, "recogniser"
        for s in find_record_numbers(text):
            yield s, "recogniser"
        for s in self.addresses.find(text):
            if is_street_level_address(s.text):
                yield s, "recogniser"
        for s in self.names.find_by_context(text):
            if "某" not in s.text:
                yield s, "recogniser"
        if self.automaton is not None:
            for end, (typ, value) in self.automaton.iter(text):
                start = end - len(value) + 1
                if typ in ("ID", "PHONE", "MRN") and (_alnum_at(text, start - 1) or _alnum_at(text, end + 1)):
                    continue  # a number inside a longer token (a hash, a pseudonym) is not that identifier
                yield Span(start, end + 1, typ, value), "registry"

    def value_spans(self, value: str) -> list[tuple[Span, str]]:
        """Spans of one cell value, with a fast path for plain ASCII tokens (numbers, pseudonyms, codes)."""
        harmless = _DECIMAL.match(value) or not _IDENTIFIER_TOKEN.match(value)
        if _PLAIN_TOKEN.match(value) and harmless and value not in self.known_tokens:
            return []
        return list(self.spans(value))

    def candidates(self, values: pa.Array | pa.ChunkedArray) -> list[str]:
        """The distinct values of a column worth scanning: plain ASCII tokens that cannot be an
        identifier (decimals, short numbers, pseudonyms, codes) are dropped in bulk, unless the
        registry knows them."""
        uniq = pc.unique(values)
        if isinstance(uniq, pa.ChunkedArray):
            uniq = uniq.combine_chunks()
        uniq = uniq.drop_null()
        if not pa.types.is_string(uniq.type):
            uniq = uniq.cast(pa.string())
        plain = pc.match_substring_regex(uniq, _PLAIN_TOKEN.pattern)
        shaped = pc.and_(
            pc.match_substring_regex(uniq, _IDENTIFIER_TOKEN.pattern),
            pc.invert(pc.match_substring_regex(uniq, _DECIMAL.pattern)),
        )
        harmless = pc.and_(plain, pc.invert(shaped))
        if self.known_tokens:
            harmless = pc.and_(harmless, pc.invert(pc.is_in(uniq, value_set=self._known_array)))
        return [v for v in uniq.filter(pc.invert(harmless)).to_pylist() if v]

    def scan_values(self, name: str, where: str, values: Iterable[str | None], result: ScanResult) -> None:
        for value in values:
            if not value:
                continue
            result.values_scanned += 1
            for span, source in self.value_spans(value):
                result.findings.append(Finding(name, where, span.type, source, mask(span.text)))

    def scan_csv(self, name: str, path: Path, result: ScanResult) -> None:
        """A CSV column by column (unique values), like Parquet; the header too."""
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline()
        self.scan_text(name, header, result)
        try:
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in _csv_header(header)}, strings_can_be_null=False
                ),
            )
        except (pa.ArrowInvalid, ValueError):
            self.scan_text(name, path.read_text(encoding="utf-8-sig", errors="replace"), result)
            return
        for col_name in table.column_names:
            self.scan_values(name, f"column {col_name}", self.candidates(table.column(col_name)), result)

    def scan_text(self, name: str, text: str, result: ScanResult) -> None:
        line_starts: list[int] | None = None
        for span, source in self.spans(text):
            if line_starts is None:
                line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
            line = _bisect(line_starts, span.start) + 1
            result.findings.append(Finding(name, f"line {line}", span.type, source, mask(span.text)))

    def scan_parquet(self, name: str, path: Path, result: ScanResult) -> None:
        pf = pq.ParquetFile(path)
        for field_ in pf.schema_arrow:
            if not (pa.types.is_string(field_.type) or pa.types.is_large_string(field_.type)):
                continue
            column = pf.read(columns=[field_.name]).column(0)
            self.scan_values(name, f"column {field_.name}", self.candidates(column), result)

    def scan_dir(self, root: Path) -> ScanResult:
        result = ScanResult()
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            rel = str(path.relative_to(root))
            result.files_scanned += 1
            if path.suffix == ".parquet":
                self.scan_parquet(rel, path, result)
            elif path.suffix == ".csv":
                self.scan_csv(rel, path, result)
            elif path.suffix in TEXT_SUFFIXES:
                self.scan_text(rel, path.read_text(encoding="utf-8-sig", errors="replace"), result)
            else:
                result.findings.append(Finding(rel, "file", "UNSCANNABLE", "recogniser", path.suffix))
        return result


def _csv_header(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line)), [])


def _alnum_at(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isascii() and text[i].isalnum()


def _bisect(starts: list[int], pos: int) -> int:
    lo, hi = 0, len(starts)
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if starts[mid] <= pos:
            lo = mid
        else:
            hi = mid
    return lo


def findings_json(result: ScanResult) -> str:
    return json.dumps(result.as_dict(), ensure_ascii=False, indent=2)
