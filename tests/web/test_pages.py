"""Pages and API over the tiny lake: dashboard, sources, patient search and 360 timeline, audit, i18n."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from medlake.cdm import TABLES
from medlake.settings import Settings
from medlake.store import AuditEntry, session_factory
from medlake.web.i18n import catalogues
from medlake.web.services import patients
from medlake.web.services.dashboard import dashboard
from medlake.web.storage.lake_reader import LakeReader
from tests.web.conftest import login
from tests.web.tiny_lake import PERSONS


def _last(settings: Settings, action: str) -> AuditEntry:
    with session_factory(settings)() as s:
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq.desc()).limit(1)
        ).scalar_one()
    return entry


def test_dashboard_aggregates(client: TestClient) -> None:
    login(client, "researcher")
    data = client.get("/api/v1/dashboard").json()
    assert data["counts"] == {"patients": 3, "visits": 3, "notes": 1, "images": 1, "labs": 3}
    assert data["diagnoses"][0] == {"code": "E11.900", "name": "2型糖尿病", "n": 2, "persons": 2}
    assert data["departments"][0] == {"name": "心内科", "n": 2}
    assert {"sex": "M", "band": 60, "n": 1} in data["pyramid"]
    assert {"month": "2024-03", "kind": "inpatient", "n": 1} in data["monthly"]
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "数据总览" in page.text and 'id="count-patients">3<' in page.text
    assert "/static/vendor/plotly.min.js" in page.text and "chart-pyramid" in page.text


def test_dashboard_cache_follows_the_lake_version(web_settings: Settings, tmp_path: Path) -> None:
    from tests.web.tiny_lake import build_tiny_lake

    d = build_tiny_lake(tmp_path / "lake")
    reader = LakeReader(d)
    first = dashboard(reader)
    assert dashboard(reader) is first  # cached
    from medlake.cdm import Lake

    with Lake(d).transaction() as tx:
        tx.write("person", "extra", [{"person_id": 2001, "year_of_birth": 1990, "gender_concept_id": 8507}])
    second = dashboard(reader)
    assert second is not first and second["counts"]["patients"] == 4
    reader.close()


def test_patient_search_is_identified_and_audited(client: TestClient, web_settings: Settings) -> None:
    login(client, "clinician")
    hits = client.get("/api/v1/patients", params={"q": "张三"}).json()
    assert hits == [
        {
            "person_id": 1001,
            "name": "张三",
            "sex": "1",
            "birth_date": "1960-03-01",
            "source_ids": "HIS:H001, LIS:L77",
        }
    ]
    assert [h["person_id"] for h in client.get("/api/v1/patients", params={"q": "H002"}).json()] == [1002]
    assert [h["person_id"] for h in client.get("/api/v1/patients", params={"q": "1003"}).json()] == [1003]
    assert client.get("/api/v1/patients", params={"q": "'; DROP TABLE person; --"}).json() == []
    entry = _last(web_settings, "patient.search")
    assert entry.actor == "clinician" and json.loads(entry.details)["q"].startswith("'; DROP")
    page = client.get("/patients", params={"q": "李"})
    assert page.status_code == 200 and 'href="/patients/1002"' in page.text


def test_timeline_in_time_order_with_sources_and_audited(client: TestClient, web_settings: Settings) -> None:
    login(client, "clinician")
    data = client.get("/api/v1/patients/1001/timeline").json()
    kinds = [e["kind"] for e in data["events"]]
    assert set(kinds) == {"visit", "condition", "measurement", "drug", "procedure", "note", "image"}
    times = [e["ts"] for e in data["events"]]
    assert times == sorted(times)
    assert {e["src_system"] for e in data["events"]} == {"HIS", "LIS", "EMR", "PACS"}
    assert {(i["src_system"], i["src_person_id"]) for i in data["identities"]} == {
        ("HIS", "H001"),
        ("LIS", "L77"),
    }
    entry = _last(web_settings, "patient.view")
    assert entry.actor == "clinician" and entry.object == "person:1001"
    page = client.get("/patients/1001")
    assert page.status_code == 200
    assert page.text.count('class="event ') == len(kinds)
    assert 'data-lab="GLU"' in page.text and ">PACS<" in page.text
    assert client.get("/patients/999999").status_code == 404


def test_sources_page(client: TestClient) -> None:
    login(client, "steward")
    page = client.get("/sources")
    assert page.status_code == 200
    assert "run-1" in page.text and "his/patients.csv" in page.text and "bad birth date" in page.text
    if "mpi_review" in TABLES:
        assert "pair-1" in page.text and "birth date differs" in page.text
    else:
        assert "尚无主索引审核表" in page.text
    run = client.get("/sources/runs/run-1")
    assert run.status_code == 200 and "rows_written" in run.text
    assert client.get("/sources/runs/..%2F..%2Fetc").status_code == 404
    assert client.get("/api/v1/sources/runs").json()[0]["run_id"] == "run-1"


def test_audit_page_filters_and_verifies(client: TestClient) -> None:
    login(client, "clinician")
    client.get("/patients/1002")
    login(client, "steward")
    page = client.get("/audit", params={"actor": "clinician", "action": "patient.view", "verify": "true"})
    assert page.status_code == 200
    assert "person:1002" in page.text and "哈希链完整" in page.text
    api = client.get("/api/v1/audit", params={"actor": "clinician", "action": "patient."}).json()
    assert api["total"] >= 1 and all(e["actor"] == "clinician" for e in api["entries"])
    assert client.get("/api/v1/audit/verify").json()["ok"] is True


def test_language_switch(client: TestClient) -> None:
    login(client, "admin")
    assert "Dashboard" in client.get("/dashboard", params={"lang": "en"}).text
    assert "Dashboard" in client.get("/dashboard").text  # remembered in the cookie
    client.cookies.delete("medlake_lang")
    assert "数据总览" in client.get("/dashboard").text
    assert "Dashboard" in client.get("/dashboard", headers={"Accept-Language": "en-US,en;q=0.9"}).text


def test_catalogues_have_the_same_keys() -> None:
    cats = catalogues()
    assert set(cats["zh"]) == set(cats["en"]) and len(cats["zh"]) > 50
    assert all(v.strip() for cat in cats.values() for v in cat.values())


def test_plotly_is_served_from_the_installed_package(client: TestClient) -> None:
    r = client.get("/static/vendor/plotly.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert len(r.content) > 1_000_000 and b"plotly" in r.content[:2000].lower()


def test_admin_creates_users_and_projects_through_forms(client: TestClient) -> None:
    csrf = login(client, "admin")
    r = client.post(
        "/users",
        data={"username": "newdoc", "role": "clinician", "password": "new-password-1", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "newdoc" in client.get("/users").text
    r = client.post(
        "/projects",
        data={"code": "formproj", "title": "Form project", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    pid = r.headers["location"].rsplit("/", 1)[1]
    r = client.post(
        f"/projects/{pid}/members", data={"username": "newdoc", "csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "newdoc" in client.get(f"/projects/{pid}").text
    bad = client.post(
        "/users", data={"username": "x y", "role": "admin", "password": "pw-long-1", "csrf_token": csrf}
    )
    assert bad.status_code == 422


def test_timeline_index_gives_the_same_answer_as_the_lake(tmp_path: Path) -> None:
    from tests.web.tiny_lake import build_tiny_lake

    reader = LakeReader(build_tiny_lake(tmp_path / "lake"))
    direct = {pid: patients.timeline(reader, pid) for pid in PERSONS}
    assert patients.warm_indexes(reader, wait=True)
    assert {p.name.split("-")[0] for p in reader.cache_dir.glob("*.duckdb")} == {
        "person",
        "identity",
        "timeline",
    }
    indexed = {pid: patients.timeline(reader, pid) for pid in PERSONS}
    assert indexed == direct
    assert len(indexed[1001]["events"]) == 11
    reader.close()


def test_lab_trends_need_two_values_and_sex_codes() -> None:
    from datetime import datetime as dt

    events = [
        {"kind": "measurement", "code": "GLU", "label": "葡萄糖", "value": 7.0, "ts": dt(2024, 1, 1)},
        {"kind": "measurement", "code": "GLU", "label": "葡萄糖", "value": 6.0, "ts": dt(2024, 2, 1)},
        {"kind": "measurement", "code": "K", "label": None, "value": 4.1, "ts": dt(2024, 2, 1)},
        {"kind": "visit", "code": "V1", "label": None, "value": None, "ts": dt(2024, 2, 1)},
    ]
    assert patients.lab_series(events) == {
        "GLU 葡萄糖": [("2024-01-01T00:00:00", 7.0), ("2024-02-01T00:00:00", 6.0)]
    }
    assert [patients.sex_code(v) for v in ("1", "2", "M", "f", "9", None)] == ["M", "F", "M", "F", "U", "U"]
