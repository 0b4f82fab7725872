"""Shared pieces of the FHIR mappers: the mapping context, row ids, lineage, subjects, source codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medlake.cdm.ids import stable_id
from medlake.ingest.fhir_values import (
    SYSTEM,
    Json,
    Refs,
    pick_code,
    resource_key,
)
from medlake.ingest.source_codes import SourceConcepts, vocabulary_id

GENDER = {"male": (8507, "M"), "female": (8532, "F"), "other": (0, "O"), "unknown": (0, "U")}
VISIT_CLASS = {"IMP": 9201, "ACUTE": 9201, "NONAC": 9201, "AMB": 9202, "EMER": 9203, "HH": 581476, "VR": 5083}
EHR, PRESCRIPTION, ADMINISTRATION = 32817, 32838, 32818
RESIDENT_ID_SYSTEMS = ("urn:oid:2.16.156.10011.1.1",)
NPI_SYSTEMS = ("http://hl7.org/fhir/sid/us-npi",)
OBSERVATION_CATEGORIES = {"social-history", "survey", "activity"}  # → observation; the rest → measurement
OPERATORS = {"<": 4171756, "<=": 4171754, ">": 4172704, ">=": 4171755}

Rows = list[tuple[str, dict[str, Any]]]


class MappingError(ValueError):
    """A resource that cannot be mapped (quarantined with this reason)."""


@dataclass
class MapContext:
    refs: Refs
    src_file: str
    concepts: SourceConcepts


def lineage(res: Json, ctx: MapContext, suffix: str = "") -> dict[str, str]:
    return {
        "src_system": SYSTEM,
        "src_file": ctx.src_file,
        "src_record": f"{res['resourceType']}/{res.get('id', '')}{suffix}",
    }


def row_id(namespace: str, res: Json, suffix: str = "") -> int:
    return stable_id(namespace, resource_key(res["resourceType"], str(res.get("id", ""))) + suffix)


def subject_person(res: Json, ctx: MapContext, key: str = "subject") -> int:
    person = ctx.refs.person(res.get(key) or res.get("patient"))
    if person is None:
        raise MappingError(f"{res['resourceType']} has no resolvable {key} reference")
    return person


def source_code(
    ctx: MapContext, row: dict[str, Any], column: str, concept: Any, prefer: tuple[str, ...] = ()
) -> str:
    code, display, system = pick_code(concept, prefer)
    ctx.concepts.note(row, column, vocabulary_id(system, "PARTNER-LOCAL"), code, display)
    return code
