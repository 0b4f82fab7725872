"""The cohort web API and builder page, mounted on the real web app (FastAPI TestClient)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from medlake.cdm.lake import Lake
from medlake.settings import Settings
from medlake.store.engine import dispose_engine
from medlake.web import passwords, templating
from medlake.web.app import create_app
from medlake.web.services.demo import create_demo_accounts

PASSWORD = "demo-password-1"
EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "medlake"
    / "cohort"
    / "examples"
    / "triple_positive_breast_cancer.json"
)


@pytest.fixture
def client(tiny_lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from medlake.cohort.web import router
    from medlake.web.features import FEATURE_ROUTERS

    registered = "medlake.cohort.web:router" in FEATURE_ROUTERS  # otherwise mount it here
    monkeypatch.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(
        templating, "FEATURE_TEMPLATE_DIRS", [*templating.FEATURE_TEMPLATE_DIRS, "medlake.cohort:templates"]
    )
    templating.templates.cache_clear()
    settings = Settings(data_dir=tiny_lake.root, env="test")
    create_demo_accounts(settings, password=PASSWORD)
    with TestClient(
        create_app(settings, extra_routers=[] if registered else [router]), base_url="http://testserver"
    ) as c:
        yield c
    templating.templates.cache_clear()
    passwords._dummy_hash.cache_clear()
    dispose_engine(settings)


def login(client: TestClient, user: str) -> str:
    r = client.post("/api/v1/session", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def test_run_describe_and_list_members(client: TestClient) -> None:
    csrf = login(client, "researcher")
    definition = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    r = client.post("/api/v1/cohorts/run", json={"definition": definition}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["persons"] == 2 and [x["persons_remaining"] for x in out["inclusion_rules"]] == [5, 4, 4, 3, 2]
    cid = out["cohort_definition_id"]
    chars = client.get(f"/api/v1/cohorts/{cid}/characteristics").json()
    assert chars["persons"] == 2 and chars["sex"] == [{"sex": "F", "persons": None}]  # 2 < 5: suppressed
    assert client.get(f"/api/v1/cohorts/{cid}/patients").status_code == 403  # researchers lack patient.view
    page = client.get("/cohorts")
    assert page.status_code == 200 and "triple_positive_breast_cancer" in page.text


def test_patient_level_reads_need_patient_view_and_bad_input_is_422(client: TestClient) -> None:
    csrf = login(client, "admin")
    r = client.post("/api/v1/cohorts/run", json={"definition": {"x": 1}}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422
    r = client.post(
        "/api/v1/cohorts/run", json={"definition": json.loads(EXAMPLE.read_text(encoding="utf-8"))}
    )
    assert r.status_code == 403  # no CSRF token
    definition = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    cid = client.post(
        "/api/v1/cohorts/run", json={"definition": definition}, headers={"X-CSRF-Token": csrf}
    ).json()["cohort_definition_id"]
    members = client.get(f"/api/v1/cohorts/{cid}/patients").json()
    assert [p["person_id"] for p in members["patients"]] == [1, 5]
    hits = client.get("/api/v1/search/notes", params={"q": "肺转移"}).json()
    assert hits["total"] == 2
    assert client.get("/api/v1/search/notes", params={"q": "NOT 肺"}).status_code == 422
    assert client.get("/api/v1/cohorts/424242/characteristics").status_code == 404
