"""Building a note's text and its stand-off gold annotations together.

Every span is recorded at the moment its text is appended, so offsets are exact by construction
(never found by searching afterwards). Phrase templates (``phrases.tsv``) mix literal text,
inline entities ``[text|T|a|code]`` and slots ``{name}`` or ``{name:a}`` filled by the composer.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import NamedTuple, Union

from medlake.errors import VocabularyError

ENTITY_TYPES = {
    "D": "疾病和诊断",
    "S": "症状和体征",
    "I": "影像检查",
    "L": "实验室检验",
    "O": "手术",
    "M": "药物",
    "A": "解剖部位",
}
ASSERTIONS = {
    "p": "present",
    "n": "negated",
    "u": "possible",
    "h": "historical",
    "f": "family",
    "y": "hypothetical",
}


class Ent(NamedTuple):
    text: str
    type: str  # one letter of ENTITY_TYPES
    assertion: str = "p"
    code: str | None = None
    value: str | None = None
    unit: str | None = None
    date: str | None = None


class Phi(NamedTuple):
    text: str
    type: str  # NAME | ID | PHONE | ADDRESS | DATE | MRN | ACCESSION


class Time(NamedTuple):
    text: str
    date: str  # ISO date the expression refers to
    phi: bool = False  # exact dates are personal identifiers too


Piece = Union[str, Ent, Phi, Time, "list[Piece]", Callable[["Doc"], None]]


class Doc:
    """Text under construction plus its entities, time expressions and PHI spans."""

    __slots__ = ("entities", "parts", "phi", "pos", "times")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[dict[str, object]] = []
        self.times: list[dict[str, object]] = []
        self.phi: list[dict[str, object]] = []

    def t(self, s: str) -> None:
        self.parts.append(s)
        self.pos += len(s)

    def emit(self, piece: Piece, assertion: str | None = None) -> None:
        kind = type(piece)
        if kind is str:
            self.parts.append(piece)  # type: ignore[arg-type]
            self.pos += len(piece)  # type: ignore[arg-type]
        elif kind is Ent:
            self.ent(piece, assertion)  # type: ignore[arg-type]
        elif kind is list:
            for p in piece:  # type: ignore[union-attr]
                self.emit(p, assertion)  # type: ignore[arg-type]
        elif kind is Phi:
            text = piece.text  # type: ignore[union-attr]
            start = self.pos
            self.parts.append(text)
            self.pos += len(text)
            self.phi.append({"type": piece.type, "start": start, "end": self.pos, "text": text})  # type: ignore[union-attr]
        elif kind is Time:
            text = piece.text  # type: ignore[union-attr]
            start = self.pos
            self.parts.append(text)
            self.pos += len(text)
            self.times.append({"start": start, "end": self.pos, "text": text, "date": piece.date})  # type: ignore[union-attr]
            if piece.phi:  # type: ignore[union-attr]
                self.phi.append({"type": "DATE", "start": start, "end": self.pos, "text": text})
        else:
            piece(self)  # type: ignore[operator]

    def ent(self, e: Ent, assertion: str | None = None) -> None:
        start = self.pos
        self.parts.append(e.text)
        self.pos += len(e.text)
        row: dict[str, object] = {
            "type": ENTITY_TYPES[e.type],
            "start": start,
            "end": self.pos,
            "text": e.text,
            "assertion": ASSERTIONS[assertion or e.assertion],
        }
        if e.code is not None:
            row["code"] = e.code
        if e.value is not None:
            row["value"] = e.value
        if e.unit is not None:
            row["unit"] = e.unit
        if e.date is not None:
            row["date"] = e.date
        self.entities.append(row)

    def say(self, rng: random.Random, key: str, **slots: Piece) -> None:
        """Render one randomly chosen phrasing of ``key`` with ``slots`` filled in."""
        alternatives = phrasebook().get(key)
        if alternatives is None:
            raise VocabularyError(f"no phrase {key!r}")
        parts = self.parts
        chosen = alternatives[int(rng.random() * len(alternatives))]
        if isinstance(chosen, Static):  # no slots: text and entities known in advance
            base = self.pos
            parts.append(chosen.text)
            self.pos = base + len(chosen.text)
            for template in chosen.entities:
                row = dict(template)
                row["start"] = base + template["start"]  # type: ignore[operator]
                row["end"] = base + template["end"]  # type: ignore[operator]
                self.entities.append(row)
            return
        for kind, a, b in chosen:
            if kind == "t":
                parts.append(a)  # type: ignore[arg-type]
                self.pos += len(a)  # type: ignore[arg-type]
            elif kind == "s":
                value = slots.get(a)  # type: ignore[arg-type]
                if value is None:
                    raise VocabularyError(f"phrase {key!r} needs slot {a!r}")
                if type(value) is str:
                    parts.append(value)
                    self.pos += len(value)
                else:
                    self.emit(value, b or None)
            else:  # inline entity, parsed once
                self.ent(a)  # type: ignore[arg-type]

    def text(self) -> str:
        return "".join(self.parts)

    def gold(self, doc_id: str, doc_date: date) -> dict[str, object]:
        return {
            "doc_id": doc_id,
            "doc_date": doc_date.isoformat(),
            "entities": self.entities,
            "times": self.times,
            "phi": self.phi,
        }


_TOKEN = re.compile(r"\{(\w+)(?::(\w))?\}|\[([^\[\]|]+)\|([A-Z])(?:\|([a-z]?))?(?:\|([^\[\]|]*))?\]")
Token = tuple[str, "str | Ent", str]


def parse_template(template: str, where: str) -> list[Token]:
    """Split a template into literal, slot and inline-entity tokens (strictly)."""
    out: list[Token] = []
    pos = 0
    for m in _TOKEN.finditer(template):
        if m.start() > pos:
            out.append(("t", template[pos : m.start()], ""))
        if m.group(1):
            if m.group(2) and m.group(2) not in ASSERTIONS:
                raise VocabularyError(f"{where}: unknown assertion {m.group(2)!r}")
            out.append(("s", m.group(1), m.group(2) or ""))
        else:
            typ, assertion, code = m.group(4), m.group(5) or "p", m.group(6) or ""
            if typ not in ENTITY_TYPES or assertion not in ASSERTIONS:
                raise VocabularyError(f"{where}: bad entity markup {m.group(0)!r}")
            out.append(("e", Ent(m.group(3), typ, assertion, code or None), ""))
        pos = m.end()
    if pos < len(template):
        out.append(("t", template[pos:], ""))
    for _kind, a, _ in out:
        text = a.text if isinstance(a, Ent) else a
        if any(c in text for c in "[]{}"):
            raise VocabularyError(f"{where}: unbalanced markup in {template!r}")
    return out


class Static(NamedTuple):
    """A phrasing without slots, rendered once at load: its text and entity rows (offsets relative)."""

    text: str
    entities: list[dict[str, object]]


def _compile(tokens: list[Token]) -> list[Token] | Static:
    if any(kind == "s" for kind, _, _ in tokens):
        return tokens
    doc = Doc()
    for kind, a, _ in tokens:
        if kind == "t":
            doc.t(a)  # type: ignore[arg-type]
        else:
            doc.ent(a)  # type: ignore[arg-type]
    return Static(doc.text(), doc.entities)


@lru_cache(maxsize=1)
def phrasebook() -> dict[str, list[list[Token] | Static]]:
    """``phrases.tsv``: ``key<TAB>template`` lines; repeated keys are alternative phrasings."""
    text = resources.files("medlake.synth.notes").joinpath("phrases.tsv").read_text(encoding="utf-8")
    book: dict[str, list[list[Token] | Static]] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, template = line.partition("\t")
        if not sep or not key or "\t" in template:
            raise VocabularyError(f"phrases.tsv:{lineno}: expected key<TAB>template")
        tokens = parse_template(template.replace("\\n", "\n"), f"phrases.tsv:{lineno}")
        book.setdefault(key, []).append(_compile(tokens))
    return book
