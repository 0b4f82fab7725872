"""The monitoring page of a published model: use, acceptance, override reasons, drift; retraining."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from medlake.models.toylake import TOY_TASK, build_toy_lake
from medlake.settings import Settings

PASSWORD = "demo-password-1"
BASE = "/models/toy_reoperation/v1"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from medlake.store.engine import dispose_engine
    from medlake.web import passwords
    from medlake.web.app import create_app
    from medlake.web.services.demo import create_demo_accounts

    mp = pytest.MonkeyPatch()
    mp.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    passwords._dummy_hash.cache_clear()
    data_dir = tmp_path_factory.mktemp("mmon") / "data"
    build_toy_lake(data_dir, n=200, seed=4)
    settings = Settings(data_dir=data_dir, env="test")
    create_demo_accounts(settings, password=PASSWORD)
    with TestClient(create_app(settings), base_url="http://testserver") as c:
        yield c
    mp.undo()
    passwords._dummy_hash.cache_clear()
    dispose_engine(settings)


def _login(client: TestClient, username: str) -> str:
    client.cookies.clear()
    r = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def _publish(client: TestClient) -> None:
    csrf = _login(client, "researcher")
    r = client.post("/models/new", data={"csrf_token": csrf, "task_json": json.dumps(TOY_TASK)})
    assert r.status_code == 200 and r.url.path == BASE
    assert f'href="{BASE}/monitoring"' in r.text  # the results page links to the monitoring page
    client.post(f"{BASE}/stage", data={"csrf_token": csrf, "stage": "validated"})
    csrf = _login(client, "steward")
    r = client.post(f"{BASE}/stage", data={"csrf_token": csrf, "stage": "published"})
    assert r.status_code == 200 and 'id="stage">published' in r.text


def _card(client: TestClient, csrf: str, patient: str) -> str:
    call = {"hook": "patient-view", "hookInstance": "t", "context": {"patientId": patient}}
    r = client.post("/cds-services/toy_reoperation", json=call, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    return str(r.json()["cards"][0]["uuid"])


def test_monitoring_page_after_feedback(client: TestClient) -> None:
    _publish(client)
    page = client.get(f"{BASE}/monitoring").text
    assert 'id="use-cards">0<' in page and 'id="acceptance-rate">—<' in page
    assert "No overrides yet" in page or "暂无否决" in page
    assert f'href="{BASE}/monitoring"' in client.get("/models").text  # the registry links it too

    csrf = _login(client, "clinician")
    accepted, overridden = _card(client, csrf, "1001"), _card(client, csrf, "1002")
    third = _card(client, csrf, "1003")
    reason = {"system": "https://medlake.org/cds/override-reason", "code": "disagree-risk"}
    feedback = [
        {"card": accepted, "outcome": "accepted"},
        {
            "card": overridden,
            "outcome": "overridden",
            "overrideReason": {"reason": {**reason, "display": "Judgement differs"}},
        },
        {
            "card": third,
            "outcome": "overridden",
            "overrideReason": {"reason": {**reason, "display": "Judgement differs"}},
        },
    ]
    r = client.post(
        "/cds-services/toy_reoperation/feedback", json={"feedback": feedback}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200 and r.json()["received"] == 3

    seen = client.get(f"{BASE}/monitoring").text  # clinicians see how the model is used ...
    assert 'id="fb-overridden">2<' in seen and 'id="retrain"' not in seen  # ... but cannot retrain
    _login(client, "researcher")
    r = client.get(f"{BASE}/monitoring")
    assert r.status_code == 200
    page = r.text
    report = client.get(f"{BASE}/monitor").json()
    assert report["feedback"]["acceptance_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert 'id="use-cards">3<' in page and 'id="fb-accepted">1<' in page and 'id="fb-overridden">2<' in page
    assert 'id="acceptance-rate">33%<' in page
    reasons = re.findall(r'<tr class="reason"><td>([^<]*)</td><td>(\d+)</td>', page)
    assert reasons == [("Judgement differs", "2")]
    rows = re.findall(r'<tr data-feature="([^"]+)" class="(psi-\w+)"><td>[^<]*</td><td>([^<]*)</td>', page)
    assert {name for name, _, _ in rows} == set(report["drift_psi"])
    for name, css, shown in rows:
        value = report["drift_psi"][name]
        assert css == ("psi-warn" if value is not None and value > 0.2 else "psi-ok")
        assert shown == ("—" if value is None else f"{value:.3f}")
    perf = report["performance"]
    if perf is None:
        assert "No outcomes observed since publication" in page or "暂无发布后观察到的结局" in page
    assert 'id="retrain"' in page


def test_retrain_makes_a_new_draft_and_clinicians_cannot(client: TestClient) -> None:
    csrf = _login(client, "clinician")
    assert client.post(f"{BASE}/retrain", data={"csrf_token": csrf}).status_code == 403
    csrf = _login(client, "researcher")
    assert client.get("/models/toy_reoperation/v9/monitoring").status_code == 404
    r = client.post(f"{BASE}/retrain", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/models/toy_reoperation/v2"
    page = client.get("/models/toy_reoperation/v2").text
    assert 'id="stage">draft' in page


def test_performance_since_a_date_and_bad_dates(client: TestClient) -> None:
    _login(client, "researcher")
    assert client.get(f"{BASE}/monitoring", params={"since": "not-a-date"}).status_code == 400
    report = client.get(f"{BASE}/monitor", params={"since": "1900-01-01"}).json()
    perf = report["performance"]
    assert perf is not None and perf["n"] > 0 and 0.5 < perf["auroc"] <= 1.0
    page = client.get(f"{BASE}/monitoring", params={"since": "1900-01-01"}).text
    assert f'id="perf-auroc">{perf["auroc"]:.3f}<' in page
    assert 'id="since">1900-01-01' in page


def test_simulator_feedback_form(client: TestClient) -> None:
    csrf = _login(client, "clinician")
    page = client.get("/cds/simulator", params={"service": "toy_reoperation", "patient": "H00001000"}).text
    card = re.search(r'name="card" value="([0-9a-f-]{36})"', page)
    assert card is not None and 'id="feedback-form"' in page and 'value="disagree-risk"' in page
    form = {"csrf_token": csrf, "service": "toy_reoperation", "card": card.group(1)}
    before = client.get(f"{BASE}/monitor").json()["feedback"]
    r = client.post(
        "/cds/simulator/feedback",
        data={**form, "outcome": "overridden", "reason": "not-applicable"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "feedback=overridden" in r.headers["location"]
    after = client.get(f"{BASE}/monitor").json()["feedback"]
    assert after["overridden"] == before["overridden"] + 1
    assert after["override_reasons"]["Model does not apply to this patient"] == 1
    assert client.post("/cds/simulator/feedback", data={**form, "outcome": "maybe"}).status_code == 400
    bad_card = {**form, "card": "00000000-0000-0000-0000-000000000000", "outcome": "accepted"}
    assert client.post("/cds/simulator/feedback", data=bad_card).status_code == 400
