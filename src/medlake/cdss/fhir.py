"""Features from a CDS Hooks prefetch: FHIR R4 Patient, Observation, Condition, Procedure, Medication*.

The prefetch is read as plain JSON (each value a resource or a searchset Bundle). A resource
type present in the prefetch is authoritative for the features it feeds: a diagnosis that is not
there is absent (0). Numeric features the prefetch does not give stay NaN and are looked up in
the lake by the caller. Codes are matched exactly as in the lake (``*`` = prefix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from medlake.models.spec import (
    Codes,
    ConditionFeature,
    DemographicFeature,
    DrugFeature,
    IndexEventSource,
    MeasurementFeature,
    ProcedureFeature,
    TaskSpec,
    TimeToFeature,
    VariableFeature,
    Window,
    apply_transforms,
)

_TIME_FIELDS = {
    "Observation": ("effectiveDateTime", "issued"),
    "Condition": ("onsetDateTime", "recordedDate"),
    "Procedure": ("performedDateTime",),
    "MedicationRequest": ("authoredOn",),
    "MedicationAdministration": ("effectiveDateTime",),
}
_DOMAIN_OF = {
    "Observation": "measurement",
    "Condition": "condition",
    "Procedure": "procedure",
    "MedicationRequest": "drug",
    "MedicationAdministration": "drug",
}


@dataclass
class Event:
    codes: list[str]
    at: datetime | None
    value: float | None


@dataclass
class Prefetch:
    patient: dict[str, Any] | None = None
    events: dict[str, list[Event]] = field(default_factory=dict)

    def covers(self, domain: str) -> bool:
        return domain in self.events


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def _resources(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        return [
            e["resource"]
            for e in value.get("entry") or []
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
        ]
    return [value]


def _codes(concept: Any) -> list[str]:
    if not isinstance(concept, dict):
        return []
    return [str(c["code"]) for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")]


# the prefetch keys medlake's discovery asks for: an empty searchset under one still says "none"
KEY_DOMAINS = {
    "conditions": "condition",
    "observations": "measurement",
    "procedures": "procedure",
    "medications": "drug",
}


def read_prefetch(prefetch: dict[str, Any] | None) -> Prefetch:
    out = Prefetch()
    for key, value in (prefetch or {}).items():
        if key in KEY_DOMAINS and isinstance(value, dict) and value.get("resourceType") == "Bundle":
            out.events.setdefault(KEY_DOMAINS[key], [])
        for res in _resources(value):
            rtype = res.get("resourceType")
            if rtype == "Patient":
                out.patient = res
                continue
            domain = _DOMAIN_OF.get(str(rtype))
            if domain is None:
                continue
            concept = res.get("code") or res.get("medicationCodeableConcept")
            at = next((parse_time(res.get(f)) for f in _TIME_FIELDS[str(rtype)] if res.get(f)), None)
            if at is None and isinstance(res.get("performedPeriod"), dict):
                at = parse_time(res["performedPeriod"].get("start"))
            qty = res.get("valueQuantity")
            value_num = (
                float(qty["value"])
                if isinstance(qty, dict) and isinstance(qty.get("value"), int | float)
                else None
            )
            out.events.setdefault(domain, []).append(Event(_codes(concept), at, value_num))
    return out


def _matches(codes: list[str], match: Codes) -> bool:
    for want in match.codes:
        if any(c.startswith(want[:-1]) if want.endswith("*") else c == want for c in codes):
            return True
    return False


def _in_window(at: datetime | None, index: datetime, window: Window) -> bool:
    if at is None:
        return False
    days = (at.date() - index.date()).days
    return window.start_days <= days <= window.end_days


def index_time(spec: TaskSpec, pre: Prefetch) -> datetime | None:
    """The latest index event found in the prefetch (e.g. the operation), if any."""
    src = spec.source
    if not isinstance(src, IndexEventSource):
        return None
    times = [e.at for e in pre.events.get(src.domain, []) if e.at and _matches(e.codes, src.match)]
    return max(times) if times else None


def _aggregate(values: list[tuple[datetime, float]], agg: str) -> float:
    if not values:
        return float("nan")
    values.sort(key=lambda t: t[0])
    nums = [v for _, v in values]
    table = {
        "last": nums[-1],
        "first": nums[0],
        "min": min(nums),
        "max": max(nums),
        "mean": float(np.mean(nums)),
        "count": float(len(nums)),
    }
    return float(table[agg])


def _birth(patient: dict[str, Any]) -> date | None:
    try:
        return date.fromisoformat(str(patient.get("birthDate"))[:10])
    except ValueError:
        return None


def features_from_prefetch(spec: TaskSpec, pre: Prefetch, index: datetime) -> np.ndarray:
    """The spec's feature vector from the prefetch; NaN where the prefetch cannot say."""
    x = np.full(len(spec.features), np.nan)
    for j, f in enumerate(spec.features):
        if isinstance(f, DemographicFeature):
            if pre.patient is None:
                continue
            birth = _birth(pre.patient)
            if f.field == "sex_male":
                g = pre.patient.get("gender")
                x[j] = 1.0 if g == "male" else (0.0 if g == "female" else np.nan)
            elif birth is not None:
                days = (index - datetime(birth.year, birth.month, birth.day)) / timedelta(days=1)
                x[j] = float(int(days)) if f.field == "age_days" else int(days) / 365.25
        elif isinstance(f, ConditionFeature | ProcedureFeature | DrugFeature):
            if pre.covers(f.kind):
                hit = any(
                    _matches(e.codes, f.match) and _in_window(e.at, index, f.window)
                    for e in pre.events[f.kind]
                )
                x[j] = 1.0 if hit else 0.0
        elif isinstance(f, MeasurementFeature | VariableFeature):
            vals = [
                (e.at, e.value)
                for e in pre.events.get("measurement", [])
                if e.at
                and e.value is not None
                and _matches(e.codes, f.match)
                and _in_window(e.at, index, f.window)
            ]
            x[j] = _aggregate(vals, f.agg) if vals or f.agg != "count" else np.nan
        elif isinstance(f, TimeToFeature):
            times = [
                e.at
                for e in pre.events.get(f.domain, [])
                if e.at and _matches(e.codes, f.match) and _in_window(e.at, index, f.window)
            ]
            if times:
                x[j] = (min(times) - index) / timedelta(hours=1)
    return apply_transforms(list(spec.features), x[None, :])[0]
