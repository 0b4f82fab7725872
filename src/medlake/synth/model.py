"""The facts of one synthetic patient, shared by every writer so all sources tell one story."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(slots=True)
class SystemIdentity:
    """How one source system recorded the person (with realistic noise)."""

    system: str
    local_id: str
    name: str
    sex: str
    birth: date
    resident_id: str
    phone: str


@dataclass(slots=True)
class Person:
    idx: int
    person_key: str
    his_id: str
    name: str
    sex: str  # GB/T 2261.1: "1" male, "2" female
    birth: date
    resident_id: str  # as in HIS (may be "" when missing)
    true_resident_id: str
    phone: str
    province: str
    city: str
    district: str
    address: str
    ethnicity_code: str
    ethnicity: str
    pattern: str
    index_date: date
    family: list[tuple[str, str]] = field(default_factory=list)  # (relation, name)
    lis: SystemIdentity | None = None
    pacs: SystemIdentity | None = None
    partner: SystemIdentity | None = None

    def age_on(self, day: date) -> int:
        years = day.year - self.birth.year
        if (day.month, day.day) < (self.birth.month, self.birth.day):
            years -= 1
        return max(years, 0)


@dataclass(slots=True)
class Diagnosis:
    code: str
    name: str
    primary: bool
    time: datetime
    key: str = ""


@dataclass(slots=True)
class DrugOrder:
    order_no: str
    key: str
    code: str
    name: str
    dose: str
    unit: str
    route: str
    freq: str
    start: datetime
    stop: datetime
    admin_times: list[datetime] = field(default_factory=list)


@dataclass(slots=True)
class Operation:
    key: str
    code: str
    name: str
    day: date
    surgeon: str
    anesthesia: str
    start: datetime
    details: dict[str, float | int | str] = field(default_factory=dict)


@dataclass(slots=True)
class LabResult:
    abbr: str
    value: str
    flag: str


@dataclass(slots=True)
class LabPanel:
    specimen_no: str
    panel: str
    collected: datetime
    results: list[LabResult]


@dataclass(slots=True)
class ImagingStudy:
    accession: str
    key: str
    time: datetime
    finding: str  # a findings key understood by the report composer
    study_uid: str = ""
    series_uid: str = ""
    write_dicom: bool = False


@dataclass(slots=True)
class Visit:
    visit_no: str
    kind: str  # 门诊 / 急诊 / 住院
    dept_code: str
    dept_name: str
    start: datetime
    end: datetime | None
    discharge: str
    diagnoses: list[Diagnosis] = field(default_factory=list)
    orders: list[DrugOrder] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    labs: list[LabPanel] = field(default_factory=list)
    imaging: list[ImagingStudy] = field(default_factory=list)
    #: free facts for the note composer (symptoms, sizes, vital signs, history ...)
    facts: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    task: str
    true_risk: float
    outcome: int


@dataclass(slots=True)
class Note:
    doc_id: str
    visit_no: str
    doc_type: str
    doc_time: datetime
    title: str
    text: str
    author: str
    accession_no: str | None
    gold: dict[str, object]


@dataclass(slots=True)
class Patient:
    person: Person
    visits: list[Visit] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    history: dict[str, object] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
