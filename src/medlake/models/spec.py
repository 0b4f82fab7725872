"""The typed model task: where the rows come from, the features X, the endpoint Y and how to fit.

A task is JSON parsed strictly (unknown keys are errors). Everything that reaches SQL is a typed
field here: codes are strings matched as bound parameters, windows are integers, names are
identifiers. ``TaskSpec.load(path)`` / ``TaskSpec.model_validate_json(text)`` read one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medlake.errors import InputFormatError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Code = Annotated[str, Field(min_length=1, max_length=120)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Numeric(_Strict):
    """A numeric feature may be log-transformed (``log1p``, negatives clipped to 0) before fitting."""

    transform: Literal["none", "log1p"] = "none"


class Window(_Strict):
    """Days relative to the index date, both ends inclusive (negative = before index)."""

    start_days: int = -365
    end_days: int = 0

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start_days > self.end_days:
            raise ValueError("window start_days must not be after end_days")
        return self


class Codes(_Strict):
    """Source codes to match; a code ending in ``*`` matches by prefix (``T2*`` = every T2x code)."""

    codes: list[Code] = Field(default_factory=list)
    concept_ids: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some(self) -> Codes:
        if not self.codes and not self.concept_ids:
            raise ValueError("give at least one code or concept id")
        return self


# -- data source ------------------------------------------------------------------------------------
class IndexEventSource(_Strict):
    """Persons with a condition / procedure / visit code; the index is the event's date."""

    kind: Literal["index_event"] = "index_event"
    domain: Literal["condition", "procedure", "drug", "measurement", "observation"]
    match: Codes
    occurrence: Literal["first", "last"] = "first"
    min_age: float | None = None
    max_age: float | None = None


class CohortSource(_Strict):
    """Members of a cohort in the lake table ``cohort``; the index is ``cohort_start_date``."""

    kind: Literal["cohort"] = "cohort"
    cohort_definition_id: int


Source = Annotated[IndexEventSource | CohortSource, Field(discriminator="kind")]


# -- features -----------------------------------------------------------------------------------
class DemographicFeature(_Numeric):
    kind: Literal["demographic"] = "demographic"
    name: Name
    field: Literal["age_years", "age_days", "sex_male"]


class ConditionFeature(_Strict):
    """1 when a matching diagnosis is recorded in the window, else 0."""

    kind: Literal["condition"] = "condition"
    name: Name
    match: Codes
    window: Window = Window()


class ProcedureFeature(_Strict):
    kind: Literal["procedure"] = "procedure"
    name: Name
    match: Codes
    window: Window = Window()


class DrugFeature(_Strict):
    kind: Literal["drug"] = "drug"
    name: Name
    match: Codes
    window: Window = Window()


Aggregate = Literal["last", "first", "min", "max", "mean", "count"]


class MeasurementFeature(_Numeric):
    """An aggregate of a lab value / vital sign in the window (missing when none is recorded)."""

    kind: Literal["measurement"] = "measurement"
    name: Name
    match: Codes
    agg: Aggregate = "last"
    window: Window = Window(start_days=-30, end_days=0)


class VariableFeature(_Numeric):
    """A specialty / observation variable (``observation`` table value_as_number, or 1 when present)."""

    kind: Literal["variable"] = "variable"
    name: Name
    match: Codes
    agg: Aggregate = "last"
    window: Window = Window(start_days=-30, end_days=0)


class NlpFeature(_Numeric):
    """A fact found in notes by medlake.nlp (``note_nlp``), matched on its code or its text.

    ``value="present"`` gives 1 when an affirmed mention is in the window; ``value="number"``
    aggregates the value the NLP read beside it (e.g. 体重 4.2 kg, 体外循环时间 120 分钟).
    """

    kind: Literal["nlp"] = "nlp"
    name: Name
    match: Codes
    window: Window = Window(start_days=-30, end_days=0)
    value: Literal["present", "number"] = "present"
    agg: Aggregate = "last"


class NoteTextFeature(_Strict):
    """1 when a note in the window contains one of the phrases (literal text, e.g. 心下型)."""

    kind: Literal["note_text"] = "note_text"
    name: Name
    phrases: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(min_length=1)
    window: Window = Window(start_days=-30, end_days=0)


class NoteValueFeature(_Numeric):
    """A number written after a label in notes, e.g. 体外循环时间 89 分钟 or 烧伤总面积约TBSA 10 %.

    The label and unit are literal text (escaped before use); up to ``max_gap`` non-digit characters
    may sit between the label and the number. ``note_kinds`` limits the documents (note_source_value).
    """

    kind: Literal["note_value"] = "note_value"
    name: Name
    label: Annotated[str, Field(min_length=1, max_length=30)]
    unit: Annotated[str, Field(max_length=12)] = ""
    max_gap: int = Field(default=4, ge=0, le=12)
    note_kinds: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(default_factory=list)
    agg: Aggregate = "first"
    window: Window = Window(start_days=-7, end_days=1)


class TimeToFeature(_Numeric):
    """Hours from the index time to the first matching event in the window (e.g. time to fluids)."""

    kind: Literal["time_to"] = "time_to"
    name: Name
    domain: Literal["condition", "procedure", "drug", "measurement", "observation"]
    match: Codes
    window: Window = Window(start_days=0, end_days=2)


def apply_transforms(features: list[Any], X: Any) -> Any:
    """Apply each feature's transform to its column of ``X`` (a 2-D float array) in place."""
    import numpy as np

    for j, f in enumerate(features):
        if getattr(f, "transform", "none") == "log1p":
            X[:, j] = np.log1p(np.clip(X[:, j], 0, None))
    return X


Feature = Annotated[
    DemographicFeature
    | ConditionFeature
    | ProcedureFeature
    | DrugFeature
    | MeasurementFeature
    | VariableFeature
    | NlpFeature
    | NoteTextFeature
    | NoteValueFeature
    | TimeToFeature,
    Field(discriminator="kind"),
]


# -- endpoint -----------------------------------------------------------------------------------
class Outcome(_Strict):
    """Y = 1 when a matching event happens in the time at risk after index."""

    domain: Literal["condition", "procedure", "drug", "measurement", "observation", "death"]
    match: Codes | None = None
    time_at_risk: Window = Window(start_days=1, end_days=365)
    value_above: float | None = Field(default=None, description="measurement/observation: value > this")
    value_below: float | None = Field(default=None, description="measurement/observation: value < this")

    @model_validator(mode="after")
    def _codes_unless_death(self) -> Outcome:
        if self.domain != "death" and self.match is None:
            raise ValueError(f"an outcome in {self.domain} needs match codes")
        return self


# -- fitting ------------------------------------------------------------------------------------
AlgorithmName = Literal["lasso", "ridge", "lightgbm", "random_forest", "svm"]
GridValue = float | int | str | bool | None


class AlgorithmSpec(_Strict):
    name: AlgorithmName = "lasso"
    grid: dict[str, list[GridValue]] = Field(
        default_factory=dict, description="hyper-parameter grid; empty = the algorithm's default grid"
    )


class SplitSpec(_Strict):
    method: Literal["stratified", "time"] = "stratified"
    validation_fraction: float = Field(default=0.15, ge=0.0, lt=0.5)
    test_fraction: float = Field(default=0.25, gt=0.0, lt=0.6)
    folds: int = Field(default=5, ge=2, le=20)


class RiskBands(_Strict):
    """Cut points on predicted risk: < low_below is low, >= high_from is high, medium between."""

    low_below: float = Field(default=0.1, gt=0.0, lt=1.0)
    high_from: float = Field(default=0.3, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> RiskBands:
        if self.low_below > self.high_from:
            raise ValueError("risk band low_below must not exceed high_from")
        return self


HookName = Literal["patient-view", "order-select"]


def _default_hooks() -> list[HookName]:
    return ["patient-view"]


class CdsSettings(_Strict):
    hooks: list[HookName] = Field(default_factory=_default_hooks)
    title: str | None = None


class TaskSpec(_Strict):
    name: Name
    title: str = ""
    description: str = ""
    source: Source
    features: list[Feature] = Field(min_length=1)
    outcome: Outcome
    algorithm: AlgorithmSpec = AlgorithmSpec()
    max_missing_rate: float = Field(default=0.5, ge=0.0, le=1.0)
    split: SplitSpec = SplitSpec()
    seed: int = 20240521
    bands: RiskBands = RiskBands()
    cds: CdsSettings = CdsSettings()

    @model_validator(mode="after")
    def _unique_feature_names(self) -> TaskSpec:
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate feature names: {dupes}")
        return self

    def with_algorithm(self, name: str, grid: dict[str, list[GridValue]] | None = None) -> TaskSpec:
        algo = AlgorithmSpec.model_validate({"name": name, "grid": grid or {}})
        return self.model_copy(update={"algorithm": algo})

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)

    @classmethod
    def parse(cls, text: str, *, origin: str = "task") -> TaskSpec:
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputFormatError(
                f"{origin}: invalid model task at {where or '(root)'}: {first['msg']}",
                hint="See docs of medlake.models.spec; unknown keys are errors.",
            ) from None

    @classmethod
    def load(cls, path: Path) -> TaskSpec:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            from medlake.errors import InputNotFound

            raise InputNotFound(f"model task file not found: {path}") from None
        return cls.parse(text, origin=str(path))
