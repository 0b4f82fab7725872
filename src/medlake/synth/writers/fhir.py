"""Partner-hospital exports: one FHIR R4 collection bundle (JSON) per referred patient.

The partner saw the patient before the referral: an encounter with the referral diagnosis, a few
observations, a medication request and any procedure, in the partner's own id namespace.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from medlake.synth.model import Patient, SystemIdentity

PARTNER_SYSTEM = "urn:oid:partner-hospital"
RESIDENT_ID_SYSTEM = "urn:oid:2.16.156.10011.1.1"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
LOCAL_LAB_SYSTEM = "urn:oid:partner-hospital:lab"
_GENDER = {"1": "male", "2": "female"}


def _uuid(seed: int, key: str) -> str:
    return str(uuid.UUID(bytes=hashlib.md5(f"{seed}|{key}".encode()).digest()))


def _dt(t: datetime) -> str:
    """FHIR dateTime with a time part needs a zone: hospital local time (UTC+8)."""
    return t.replace(microsecond=0).isoformat() + "+08:00"


def _ref(full_url: str) -> dict[str, str]:
    return {"reference": full_url}


def partner_bundle(
    patient: Patient, ident: SystemIdentity, seed: int, rng: random.Random
) -> dict[str, object]:
    p = patient.person
    pid = ident.local_id
    first = next((v for v in patient.visits if v.diagnoses), patient.visits[0])
    start = first.start - timedelta(days=rng.randint(5, 40))
    end = start + timedelta(hours=rng.randint(1, 5))
    entries: list[dict[str, object]] = []

    def add(resource: dict[str, object], key: str) -> str:
        full = f"urn:uuid:{_uuid(seed, pid + key)}"
        resource["id"] = f"{pid}-{key}".lower()
        entries.append({"fullUrl": full, "resource": resource})
        return full

    identifiers: list[dict[str, object]] = [{"system": PARTNER_SYSTEM, "value": pid}]
    if ident.resident_id:
        identifiers.append({"system": RESIDENT_ID_SYSTEM, "value": ident.resident_id})
    patient_url = add(
        {
            "resourceType": "Patient",
            "identifier": identifiers,
            "name": [{"text": ident.name, "family": ident.name[0], "given": [ident.name[1:]]}],
            "gender": _GENDER.get(ident.sex, "unknown"),
            "birthDate": ident.birth.isoformat(),
            "telecom": [{"system": "phone", "value": ident.phone, "use": "mobile"}],
            "address": [
                {
                    "text": p.address,
                    "state": p.province,
                    "city": p.city or p.province,
                    "district": p.district,
                    "country": "CN",
                }
            ],
        },
        "patient",
    )
    enc_url = add(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            "subject": _ref(patient_url),
            "period": {"start": _dt(start), "end": _dt(end)},
            "serviceProvider": {"display": "合作医院"},
        },
        "enc",
    )
    for i, d in enumerate(first.diagnoses[:3]):
        add(
            {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [{"system": ICD10_SYSTEM, "code": d.code, "display": d.name}],
                    "text": d.name,
                },
                "subject": _ref(patient_url),
                "encounter": _ref(enc_url),
                "recordedDate": start.date().isoformat(),
            },
            f"cond{i}",
        )
    panel = next((lp for v in patient.visits for lp in v.labs), None)
    if panel is not None:
        for i, res in enumerate(panel.results[:4]):
            obs: dict[str, object] = {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": LOCAL_LAB_SYSTEM, "code": res.abbr}], "text": res.abbr},
                "subject": _ref(patient_url),
                "encounter": _ref(enc_url),
                "effectiveDateTime": _dt(start + timedelta(minutes=30)),
            }
            try:
                obs["valueQuantity"] = {"value": float(res.value)}
            except ValueError:
                obs["valueString"] = res.value
            add(obs, f"obs{i}")
    order = next((o for v in patient.visits for o in v.orders), None)
    if order is not None:
        add(
            {
                "resourceType": "MedicationRequest",
                "status": "completed",
                "intent": "order",
                "medicationCodeableConcept": {"text": order.name},
                "subject": _ref(patient_url),
                "encounter": _ref(enc_url),
                "authoredOn": _dt(start),
                "dosageInstruction": [{"text": f"{order.dose}{order.unit} {order.route} {order.freq}"}],
            },
            "med",
        )
    op = next((o for v in patient.visits for o in v.operations if o.day < start.date()), None)
    if op is not None:
        add(
            {
                "resourceType": "Procedure",
                "status": "completed",
                "code": {
                    "coding": [
                        {"system": "urn:oid:2.16.156.10011.2.3.2.2", "code": op.code, "display": op.name}
                    ]
                },
                "subject": _ref(patient_url),
                "performedDateTime": _dt(op.start),
            },
            "proc",
        )
    return {
        "resourceType": "Bundle",
        "id": _uuid(seed, pid + "bundle"),
        "type": "collection",
        "timestamp": _dt(end),
        "entry": entries,
    }


class FhirWriter:
    def __init__(self, out: Path, seed: int) -> None:
        self.dir = out / "partner" / "fhir"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self.count = 0

    def add(self, patient: Patient, ident: SystemIdentity, rng: random.Random) -> None:
        bundle = partner_bundle(patient, ident, self.seed, rng)
        self.count += 1
        with open(self.dir / f"{ident.local_id}.json", "w", encoding="utf-8", newline="\n") as f:
            json.dump(bundle, f, ensure_ascii=False, indent=1)
