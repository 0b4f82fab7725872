"""The dataset specification: a cohort, an index date and typed variables, as versioned JSON.

A spec names *what* a dataset holds, never SQL: the cohort source is pluggable (a cohort id in
the lake's ``cohort`` table, an explicit list of person ids, or a SQL-free filter), variables are
demographics, condition / drug / procedure flags, labs with statistics in a window around the
index date, NLP facts, and optionally the note text. Every output column has a kind; its
de-identification action comes from the action set unless the spec overrides it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from medlake.privacy.actions import ColumnRule

SPEC_SCHEMA_VERSION: Literal[1] = 1
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- cohort sources ---------------------------------------------------------------------------------
class CohortById(_Strict):
    kind: Literal["cohort"] = "cohort"
    cohort_definition_id: int


class PersonList(_Strict):
    kind: Literal["persons"] = "persons"
    person_ids: list[int] = Field(min_length=1)


class PersonFilter(_Strict):
    """Persons by sex, birth year and any diagnosis code (ICD-10 prefixes); every field optional."""

    kind: Literal["filter"] = "filter"
    sex: Literal["男", "女"] | None = None
    birth_year_min: int | None = None
    birth_year_max: int | None = None
    condition_codes: list[str] = Field(default_factory=list)


CohortSource = Annotated[CohortById | PersonList | PersonFilter, Field(discriminator="kind")]


class IndexDate(_Strict):
    """The date windows are relative to: the cohort entry, the first visit or first matching
    diagnosis, or one fixed date."""

    kind: Literal["cohort_start", "first_visit", "first_condition", "fixed"] = "first_visit"
    codes: list[str] = Field(default_factory=list)
    date: dt.date | None = None

    @model_validator(mode="after")
    def _complete(self) -> IndexDate:
        if self.kind == "first_condition" and not self.codes:
            raise ValueError("index kind first_condition needs codes")
        if self.kind == "fixed" and self.date is None:
            raise ValueError("index kind fixed needs a date")
        return self


class Window(_Strict):
    """Days relative to the index date, both ends included (``-365..0`` = the year before)."""

    start_days: int = -365
    end_days: int = 0

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start_days > self.end_days:
            raise ValueError("window start_days must not be after end_days")
        return self


# -- variables --------------------------------------------------------------------------------------
class _Var(_Strict):
    name: str
    label_zh: str = ""
    label_en: str = ""
    deid: dict[str, ColumnRule] = Field(
        default_factory=dict, description="de-identification overrides by output column name"
    )

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(
                f"variable name {v!r} must be lower-case letters, digits and _ (start with a letter)"
            )
        return v


DemographicField = Literal[
    "age",
    "sex",
    "birth_date",
    "birth_year",
    "city",
    "province",
    "address",
    "ethnicity",
    "death_date",
    "registry_id",
]


class Demographic(_Var):
    type: Literal["demographic"] = "demographic"
    field: DemographicField


class _Coded(_Var):
    codes: list[str] = Field(default_factory=list, description="source codes (ICD-10, local codes, ...)")
    concept_ids: list[int] = Field(default_factory=list)
    match: Literal["prefix", "exact"] = "prefix"
    window: Window = Field(default_factory=Window)

    @model_validator(mode="after")
    def _some_code(self) -> _Coded:
        if not self.codes and not self.concept_ids:
            raise ValueError(f"variable {self.name}: give codes or concept_ids")
        return self


EventOutput = Literal["flag", "count", "first_date"]


class ConditionVar(_Coded):
    type: Literal["condition"] = "condition"
    output: EventOutput = "flag"


class DrugVar(_Coded):
    type: Literal["drug"] = "drug"
    output: EventOutput = "flag"
    match: Literal["prefix", "exact"] = "exact"


class ProcedureVar(_Coded):
    type: Literal["procedure"] = "procedure"
    output: EventOutput = "flag"


LabStat = Literal["first", "last", "min", "max", "mean", "count"]


def _default_stats() -> list[LabStat]:
    return ["first", "last", "min", "max", "count"]


class LabVar(_Coded):
    type: Literal["lab"] = "lab"
    match: Literal["prefix", "exact"] = "exact"
    stats: list[LabStat] = Field(default_factory=_default_stats, min_length=1)
    unit: str = ""


class NlpFactVar(_Var):
    """A fact found by the NLP in the notes (``note_nlp``): by term or concept, asserted present."""

    type: Literal["nlp_fact"] = "nlp_fact"
    terms: list[str] = Field(default_factory=list)
    concept_ids: list[int] = Field(default_factory=list)
    assertion: Literal["present", "any"] = "present"
    output: Literal["flag", "count"] = "flag"
    window: Window = Field(default_factory=Window)

    @model_validator(mode="after")
    def _some_term(self) -> NlpFactVar:
        if not self.terms and not self.concept_ids:
            raise ValueError(f"variable {self.name}: give terms or concept_ids")
        return self


Variable = Annotated[
    Demographic | ConditionVar | DrugVar | ProcedureVar | LabVar | NlpFactVar, Field(discriminator="type")
]


class NotesSpec(_Strict):
    """Note text in a second table, one row per note, scrubbed of identifiers."""

    doc_types: list[str] = Field(default_factory=list, description="e.g. 出院小结; empty = every kind")
    window: Window = Field(default_factory=Window)
    max_per_person: int = Field(default=20, ge=1, le=1000)


class DeidSpec(_Strict):
    action_set: str = "gbt37964_default"
    k: int = Field(default=5, ge=1, le=100)
    max_suppression: float = Field(default=0.05, ge=0, le=1)
    max_shift_days: int = Field(default=30, ge=1, le=365)
    columns: dict[str, ColumnRule] = Field(default_factory=dict, description="overrides for fixed columns")


class DatasetSpec(_Strict):
    schema_version: Literal[1] = SPEC_SCHEMA_VERSION
    name: str
    project: str
    version: int = 1
    description: str = ""
    cohort: CohortSource
    index: IndexDate = Field(default_factory=IndexDate)
    variables: list[Variable] = Field(default_factory=list)
    notes: NotesSpec | None = None
    deid: DeidSpec = Field(default_factory=DeidSpec)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$", v):
            raise ValueError("dataset name: letters, digits, '-' and '_' (at most 64)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        seen: set[str] = set()
        for v in self.variables:
            if v.name in seen or v.name in ("person_id", "index_date"):
                raise ValueError(f"duplicate or reserved variable name {v.name!r}")
            seen.add(v.name)
        if self.index.kind == "cohort_start" and not isinstance(self.cohort, CohortById):
            raise ValueError("index kind cohort_start needs a cohort source of kind 'cohort'")
        return self
