"""The FHIR R4 connector: bundles, bulk NDJSON, validation quarantine, reconciliation, real data."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from medlake.cdm.ids import stable_id
from medlake.cdm.lake import Lake
from medlake.ingest.base import FileStats, person_id_for
from medlake.ingest.fhir import FhirConnector
from medlake.ingest.fhir_read import sniff
from medlake.ingest.fhir_values import patient_local_id
from tests.ingest.connector_helpers import rows, run_connector

PID = "p-001"
MRN = "Q000123"
SUBJECT = {"reference": f"urn:uuid:{PID}"}
ENC = {"reference": "urn:uuid:e-001"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode()


def resources() -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Patient",
            "id": PID,
            "identifier": [
                {"system": "urn:oid:partner-hospital", "value": "Q000123"},
                {"system": "urn:oid:2.16.156.10011.1.1", "value": "110101198001150011"},
            ],
            "name": [{"family": "王", "given": ["小明"]}],
            "gender": "male",
            "birthDate": "1980-01-15",
            "telecom": [{"system": "phone", "value": "13900001111"}],
            "address": [{"text": "上海市浦东新区某路2号"}],
            "deceasedDateTime": "2024-06-01T10:00:00+08:00",
        },
        {
            "resourceType": "Practitioner",
            "id": "dr-1",
            "name": [{"family": "Li", "given": ["Hua"]}],
            "gender": "female",
        },
        {"resourceType": "Organization", "id": "org-1", "name": "合作医院心内科"},
        {
            "resourceType": "Encounter",
            "id": "e-001",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": SUBJECT,
            "participant": [{"individual": {"reference": "urn:uuid:dr-1"}}],
            "serviceProvider": {"reference": "Organization/org-1"},
            "period": {"start": "2024-03-01T08:00:00+08:00", "end": "2024-03-05T10:00:00+08:00"},
        },
        {
            "resourceType": "Condition",
            "id": "c-1",
            "subject": SUBJECT,
            "encounter": ENC,
            "code": {
                "coding": [
                    {"system": "http://snomed.info/sct", "code": "44054006"},
                    {"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.900", "display": "2型糖尿病"},
                ]
            },
            "onsetDateTime": "2024-03-01",
        },
        {
            "resourceType": "Observation",
            "id": "o-lab",
            "status": "final",
            "category": [{"coding": [{"code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
            "subject": SUBJECT,
            "encounter": ENC,
            "effectiveDateTime": "2024-03-02T07:30:00+08:00",
            "valueQuantity": {
                "value": 7.8,
                "unit": "mmol/L",
                "system": "http://unitsofmeasure.org",
                "code": "mmol/L",
            },
            "referenceRange": [{"low": {"value": 3.9}, "high": {"value": 6.1}}],
            "interpretation": [{"coding": [{"code": "H"}]}],
        },
        {
            "resourceType": "Observation",
            "id": "o-bp",
            "status": "final",
            "category": [{"coding": [{"code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": SUBJECT,
            "effectiveDateTime": "2024-03-02",
            "component": [
                {
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                    "valueQuantity": {"value": 140, "unit": "mm[Hg]"},
                },
                {
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                    "valueQuantity": {"value": 90, "unit": "mmHg"},
                },
            ],
        },
        {
            "resourceType": "Observation",
            "id": "o-smoke",
            "status": "final",
            "category": [{"coding": [{"code": "social-history"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"}]},
            "subject": SUBJECT,
            "effectiveDateTime": "2024-03-01",
            "valueCodeableConcept": {"text": "Former smoker"},
        },
        {
            "resourceType": "Procedure",
            "id": "pr-1",
            "status": "completed",
            "code": {
                "coding": [
                    {"system": "http://snomed.info/sct", "code": "80146002", "display": "Appendectomy"}
                ]
            },
            "subject": SUBJECT,
            "performedPeriod": {"start": "2024-03-03T09:00:00+08:00", "end": "2024-03-03T10:30:00+08:00"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "mr-1",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975"}]
            },
            "subject": SUBJECT,
            "authoredOn": "2024-03-02",
            "dosageInstruction": [{"text": "500 mg bid"}],
        },
        {
            "resourceType": "MedicationAdministration",
            "id": "ma-1",
            "status": "completed",
            "medicationCodeableConcept": {"text": "胰岛素"},
            "subject": SUBJECT,
            "effectiveDateTime": "2024-03-02T12:00:00+08:00",
            "dosage": {"dose": {"value": 4, "unit": "U"}},
        },
        {
            "resourceType": "Immunization",
            "id": "im-1",
            "status": "completed",
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
            "patient": SUBJECT,
            "occurrenceDateTime": "2023-10-01",
            "lotNumber": "LOT9",
        },
        {
            "resourceType": "AllergyIntolerance",
            "id": "al-1",
            "patient": SUBJECT,
            "code": {"text": "青霉素"},
            "criticality": "high",
            "reaction": [{"manifestation": [{"text": "皮疹"}]}],
        },
        {
            "resourceType": "DocumentReference",
            "id": "doc-1",
            "status": "current",
            "type": {"text": "出院小结"},
            "subject": SUBJECT,
            "date": "2024-03-05T10:00:00+08:00",
            "content": [
                {"attachment": {"contentType": "text/plain; charset=utf-8", "data": _b64("患者好转出院。")}}
            ],
            "context": {"encounter": [ENC]},
        },
        {
            "resourceType": "DiagnosticReport",
            "id": "dr-text",
            "status": "final",
            "code": {"text": "胸部CT"},
            "subject": SUBJECT,
            "effectiveDateTime": "2024-03-02",
            "conclusion": "双肺未见异常。",
        },
        {
            "resourceType": "DiagnosticReport",
            "id": "dr-panel",
            "status": "final",
            "code": {"text": "CBC"},
            "subject": SUBJECT,
            "result": [{"reference": "Observation/o-lab"}],
        },
        {
            "resourceType": "ImagingStudy",
            "id": "is-1",
            "status": "available",
            "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.4"}],
            "subject": SUBJECT,
            "started": "2024-03-02T11:00:00+08:00",
            "series": [
                {
                    "uid": "1.2.3.4.1",
                    "modality": {"code": "CT"},
                    "numberOfInstances": 3,
                    "bodySite": {"display": "Chest"},
                },
                {
                    "uid": "1.2.3.4.2",
                    "modality": {"code": "CT"},
                    "instance": [{"uid": "1.2.3.4.2.1", "sopClass": {"code": "1.2"}}],
                },
            ],
        },
        {"resourceType": "Claim", "id": "cl-1"},
        # invalid: a birth date not in FHIR date form → quarantined with the validation message
        {"resourceType": "Patient", "id": "p-bad", "birthDate": "15/01/1980"},
        # invalid: a Condition must have a subject
        {"resourceType": "Condition", "id": "c-orphan", "code": {"text": "x"}},
        # valid but unplaceable: a conditional subject reference cannot be resolved
        {
            "resourceType": "Condition",
            "id": "c-cond",
            "code": {"text": "x"},
            "subject": {"reference": "Patient?identifier=a|b"},
        },
    ]


def bundle(entries: list[dict[str, Any]], btype: str = "transaction") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": btype,
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in entries],
    }


@pytest.fixture
def bundle_file(tmp_path: Path) -> Path:
    p = tmp_path / "partner" / "b1.json"
    p.parent.mkdir()
    p.write_text(json.dumps(bundle(resources()), ensure_ascii=False, indent=2), encoding="utf-8")
    return p


def test_sniff_by_content() -> None:
    assert sniff(b'{"resourceType": "Bundle", "type": "collection"}') == "bundle"
    assert sniff(b'{\n  "resourceType": "Bundle",\n  "entry": []\n}') == "bundle"
    assert (
        sniff(b'\xef\xbb\xbf{"resourceType":"Patient","id":"1"}\n{"resourceType":"Patient","id":"2"}\n')
        == "ndjson"
    )
    assert (
        sniff(b'{"transactionTime": "2024", "request": "x", "output": [{"type": "Patient", "url": "u"}]}')
        == "manifest"
    )
    assert sniff(b'{"exportId": "e", "eventId": "kickoff"}\n') == "log"
    assert sniff(b'{"name": "not fhir"}') is None
    assert sniff("登记号,姓名\n".encode()) is None
    assert sniff(b"MSH|^~\\&|") is None


def _reconciles(stats: FileStats) -> None:
    for rtype, counts in stats.by_type.items():
        settled = counts.get("mapped", 0) + counts.get("skipped", 0) + counts.get("quarantined", 0)
        assert settled == counts["read"], rtype
    assert sum(c["read"] for c in stats.by_type.values()) == stats.rows_read


def test_bundle_maps_every_resource_type(bundle_file: Path, data_dir: Path) -> None:
    (ctx,) = run_connector(FhirConnector, bundle_file, data_dir)
    s = ctx.stats
    _reconciles(s)
    assert s.rows_read == 21
    assert s.by_type["Patient"] == {"read": 2, "mapped": 1, "quarantined": 1}
    assert s.by_type["Condition"] == {"read": 3, "mapped": 1, "quarantined": 2}
    assert s.by_type["DiagnosticReport"] == {"read": 2, "mapped": 1, "skipped": 1}
    assert s.skipped["Claim not mapped"] == 1
    quarantine = {q["src_record"]: q["reason"] for q in rows(data_dir, "_quarantine")}
    assert quarantine["Patient/p-bad"].startswith("invalid Patient: birthDate: ")
    assert quarantine["Condition/c-orphan"] == "invalid Condition: subject: Field required"
    assert "no resolvable subject" in quarantine["Condition/c-cond"]

    person = person_id_for("PARTNER", MRN)
    (sp,) = rows(data_dir, "source_person")
    assert (sp["src_system"], sp["src_person_id"], sp["name"], sp["sex"]) == ("PARTNER", MRN, "王小明", "M")
    assert sp["src_record"] == f"Patient/{PID}"
    assert (sp["birth_date"], sp["resident_id"], sp["phone"]) == (
        date(1980, 1, 15),
        "110101198001150011",
        "13900001111",
    )
    assert sp["address"] == "上海市浦东新区某路2号"
    (p,) = rows(data_dir, "person")
    assert (p["person_id"], p["gender_concept_id"], p["year_of_birth"]) == (person, 8507, 1980)

    (d,) = rows(data_dir, "death")
    assert (d["person_id"], d["death_date"], d["src_record"]) == (person, date(2024, 6, 1), f"Patient/{PID}")
    (v,) = rows(data_dir, "visit_occurrence")
    visit = stable_id("visit", "PARTNER|Encounter/e-001")
    assert (v["visit_occurrence_id"], v["person_id"], v["visit_concept_id"]) == (visit, person, 9201)
    assert v["visit_start_datetime"] == datetime(2024, 3, 1, 8, 0)
    assert v["provider_id"] == stable_id("provider", "PARTNER|Practitioner/dr-1")
    assert v["care_site_id"] == stable_id("care_site", "PARTNER|Organization/org-1")
    (c,) = rows(data_dir, "condition_occurrence")
    assert (c["condition_source_value"], c["visit_occurrence_id"]) == ("E11.900", visit)  # ICD-10 preferred
    assert c["condition_source_concept_id"] >= 2_000_000_000

    meas = {m["measurement_source_value"]: m for m in rows(data_dir, "measurement")}
    assert set(meas) == {"2345-7", "8480-6", "8462-4"}
    glu = meas["2345-7"]
    assert (glu["value_as_number"], glu["unit_ucum"], glu["range_low"], glu["range_high"]) == (
        7.8,
        "mmol/L",
        3.9,
        6.1,
    )
    assert (glu["abnormal_flag"], glu["measurement_datetime"]) == ("H", datetime(2024, 3, 2, 7, 30))
    assert meas["8462-4"]["unit_ucum"] == "mm[Hg]" and meas["8462-4"]["unit_source_value"] == "mmHg"
    assert meas["8480-6"]["measurement_event_id"] == stable_id("measurement", "PARTNER|Observation/o-bp")
    assert meas["8480-6"]["src_record"] == "Observation/o-bp#1"

    obs = {o["observation_source_value"]: o for o in rows(data_dir, "observation")}
    assert obs["72166-2"]["value_as_string"] == "Former smoker"
    assert (obs["青霉素"]["value_as_string"], obs["青霉素"]["qualifier_source_value"]) == ("皮疹", "high")
    drugs = {d["drug_source_value"]: d for d in rows(data_dir, "drug_exposure")}
    assert set(drugs) == {"860975", "胰岛素", "140"}
    assert (drugs["860975"]["drug_type_concept_id"], drugs["860975"]["sig"]) == (32838, "500 mg bid")
    assert (drugs["胰岛素"]["quantity"], drugs["胰岛素"]["dose_unit_source_value"]) == (4.0, "U")
    assert drugs["140"]["lot_number"] == "LOT9"
    (proc,) = rows(data_dir, "procedure_occurrence")
    assert (proc["procedure_source_value"], proc["procedure_end_datetime"]) == (
        "80146002",
        datetime(2024, 3, 3, 10, 30),
    )

    notes = {n["src_record"]: n for n in rows(data_dir, "note")}
    assert notes["DocumentReference/doc-1"]["note_text"] == "患者好转出院。"
    assert notes["DocumentReference/doc-1"]["visit_occurrence_id"] == visit
    assert notes["DiagnosticReport/dr-text"]["note_text"] == "双肺未见异常。"
    images = {i["image_series_uid"]: i for i in rows(data_dir, "image_occurrence")}
    assert images["1.2.3.4.1"]["image_occurrence_id"] == stable_id("image", "1.2.3.4.1")
    assert (images["1.2.3.4.1"]["image_study_uid"], images["1.2.3.4.1"]["instance_count"]) == ("1.2.3.4", 3)
    assert images["1.2.3.4.2"]["instance_count"] == 1
    assert [r["provider_name"] for r in rows(data_dir, "provider")] == ["Hua Li"]
    assert [r["care_site_name"] for r in rows(data_dir, "care_site")] == ["合作医院心内科"]
    for table in ("visit_occurrence", "measurement", "drug_exposure", "note", "image_occurrence"):
        assert {r["src_file"] for r in rows(data_dir, table)} == {ctx.src.sha256}
        assert {r["person_id"] for r in rows(data_dir, table)} == {person}


def test_bulk_ndjson_resolves_references_across_files(tmp_path: Path, data_dir: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    res = resources()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in res[:4]:  # Patient, Practitioner, Organization, Encounter
        by_type.setdefault(r["resourceType"], []).append(r)
    cond = dict(res[4], subject={"reference": f"Patient/{PID}"}, encounter={"reference": "Encounter/e-001"})
    by_type["Condition"] = [cond]
    files = []
    for rtype, items in by_type.items():
        f = export / f"{rtype}.000.ndjson"
        f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in items) + "\n", encoding="utf-8")
        files.append(f)
    (export / "manifest.json").write_text(
        json.dumps(
            {
                "transactionTime": "2024-03-06T00:00:00Z",
                "request": "$export",
                "output": [{"type": t, "url": f"{t}.000.ndjson"} for t in by_type],
            }
        )  # fmt: skip
    )
    for f in [*files, export / "manifest.json"]:
        assert FhirConnector.detect(f, f.read_bytes()[:65536])
    # the Condition file comes first: references resolve by id, not by reading order
    contexts = run_connector(FhirConnector, sorted(files, key=lambda p: p.name), data_dir, root=export)
    contexts += run_connector(FhirConnector, export / "manifest.json", data_dir, root=export)
    assert contexts[-1].stats.skipped == {"$export manifest listing 5 output files": 1}
    (c,) = rows(data_dir, "condition_occurrence")
    (p,) = rows(data_dir, "person")
    (v,) = rows(data_dir, "visit_occurrence")
    assert c["person_id"] == p["person_id"] == v["person_id"] == person_id_for("PARTNER", MRN)
    assert c["visit_occurrence_id"] == v["visit_occurrence_id"]


def test_later_export_resolves_patients_from_the_lake(tmp_path: Path, data_dir: Path) -> None:
    patients = tmp_path / "Patient.000.ndjson"
    patients.write_text(json.dumps(resources()[0], ensure_ascii=False) + "\n", encoding="utf-8")
    run_connector(FhirConnector, patients, data_dir)
    later = tmp_path / "Condition.000.ndjson"
    cond = dict(resources()[4], subject={"reference": f"Patient/{PID}"})
    later.write_text(json.dumps(cond, ensure_ascii=False) + "\n", encoding="utf-8")
    run_connector(FhirConnector, later, data_dir)
    (c,) = rows(data_dir, "condition_occurrence")
    assert c["person_id"] == person_id_for("PARTNER", MRN)


@pytest.mark.parametrize(
    ("identifiers", "expected"),
    [
        ([{"system": "urn:oid:partner-hospital", "value": "PH1"}], "PH1"),
        ([{"system": "urn:oid:2.16.156.10011.1.1", "value": "110101198001150011"}], "rid-1"),
        (
            [
                {"system": "https://github.com/synthetichealth/synthea", "value": "s-1"},
                {"type": {"coding": [{"code": "MR"}]}, "system": "http://hospital", "value": "MR-9"},
            ],
            "MR-9",
        ),
        ([{"type": {"coding": [{"code": "SS"}]}, "system": "x", "value": "999-1"}], "rid-1"),
        ([], "rid-1"),
    ],
)
def test_patient_local_id_prefers_the_medical_record_number(
    identifiers: list[dict[str, Any]], expected: str
) -> None:
    assert patient_local_id({"resourceType": "Patient", "id": "rid-1", "identifier": identifiers}) == expected


def test_new_export_file_touches_nothing_else(tmp_path: Path, data_dir: Path) -> None:
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps(bundle(resources()[:5])), encoding="utf-8")
    other = dict(
        resources()[0], id="p-002", identifier=[{"system": "urn:oid:partner-hospital", "value": "Q2"}]
    )
    b.write_text(json.dumps(bundle([other], "collection")), encoding="utf-8")
    run_connector(FhirConnector, a, data_dir)
    part = Lake(data_dir).table_dir("person") / "fhir_a.json.parquet"
    before = (part.stat().st_mtime_ns, pq.read_table(part).to_pylist())
    run_connector(FhirConnector, b, data_dir)
    assert (part.stat().st_mtime_ns, pq.read_table(part).to_pylist()) == before
    assert {r["src_person_id"] for r in rows(data_dir, "source_person")} == {MRN, "Q2"}


def test_shared_practitioners_are_stored_once(tmp_path: Path, data_dir: Path) -> None:
    doctor, org = resources()[1], resources()[2]
    for name in ("x.json", "y.json"):
        (tmp_path / name).write_text(json.dumps(bundle([doctor, org])), encoding="utf-8")
    run_connector(FhirConnector, [tmp_path / "x.json", tmp_path / "y.json"], data_dir)
    renamed = dict(doctor, name=[{"family": "Li", "given": ["Hua", "Mei"]}])
    (tmp_path / "z.json").write_text(json.dumps(bundle([renamed])), encoding="utf-8")
    run_connector(FhirConnector, tmp_path / "z.json", data_dir)  # a later run updates, never duplicates
    assert [r["provider_name"] for r in rows(data_dir, "provider")] == ["Hua Mei Li"]
    assert len(rows(data_dir, "care_site")) == 1


def test_broken_lines_are_quarantined_and_the_rest_lands(tmp_path: Path, data_dir: Path) -> None:
    f = tmp_path / "Patient.000.ndjson"
    good = json.dumps(resources()[0])
    f.write_text(good + "\n{not json\n" + json.dumps({"id": "x"}) + "\n", encoding="utf-8")
    (ctx,) = run_connector(FhirConnector, f, data_dir)
    assert ctx.stats.by_type["unreadable"] == {"read": 2, "quarantined": 2}
    assert len(rows(data_dir, "person")) == 1
    reasons = sorted(q["reason"] for q in rows(data_dir, "_quarantine"))
    assert reasons[0].startswith("invalid JSON") and reasons[1].startswith("not a FHIR resource")


def test_a_non_utf8_file_is_quarantined_whole_and_the_batch_goes_on(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "a-bad.json"
    bad.write_bytes(json.dumps(bundle(resources()[:1]), ensure_ascii=False).encode("gb18030"))
    good = tmp_path / "b-good.json"
    good.write_text(json.dumps(bundle(resources()[:1])), encoding="utf-8")
    bad_ctx, good_ctx = run_connector(FhirConnector, [bad, good], data_dir)
    assert bad_ctx.stats.rows_quarantined == 1 and good_ctx.stats.rows_quarantined == 0
    (q,) = rows(data_dir, "_quarantine")
    assert (q["src_record"], q["source_path"]) == ("<file>", "a-bad.json")
    assert "not UTF-8" in q["reason"]
    assert len(rows(data_dir, "person")) == 1


def _ingest_and_reconcile(files: list[Path], data_dir: Path) -> Counter[str]:
    contexts = run_connector(FhirConnector, files, data_dir, root=files[0].parent)
    read: Counter[str] = Counter()
    for ctx in contexts:
        _reconciles(ctx.stats)
        for rtype, counts in ctx.stats.by_type.items():
            read[rtype] += counts["read"]
    persons = rows(data_dir, "person")
    assert len(persons) == read["Patient"]
    known = {p["person_id"] for p in persons}
    for table in (
        "visit_occurrence",
        "condition_occurrence",
        "drug_exposure",
        "procedure_occurrence",
        "note",
    ):
        assert {r["person_id"] for r in rows(data_dir, table)} <= known, table
    return read


@pytest.mark.shared
def test_real_bulk_export(shared_data: Path, data_dir: Path) -> None:
    files = sorted((shared_data / "fhir" / "bulk_10_patients").glob("*.ndjson"))
    read = _ingest_and_reconcile(files, data_dir)
    assert read["Patient"] == 13 and read["DocumentReference"] == 1215
    notes = rows(data_dir, "note")
    assert len(notes) == 1215 and all(n["note_text"] for n in notes)
    assert len(rows(data_dir, "_quarantine")) == 0


@pytest.mark.shared
def test_real_synthea_bundles(shared_data: Path, data_dir: Path) -> None:
    # a sample of the 98 bundles keeps the suite fast; benchmarks/ingest_fhir.py runs all of them
    files = sorted((shared_data / "fhir" / "synthea_r4").glob("*.json"))[:8]
    read = _ingest_and_reconcile(files, data_dir)
    assert read["Patient"] == 8
    providers = [r["provider_id"] for r in rows(data_dir, "provider")]
    assert providers and len(providers) == len(set(providers)) < read["Practitioner"]
    assert len(rows(data_dir, "measurement")) >= read["Observation"] - len(rows(data_dir, "observation"))
    assert len(rows(data_dir, "_quarantine")) == 0
