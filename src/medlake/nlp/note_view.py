"""One note with its NLP annotations, for the web note view: the note, its entities, its facts, and
the note text as HTML with every entity highlighted.

Entities come from ``note_nlp`` (written by ``medlake nlp run``); the facts derived from a note are
the rows of condition_occurrence, measurement, procedure_occurrence and drug_exposure with
``src_system='NLP'`` and ``src_file='note:<note_id>'``. The highlighted text is built from sorted,
non-overlapping segments (every entity boundary cuts the text), each escaped with markupsafe, so
overlapping or adjacent spans never produce broken markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
from markupsafe import Markup, escape

from medlake.errors import NotFound
from medlake.nlp.types import LABEL_CODES

VALUE_CLASS = "VAL"
BADGED = ("historical", "family", "hypothetical")  # shown with a badge after the entity
_VALUE_WINDOW = 30  # a value is looked for this many characters after its entity

_NOTE_SQL = """SELECT note_id, person_id, note_date, note_datetime, note_title, note_text, note_source_value,
       src_system FROM note WHERE note_id = $nid LIMIT 1"""

_ENTITY_COLUMNS = (
    "note_nlp_id",
    "start",
    "end",
    "text",
    "entity_type",
    "assertion",
    "term_exists",
    "term_temporal",
    "term_modifiers",
    "concept_code",
    "concept_name",
    "term_date",
    "term_date_end",
    "value_as_number",
    "value_high",
    "value_text",
    "unit",
    "nlp_system",
)
_ENTITIES_SQL = """SELECT note_nlp_id, offset_start, offset_end, lexical_variant, entity_type, assertion, term_exists,
       term_temporal, term_modifiers, concept_code, concept_name, term_date, term_date_end, value_as_number,
       value_high, value_text, unit, nlp_system
FROM note_nlp WHERE note_id = $nid ORDER BY offset_start, offset_end DESC, note_nlp_id"""

_FACT_COLUMNS = ("table", "code", "name", "date", "value", "unit", "status")
_FACTS_SQL = """
SELECT 'condition_occurrence', c.condition_source_value, k.concept_name, c.condition_start_date, NULL::DOUBLE,
       NULL, c.condition_status_source_value
FROM condition_occurrence c LEFT JOIN concept k ON k.concept_id = c.condition_source_concept_id
WHERE c.src_system = 'NLP' AND c.src_file = $src
UNION ALL
SELECT 'measurement', m.measurement_source_value, k.concept_name, m.measurement_date, m.value_as_number,
       m.unit_source_value, NULL
FROM measurement m LEFT JOIN concept k ON k.concept_id = m.measurement_source_concept_id
WHERE m.src_system = 'NLP' AND m.src_file = $src
UNION ALL
SELECT 'procedure_occurrence', p.procedure_source_value, k.concept_name, p.procedure_date, NULL, NULL, NULL
FROM procedure_occurrence p LEFT JOIN concept k ON k.concept_id = p.procedure_source_concept_id
WHERE p.src_system = 'NLP' AND p.src_file = $src
UNION ALL
SELECT 'drug_exposure', d.drug_source_value, k.concept_name, d.drug_exposure_start_date, NULL, NULL, NULL
FROM drug_exposure d LEFT JOIN concept k ON k.concept_id = d.drug_source_concept_id
WHERE d.src_system = 'NLP' AND d.src_file = $src
ORDER BY 1, 4, 2
"""


@dataclass(frozen=True)
class Mark:
    """A highlighted span of the note: [start, end) with its CSS classes and a tooltip."""

    start: int
    end: int
    classes: str
    title: str
    badge: str = ""


def type_class(entity_type: str | None) -> str:
    """The short ASCII tag of an entity type (``DIS``, ``SYM`` ...), ``OTHER`` for unknown types."""
    return LABEL_CODES.get(entity_type or "", "OTHER")


def modifiers(term_modifiers: str | None) -> list[str]:
    """The context modifiers of an entity from its ``term_modifiers`` (``...;modifiers=a,b;...``)."""
    for part in (term_modifiers or "").split(";"):
        key, _, value = part.partition("=")
        if key == "modifiers":
            return [m for m in value.split(",") if m]
    return []


def load(cur: duckdb.DuckDBPyConnection, note_id: int) -> dict[str, Any]:
    """The note, its entities (offset order) and the facts derived from it; NotFound if no such note."""
    row = cur.execute(_NOTE_SQL, {"nid": note_id}).fetchone()
    if row is None:
        raise NotFound(f"no note {note_id}")
    note = dict(
        zip(
            ("note_id", "person_id", "note_date", "note_datetime", "title", "text", "kind", "src_system"),
            row,
            strict=True,
        )
    )
    entities = [
        dict(zip(_ENTITY_COLUMNS, r, strict=True))
        for r in cur.execute(_ENTITIES_SQL, {"nid": note_id}).fetchall()
    ]
    for e in entities:
        e["type_class"] = type_class(e["entity_type"])
        e["modifiers"] = modifiers(e["term_modifiers"])
    facts = [
        dict(zip(_FACT_COLUMNS, r, strict=True))
        for r in cur.execute(_FACTS_SQL, {"src": f"note:{note_id}"}).fetchall()
    ]
    return {"note": note, "entities": entities, "facts": facts}


def marks(text: str, entities: list[dict[str, Any]], badges: Mapping[str, str] | None = None) -> list[Mark]:
    """One mark per entity with valid offsets, plus one per value found just after its entity.

    ``badges`` labels the assertions in ``BADGED`` (translated by the caller).
    """
    badges = badges or {}
    out: list[Mark] = []
    n = len(text)
    for e in entities:
        start, end = e.get("start"), e.get("end")
        if start is None or end is None or not 0 <= start < end <= n:
            continue
        assertion = e.get("assertion") or "present"
        classes = f"ent ent-{type_class(e.get('entity_type'))} assert-{assertion}"
        fields = (e.get("entity_type"), assertion, *(e.get("modifiers") or ()), e.get("concept_code"))
        title = " · ".join(str(x) for x in fields if x)
        badge = badges.get(assertion, assertion) if assertion in BADGED else ""
        out.append(Mark(start, end, classes, title, badge))
        value = e.get("value_text")
        if value:
            at = text.find(value, end, min(n, end + _VALUE_WINDOW + len(value)))
            if at >= 0:
                unit = f" {e['unit']}" if e.get("unit") else ""
                out.append(Mark(at, at + len(value), f"ent ent-{VALUE_CLASS}", f"{value}{unit}"))
    return out


def highlight(text: str, spans: list[Mark]) -> Markup:
    """The text as HTML, every mark a ``<mark>``; overlapping marks are cut into segments.

    Each segment between two consecutive boundaries is covered by zero or more marks; it is drawn
    with the innermost (shortest) covering mark's classes, plus ``overlap`` when several cover it.
    """
    cuts = sorted({0, len(text), *(m.start for m in spans), *(m.end for m in spans)})
    parts: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = escape(text[a:b])
        cover = [m for m in spans if m.start <= a and b <= m.end]
        if not cover:
            parts.append(str(piece))
            continue
        inner = min(cover, key=lambda m: (m.end - m.start, m.start))
        classes = inner.classes + (" overlap" if len(cover) > 1 else "")
        parts.append(
            f'<mark class="{escape(classes)}" data-start="{inner.start}" data-end="{inner.end}" '
            f'title="{escape(inner.title)}">{piece}</mark>'
        )
        for m in cover:
            if m.badge and m.end == b:
                parts.append(f'<sup class="badge {escape(m.classes.split()[-1])}">{escape(m.badge)}</sup>')
    return Markup("".join(parts))
