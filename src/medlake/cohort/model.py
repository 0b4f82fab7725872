"""medlake cohort definitions: a typed, versioned JSON format researchers and the web UI write.

A definition has an entry event, ordered inclusion rules (the funnel), exclusions and an exit.
Criteria cover demographics, visits, ICD-10 diagnoses (with hierarchy), lab measurements,
drugs, procedures, NLP facts from notes, imaging and note text; each item of a group may carry
an occurrence count and a time window relative to the index event; groups are ALL / ANY /
AT_LEAST n / AT_MOST n and nest. Parsing is strict: an unknown key is an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medlake.errors import ValidationFailed

FORMAT_VERSION: Literal[1] = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConditionCriterion(_Strict):
    type: Literal["condition"] = "condition"
    icd10: list[str] = Field(
        default_factory=list, description="ICD-10 codes or prefixes: C50 matches C50.900"
    )
    concept_ids: list[int] = Field(
        default_factory=list, description="standard concepts, with their descendants"
    )
    diagnosis_type: list[str] = Field(
        default_factory=list, description="condition_status_source_value, e.g. 主要诊断"
    )

    @model_validator(mode="after")
    def _some_code(self) -> ConditionCriterion:
        if not self.icd10 and not self.concept_ids:
            raise ValueError("a condition criterion needs icd10 codes or concept_ids")
        return self


class MeasurementCriterion(_Strict):
    type: Literal["measurement"] = "measurement"
    codes: list[str] = Field(
        default_factory=list, description="measurement_source_value (local lab code or name)"
    )
    concept_ids: list[int] = Field(default_factory=list)
    value_min: float | None = None
    value_max: float | None = None
    unit: list[str] = Field(default_factory=list)
    abnormal: list[str] = Field(default_factory=list, description="abnormal_flag values, e.g. H, L, A")
    value_text: list[str] = Field(
        default_factory=list, description="value_source_value, e.g. 阳性, +, positive"
    )


class DrugCriterion(_Strict):
    type: Literal["drug"] = "drug"
    codes: list[str] = Field(default_factory=list, description="drug_source_value")
    concept_ids: list[int] = Field(
        default_factory=list, description="ingredients or products, with descendants"
    )


class ProcedureCriterion(_Strict):
    type: Literal["procedure"] = "procedure"
    codes: list[str] = Field(default_factory=list, description="procedure_source_value prefixes (ICD-9-CM-3)")
    concept_ids: list[int] = Field(default_factory=list)


class VisitCriterion(_Strict):
    type: Literal["visit"] = "visit"
    visit_type: list[Literal["inpatient", "outpatient", "emergency"]] = Field(default_factory=list)
    department: list[str] = Field(default_factory=list, description="care site name or code")


class NlpCriterion(_Strict):
    type: Literal["nlp"] = "nlp"
    entity: list[str] = Field(default_factory=list, description="entity text or normalised name")
    code: list[str] = Field(default_factory=list, description="code prefixes (ICD-10 for diagnoses)")
    entity_type: list[str] = Field(default_factory=list, description="e.g. 疾病和诊断, 影像检查")
    assertion: list[Literal["present", "negated", "possible", "historical", "family", "hypothetical"]] = (
        Field(default_factory=lambda: ["present"])  # type: ignore[arg-type]
    )


class ImagingCriterion(_Strict):
    type: Literal["imaging"] = "imaging"
    modality: list[str] = Field(default_factory=list, description="DICOM modality: CT, MR, DX ...")
    body_part: list[str] = Field(
        default_factory=list, description="anatomic site / BodyPartExamined, e.g. CHEST"
    )
    finding: list[str] = Field(
        default_factory=list, description="text the linked report must contain (any of)"
    )
    finding_nlp: list[str] = Field(
        default_factory=list, description="entity asserted present in the linked report"
    )


class NoteTextCriterion(_Strict):
    type: Literal["note_text"] = "note_text"
    all_of: list[str] = Field(default_factory=list)
    any_of: list[str] = Field(default_factory=list)
    none_of: list[str] = Field(default_factory=list)
    doc_type: list[str] = Field(default_factory=list, description="note_source_value, e.g. 影像报告")

    @model_validator(mode="after")
    def _some_text(self) -> NoteTextCriterion:
        if not self.all_of and not self.any_of:
            raise ValueError("a note_text criterion needs all_of or any_of")
        return self


Criterion = Annotated[
    ConditionCriterion
    | MeasurementCriterion
    | DrugCriterion
    | ProcedureCriterion
    | VisitCriterion
    | NlpCriterion
    | ImagingCriterion
    | NoteTextCriterion,
    Field(discriminator="type"),
]


class Occurrence(_Strict):
    type: Literal["at_least", "at_most", "exactly"] = "at_least"
    count: int = Field(default=1, ge=0)


class Window(_Strict):
    """Days relative to the index date; ``None`` is unbounded (up to the observation period)."""

    start: int | None = None
    end: int | None = None
    relative_to: Literal["index_start", "index_end"] = "index_start"


class CriterionItem(_Strict):
    criterion: Criterion
    occurrence: Occurrence = Field(default_factory=Occurrence)
    window: Window = Field(default_factory=Window)
    restrict_visit: bool = False
    distinct: Literal["event", "concept", "date", "visit"] = "event"


class AgeRange(_Strict):
    min: int | None = None
    max: int | None = None


class Demographic(_Strict):
    age: AgeRange | None = None
    sex: list[Literal["F", "M"]] = Field(default_factory=list)


class DemographicItem(_Strict):
    demographic: Demographic


class Group(_Strict):
    type: Literal["all", "any", "at_least", "at_most"] = "all"
    count: int | None = None
    items: list[CriterionItem | DemographicItem | Group] = Field(default_factory=list)

    @model_validator(mode="after")
    def _count(self) -> Group:
        if self.type in ("at_least", "at_most") and self.count is None:
            raise ValueError(f"group type {self.type} needs a count")
        return self


class Rule(_Strict):
    name: str
    description: str = ""
    group: Group


class Entry(_Strict):
    criteria: list[Criterion] = Field(min_length=1)
    limit: Literal["first", "all", "last"] = "first"
    prior_observation_days: int = Field(default=0, ge=0)
    post_observation_days: int = Field(default=0, ge=0)


class Exit(_Strict):
    type: Literal["observation_end", "fixed"] = "observation_end"
    days: int = 0
    from_: Literal["start", "end"] = Field(default="start", alias="from")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CohortDefinition(_Strict):
    medlake_cohort: Literal[1] = FORMAT_VERSION
    id: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,80}$")
    version: int = Field(default=1, ge=1)
    title: str = ""
    description: str = ""
    entry: Entry
    inclusion: list[Rule] = Field(default_factory=list)
    exclusions: list[Rule] = Field(default_factory=list)
    limit: Literal["first", "all", "last"] = "all"
    exit: Exit = Field(default_factory=Exit)
    era_pad_days: int = Field(default=0, ge=0)


def parse_definition(obj: dict[str, Any]) -> CohortDefinition:
    try:
        return CohortDefinition.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ValidationFailed(
            f"invalid cohort definition at {where}: {first['msg']} ({exc.error_count()} error(s))",
            hint="See src/medlake/cohort/examples/ for complete definitions.",
        ) from None


def load_definition(path: Path) -> CohortDefinition:
    return parse_definition(json.loads(path.read_text(encoding="utf-8")))
