"""Values: numbers with units, ranges, blood-pressure pairs and sizes, normalised to UCUM.

Units come from ``data/units_zh.tsv`` and lab/vital-sign names from ``data/labs_zh.tsv`` (both
parsed strictly). ``find_values`` finds the values of a text; ``LabTable.find`` finds test names
(HGB, 白细胞, T, BP ...) so a value can be attached to the test right before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import ahocorasick

from medlake.errors import LexiconError
from medlake.nlp.textnorm import normalize
from medlake.nlp.types import Value

_DATA = resources.files("medlake.nlp") / "data"
_NUM = r"\d+(?:\.\d+)?"
_LEN = "(?:MM|CM|㎝|㎜|厘米|毫米)"


def _parse_table(text: str, where: str, header: list[str]) -> list[list[str]]:
    rows: list[list[str]] = []
    seen_header = False
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not seen_header:
            if fields != header:
                raise LexiconError(f"{where}:{n}: header must be {' '.join(header)}")
            seen_header = True
            continue
        if len(fields) != len(header) or not fields[0]:
            raise LexiconError(f"{where}:{n}: expected {len(header)} tab-separated fields")
        rows.append(fields)
    return rows


def load_units() -> dict[str, str]:
    rows = _parse_table((_DATA / "units_zh.tsv").read_text("utf-8"), "units_zh.tsv", ["unit", "ucum"])
    return {normalize(u): ucum for u, ucum in rows}


@dataclass(frozen=True)
class LabConcept:
    code: str
    name: str
    ucum: str


class LabTable:
    """Lab and vital-sign aliases → local concepts; finds test names in text."""

    def __init__(self) -> None:
        rows = _parse_table(
            (_DATA / "labs_zh.tsv").read_text("utf-8"), "labs_zh.tsv", ["alias", "code", "name", "ucum"]
        )
        self.by_alias = {normalize(a): LabConcept(c, n, u) for a, c, n, u in rows}
        self._auto = ahocorasick.Automaton()
        for alias in self.by_alias:
            self._auto.add_word(alias, alias)
        self._auto.make_automaton()

    def lookup(self, term: str) -> LabConcept | None:
        return self.by_alias.get(normalize(term).strip(" :："))

    def find(self, text: str) -> list[tuple[int, int, LabConcept]]:
        """Test names followed by a value; a one- or two-letter alias needs a number right after it."""
        norm = normalize(text)
        hits = []
        for end_idx, alias in self._auto.iter(norm):
            start, end = end_idx - len(alias) + 1, end_idx + 1
            if start > 0 and norm[start - 1].isascii() and norm[start - 1].isalnum():
                continue
            if end < len(norm) and norm[end].isascii() and norm[end].isalpha():
                continue
            if len(alias) <= 2 and alias.isascii() and not re.match(r"\s*[:：]?\s*\d", norm[end : end + 4]):
                continue
            hits.append((start, end, self.by_alias[alias]))
        hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
        taken = bytearray(len(norm) + 1)
        out = []
        for s, e, c in hits:
            if not any(taken[s:e]):
                taken[s:e] = b"\x01" * (e - s)
                out.append((s, e, c))
        return sorted(out, key=lambda h: h[0])


class ValueFinder:
    """Finds values in text (kinds: pair, dims, range, number, qualitative)."""

    def __init__(self, units: dict[str, str] | None = None) -> None:
        self.units = units if units is not None else load_units()
        alts = "|".join(re.escape(u) for u in sorted(self.units, key=len, reverse=True))
        unit = (
            rf"(?P<unit>{alts})(?!(?<=[A-Z])[A-Z](?!\d))"  # a latin unit ends at a word boundary (D1 allowed)
        )
        sci = r"\s*[×X*]\s*10\s*(?:\^|~)?\s*(?P<exp>9|12)\s*/L"
        self._patterns: list[tuple[str, re.Pattern[str]]] = [
            ("pair", re.compile(rf"(?P<a>{_NUM})\s*/\s*(?P<b>{_NUM})\s*(?P<unit>MMHG|KPA)")),
            ("sci", re.compile(rf"(?P<a>{_NUM}){sci}")),
            (
                "dims",
                re.compile(
                    rf"(?P<a>{_NUM})\s*{_LEN}?\s*[×X*]\s*(?P<b>{_NUM})(?:\s*{_LEN}?\s*[×X*]\s*{_NUM})?"
                    rf"\s*(?P<unit>{_LEN})(?![A-Z])"
                ),
            ),
            ("range", re.compile(rf"(?P<a>{_NUM})\s*[-~～至到]\s*(?P<b>{_NUM})\s*{unit}")),
            ("number", re.compile(rf"(?P<a>{_NUM})\s*{unit}")),
            ("qualitative", re.compile(r"[(（]\s*(?P<q>[+\-]{1,3}|±)\s*[)）]|(?P<w>阳性|阴性|弱阳性)")),
        ]

    def find(self, text: str, *, skip: bytearray | None = None) -> list[Value]:
        norm = normalize(text)
        taken = bytearray(len(norm) + 1) if skip is None else bytearray(skip)
        out: list[Value] = []
        for kind, pat in self._patterns:
            for m in pat.finditer(norm):
                s, e = m.start(), m.end()
                if any(taken[s:e]) or (s > 0 and (norm[s - 1].isdigit() or norm[s - 1] == ".")):
                    continue
                value = self._value(kind, m, text[s:e], s, e)
                if value is None or (
                    value.ucum in ("h", "min", "s") and norm[e : e + 1] in ("后", "前", "内")
                ):
                    continue  # "1小时后" is a time, not a value
                taken[s:e] = b"\x01" * (e - s)
                out.append(value)
        out.sort(key=lambda v: v.start)
        return out

    def _value(self, kind: str, m: re.Match[str], raw: str, s: int, e: int) -> Value | None:
        if kind == "qualitative":
            q = m.group("q") or m.group("w")
            return Value(s, e, raw, None, unit=None, ucum=None, kind="qualitative") if q else None
        a = float(m.group("a"))
        if kind == "sci":
            exp = m.group("exp")
            return Value(
                s, e, raw, a, unit=raw[len(m.group("a")) :].strip(), ucum=f"10*{exp}/L", kind="number"
            )
        unit = m.group("unit")
        ucum = self.units.get(unit)
        if unit == "度" and not 30 <= a <= 45:
            return None  # "1度乏力" is a grade, not a temperature
        b = float(m.group("b")) if kind in ("pair", "dims", "range") else None
        unit_raw = raw[m.start("unit") - s : m.end("unit") - s]
        return Value(s, e, raw, a, high=b, unit=unit_raw, ucum=ucum, kind=kind)


def bare_number(text: str, pos: int) -> Value | None:
    """A unit-less number right after a test name (``HGB 98``, ``T:36.5``)."""
    norm = normalize(text)
    m = re.compile(rf"\s*[:：]?\s*(?P<a>{_NUM})(?![\d.])").match(norm, pos)
    if not m:
        return None
    return Value(m.start("a"), m.end(), text[m.start("a") : m.end()], float(m.group("a")), kind="number")
