"""The data the NLP pipeline hands out: entities with offsets, type, assertion, time, value and code.

Entity types follow Yidu-S4K (plus 症状和体征 from CCKS 2017). ``LABEL_CODES`` maps each Chinese
type to the short ASCII tag used inside CRF label sequences.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

DISEASE = "疾病和诊断"
SYMPTOM = "症状和体征"
IMAGING = "影像检查"
LAB = "实验室检验"
OPERATION = "手术"
DRUG = "药物"
ANATOMY = "解剖部位"

ENTITY_TYPES: tuple[str, ...] = (DISEASE, SYMPTOM, IMAGING, LAB, OPERATION, DRUG, ANATOMY)
YIDU_TYPES: tuple[str, ...] = (DISEASE, IMAGING, LAB, OPERATION, DRUG, ANATOMY)

LABEL_CODES: dict[str, str] = {
    DISEASE: "DIS",
    SYMPTOM: "SYM",
    IMAGING: "IMG",
    LAB: "LAB",
    OPERATION: "OPS",
    DRUG: "DRUG",
    ANATOMY: "ANAT",
}
CODE_LABELS: dict[str, str] = {v: k for k, v in LABEL_CODES.items()}

ASSERTIONS: tuple[str, ...] = ("present", "negated", "possible", "historical", "family", "hypothetical")


@dataclass(frozen=True)
class Span:
    """A typed span of text (end exclusive), as gold or as a raw prediction."""

    start: int
    end: int
    label: str


@dataclass
class TimeExpr:
    """A time expression and what it means: a date, or a range of dates."""

    start: int
    end: int
    text: str
    date_from: date | None = None
    date_to: date | None = None
    anchor: str = "document"  # document | event | absolute | none
    event_date: date | None = None  # for 术后第3天 / 化疗后15天: the date of the event itself

    @property
    def date(self) -> date | None:
        """The single date the expression stands for (the range's start when it is a range)."""
        return self.date_from


@dataclass
class Value:
    """A number (or range / pair) with its unit, normalised to UCUM where the unit is known."""

    start: int
    end: int
    text: str
    number: float | None
    high: float | None = None
    unit: str | None = None
    ucum: str | None = None
    kind: str = "number"  # number | range | pair | dims | qualitative


@dataclass
class Entity:
    """One entity found in a note, with everything a page needs to render it."""

    start: int
    end: int
    text: str
    type: str
    source: str = "dict"  # dict | crf | both | rule
    assertion: str = "present"
    modifiers: list[str] = field(default_factory=list)
    time: TimeExpr | None = None
    value: Value | None = None
    code: str | None = None
    code_name: str | None = None
    code_score: float | None = None
    alternatives: list[tuple[str, str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["alternatives"] = [list(a) for a in self.alternatives]
        if self.time is not None:
            out["time"]["date_from"] = self.time.date_from.isoformat() if self.time.date_from else None
            out["time"]["date_to"] = self.time.date_to.isoformat() if self.time.date_to else None
            out["time"]["event_date"] = self.time.event_date.isoformat() if self.time.event_date else None
        return out
