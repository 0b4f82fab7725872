"""ConText-style assertion of entities (negated, possible, historical, family, hypothetical).

Rules are data (``data/context_zh.tsv``): a trigger phrase, its category, the direction it looks in
and how far its scope runs. Triggers are found with Aho–Corasick (longest wins), scopes stop at
clause/sentence punctuation and at TERMINATE triggers; PSEUDO triggers mask look-alikes such as
无明显诱因. An entity's assertion is the strongest category in scope (negated > family >
hypothetical > possible > historical); ``present`` when nothing applies.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import ahocorasick

from medlake.errors import LexiconError
from medlake.nlp.textnorm import Pieces, normalize

CATEGORIES = ("NEGATED", "POSSIBLE", "HISTORICAL", "FAMILY", "HYPOTHETICAL", "PSEUDO", "TERMINATE")
DIRECTIONS = ("forward", "backward", "bidirectional", "none")
SCOPES = ("clause", "sentence", "adjacent")
ASSERTION_OF = {
    "NEGATED": "negated",
    "POSSIBLE": "possible",
    "HISTORICAL": "historical",
    "FAMILY": "family",
    "HYPOTHETICAL": "hypothetical",
}
PRIORITY = ("negated", "family", "hypothetical", "possible", "historical")
_CLAUSE_END = frozenset("，,；;。！!？\n")
_SENTENCE_END = frozenset("；;。！!？\n")
_ADJACENT = 3
_HEADER = ["trigger", "category", "direction", "scope"]


@dataclass(frozen=True)
class Rule:
    trigger: str
    category: str
    direction: str
    scope: str


def parse_rules(text: str, where: str = "context rules") -> list[Rule]:
    """Strictly parse a rules TSV (header ``trigger category direction scope``)."""
    rules: list[Rule] = []
    header_seen = False
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not header_seen:
            if fields != _HEADER:
                raise LexiconError(f"{where}:{n}: header must be {' '.join(_HEADER)}")
            header_seen = True
            continue
        if len(fields) != 4:
            raise LexiconError(f"{where}:{n}: expected 4 tab-separated fields, got {len(fields)}")
        trig, cat, direction, scope = fields
        if cat not in CATEGORIES:
            raise LexiconError(f"{where}:{n}: unknown category {cat!r}")
        if direction not in DIRECTIONS:
            raise LexiconError(f"{where}:{n}: unknown direction {direction!r}")
        if scope not in SCOPES:
            raise LexiconError(f"{where}:{n}: unknown scope {scope!r}")
        if (cat in ("PSEUDO", "TERMINATE")) != (direction == "none"):
            raise LexiconError(f"{where}:{n}: only PSEUDO and TERMINATE rules have direction none")
        rules.append(Rule(normalize(trig), cat, direction, scope))
    if not header_seen:
        raise LexiconError(f"{where}: no header line")
    return rules


def default_rules() -> list[Rule]:
    path = resources.files("medlake.nlp") / "data" / "context_zh.tsv"
    return parse_rules(path.read_text("utf-8"), "context_zh.tsv")


@dataclass(frozen=True)
class Trigger:
    start: int
    end: int
    rule: Rule


class ConText:
    """Assigns an assertion (and the list of modifiers found) to entity spans of one text."""

    def __init__(self, rules: Sequence[Rule] | None = None, rules_file: Path | None = None) -> None:
        if rules_file is not None:
            rules = parse_rules(rules_file.read_text("utf-8"), str(rules_file))
        self.rules = list(rules if rules is not None else default_rules())
        self._auto = ahocorasick.Automaton()
        for rule in self.rules:
            self._auto.add_word(rule.trigger, rule)
        self._auto.make_automaton()

    def triggers(self, norm: str, mask: bytearray | None = None) -> list[Trigger]:
        """Longest non-overlapping triggers of normalised text, PSEUDO ones included; a trigger
        touching a masked position (an entity) is left out before the longest ones are chosen."""
        found = [Trigger(e - len(r.trigger) + 1, e + 1, r) for e, r in self._auto.iter(norm)]
        if mask is not None:
            found = [t for t in found if not any(mask[t.start : t.end])]
        found.sort(key=lambda t: (-(t.end - t.start), t.start))
        taken = bytearray(len(norm) + 1)
        out = []
        for t in found:
            if any(taken[t.start : t.end]):
                continue
            taken[t.start : t.end] = b"\x01" * (t.end - t.start)
            out.append(t)
        out.sort(key=lambda t: t.start)
        return out

    def _inner(self, norm: str, s: int, e: int) -> set[str]:
        """Categories of POSSIBLE/HISTORICAL triggers at an entity's own edge (肠梗阻？, 直肠癌术后)."""
        cats: set[str] = set()
        for t in self.triggers(norm[s:e]):
            cat = t.rule.category
            if (
                cat in ("POSSIBLE", "HISTORICAL")
                and (t.start == 0 or t.end == e - s)
                and t.end - t.start < e - s
            ):
                cats.add(ASSERTION_OF[cat])
        return cats

    def assert_spans(self, text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[str, list[str]]]:
        """For each ``(start, end)`` span: ``(assertion, modifiers)``."""
        norm = normalize(text)
        inside = bytearray(len(norm) + 1)
        for s, e in spans:
            inside[s:e] = b"\x01" * (e - s)
        trigs = self.triggers(norm, inside)
        sentences = Pieces(norm, _SENTENCE_END)
        clauses = Pieces(norm, _CLAUSE_END)
        terminators = [t.start for t in trigs if t.rule.category == "TERMINATE"]
        by_sentence: dict[int, list[Trigger]] = {}
        for t in trigs:
            if t.rule.category not in ("PSEUDO", "TERMINATE"):
                by_sentence.setdefault(sentences.piece(t.start), []).append(t)
        out: list[tuple[str, list[str]]] = []
        for s, e in spans:
            cats = self._inner(norm, s, e)
            for t in by_sentence.get(sentences.piece(s), ()):
                d, scope = t.rule.direction, t.rule.scope
                if t.end <= s and d != "backward":
                    a, b = t.end, s
                elif t.start >= e and d != "forward":
                    a, b = e, t.start
                else:
                    continue
                if scope == "adjacent":
                    ok = b - a <= _ADJACENT and clauses.same(a, b)
                else:
                    ok = (scope == "sentence" or clauses.same(a, b)) and not _between(terminators, a, b)
                if ok:
                    cats.add(ASSERTION_OF[t.rule.category])
            mods = sorted(cats, key=PRIORITY.index)
            out.append((mods[0] if mods else "present", mods))
        return out


def _between(positions: Sequence[int], a: int, b: int) -> bool:
    """Whether a sorted ``positions`` has one in ``[a, b)``."""
    i = bisect_left(positions, a)
    return i < len(positions) and positions[i] < b
