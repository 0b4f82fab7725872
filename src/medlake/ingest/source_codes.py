"""Source codes → source concept ids through the runner's ``ConceptRegistry`` (when it provides one).

The runner hands every connector a ``registry`` attribute; codes first seen in a file (a LIS
local test code, a LOINC or SNOMED code in a partner bundle) are registered with their display
name, so ``*_source_concept_id`` is filled without waiting for a vocabulary load. Without a
registry (a connector used on its own) the ids stay 0.
"""

from __future__ import annotations

from typing import Any

from medlake.cdm.vocab import ConceptRegistry

#: HL7 table 0396 / FHIR system URIs → medlake vocabulary ids
VOCABULARY_ALIASES = {
    "LN": "LOINC",
    "LOINC": "LOINC",
    "http://loinc.org": "LOINC",
    "SCT": "SNOMED",
    "SNM": "SNOMED",
    "http://snomed.info/sct": "SNOMED",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://hl7.org/fhir/sid/icd-10": "ICD10",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "urn:oid:2.16.156.10011.2.3.3.11": "ICD10CN",
    "http://www.ama-assn.org/go/cpt": "CPT4",
    "http://dicom.nema.org/resources/ontology/DCM": "DCM",
}


def vocabulary_id(system: str, default: str) -> str:
    """A short vocabulary id for a coding system (HL7 ``LN``, a FHIR URI, ...); ``default`` when empty/local."""
    if not system or system.upper() in {"L", "LOCAL", "99LOCAL"}:
        return default
    return VOCABULARY_ALIASES.get(system, system)


class SourceConcepts:
    """Collects (vocabulary, code, name) for rows of one file, then fills their source concept ids."""

    def __init__(self, connector: object) -> None:
        self.registry: ConceptRegistry | None = getattr(connector, "registry", None)
        self._pending: list[tuple[dict[str, Any], str, str, str, str]] = []

    def note(self, row: dict[str, Any], column: str, vocabulary: str, code: str, name: str) -> None:
        """Fill ``row[column]`` with the concept id of (vocabulary, code) at ``resolve`` time."""
        row[column] = 0
        if code:
            self._pending.append((row, column, vocabulary, code, name))

    def resolve(self, domain_of: dict[str, tuple[str, str]]) -> None:
        """Register pending codes; ``domain_of`` maps a column to its (domain, concept class)."""
        if self.registry is None or not self._pending:
            self._pending.clear()
            return
        grouped: dict[tuple[str, str], dict[str, str]] = {}
        for _row, column, vocab, code, name in self._pending:
            grouped.setdefault((column, vocab), {}).setdefault(code, name or code)
        ids: dict[tuple[str, str, str], int] = {}
        for (column, vocab), items in grouped.items():
            domain, concept_class = domain_of.get(column, ("Observation", "Clinical Observation"))
            for code, cid in self.registry.ensure(
                vocab, items, domain=domain, concept_class=concept_class
            ).items():
                ids[(column, vocab, code)] = cid
        for row, column, vocab, code, _name in self._pending:
            row[column] = ids.get((column, vocab, code), 0)
        self._pending.clear()
