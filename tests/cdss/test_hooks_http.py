"""CDS Hooks 2.0 conformance over real HTTP: discovery, calls with and without prefetch, feedback, errors."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from medlake.cdm.lake import Lake

SERVICE = "toy_reoperation"


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def _prefetch(*, pvo: bool, cpb: float, weight: float) -> dict[str, Any]:
    conditions = [
        {
            "resourceType": "Condition",
            "code": {"coding": [{"code": "I28.801"}]},
            "onsetDateTime": "2024-03-01",
        }
    ]
    return {
        "patient": {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "2024-01-01"},
        "procedures": _bundle(
            {
                "resourceType": "Procedure",
                "code": {"coding": [{"code": "35.8201"}]},
                "performedDateTime": "2024-03-03T09:00:00+08:00",
            }
        ),
        "observations": _bundle(
            {
                "resourceType": "Observation",
                "code": {"coding": [{"code": "WT"}]},
                "effectiveDateTime": "2024-03-02T08:00:00",
                "valueQuantity": {"value": weight, "unit": "kg"},
            },
            {
                "resourceType": "Observation",
                "code": {"coding": [{"code": "CPB"}]},
                "effectiveDateTime": "2024-03-03T12:00:00",
                "valueQuantity": {"value": cpb, "unit": "min"},
            },
        ),
        "conditions": _bundle(*conditions) if pvo else _bundle(),
    }


def _call(url: str, body: Any, service: str = SERVICE) -> httpx.Response:
    return httpx.post(f"{url}/cds-services/{service}", json=body, timeout=10)


def _request(patient: str, prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": patient},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def test_discovery_lists_the_published_model(served: Any) -> None:
    r = httpx.get(f"{served.url}/cds-services")
    assert r.status_code == 200
    services = r.json()["services"]
    assert [(s["id"], s["hook"]) for s in services] == [(SERVICE, "patient-view")]
    s = services[0]
    assert s["title"] and s["description"]
    assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert "observations" in s["prefetch"] and "conditions" in s["prefetch"]


def test_call_with_prefetch_answers_a_card(served: Any) -> None:
    high = _call(served.url, _request("unknown-to-the-lake", _prefetch(pvo=True, cpb=190, weight=3.0)))
    low = _call(served.url, _request("unknown-to-the-lake", _prefetch(pvo=False, cpb=60, weight=8.0)))
    assert high.status_code == low.status_code == 200
    (card,) = high.json()["cards"]
    assert set(card) >= {"uuid", "summary", "indicator", "detail", "source"}
    assert len(card["summary"]) <= 140 and card["indicator"] in ("info", "warning", "critical")
    assert card["source"]["url"].endswith(f"/cds-services/{SERVICE}/model-card")
    assert "Main contributing factors" in card["detail"] and "pvo" in card["detail"]
    assert card["overrideReasons"][0]["code"]
    risk_hi = float(card["summary"].split(": ")[1].split("%")[0])
    risk_lo = float(low.json()["cards"][0]["summary"].split(": ")[1].split("%")[0])
    assert risk_hi > risk_lo
    assert "research data lake" not in card["detail"]  # everything came from the prefetch
    mc = httpx.get(card["source"]["url"])
    assert mc.status_code == 200 and "TRIPOD+AI" in mc.text


def test_call_without_prefetch_reads_the_lake(served: Any) -> None:
    person = sorted(served.truth)[0]
    r = _call(served.url, _request(str(person)))
    assert r.status_code == 200, r.text
    card = r.json()["cards"][0]
    assert "Taken from the research data lake" in card["detail"]
    # the same patient found by the HIS number the lake keeps as person_source_value
    r2 = _call(served.url, _request(f"H{person:08d}"))
    assert r2.json()["cards"][0]["summary"] == card["summary"]
    lm = served.engine.model(SERVICE)
    from medlake.models.extract import extract_person

    x, _ = extract_person(Lake(served.data_dir).connect(), lm.spec, person)
    assert f"{lm.predict(x)[0]:.0%}" in card["summary"]


def test_partial_prefetch_is_completed_from_the_lake(served: Any) -> None:
    person = sorted(served.truth)[1]
    pre = {
        "patient": {
            "resourceType": "Patient",
            "id": str(person),
            "gender": "female",
            "birthDate": "2020-01-01",
        }
    }
    r = _call(served.url, _request(str(person), pre))
    assert r.status_code == 200
    assert "weight_kg" in r.json()["cards"][0]["detail"].split("Taken from the research data lake:")[1]


def test_feedback_is_recorded(served: Any) -> None:
    card = _call(served.url, _request("x", _prefetch(pvo=True, cpb=150, weight=3.5))).json()["cards"][0]
    body = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": card["overrideReasons"][1], "userComment": "family declined"},
                "outcomeTimestamp": "2024-03-03T10:00:00Z",
            }
        ]
    }
    r = httpx.post(f"{served.url}/cds-services/{SERVICE}/feedback", json=body)
    assert r.status_code == 200 and r.json() == {"received": 1}
    ok = {
        "feedback": [
            {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2024-03-03T10:01:00Z"}
        ]
    }
    assert httpx.post(f"{served.url}/cds-services/{SERVICE}/feedback", json=ok).status_code == 200
    rows = served.engine.store.feedback(SERVICE)
    mine = [f for f in rows if f["card_uuid"] == card["uuid"]]
    assert [f["outcome"] for f in mine] == ["overridden", "accepted"]
    assert (
        mine[0]["override_code"] == card["overrideReasons"][1]["code"]
        and mine[0]["comment"] == "family declined"
    )
    logged = served.engine.store.card(card["uuid"])
    assert logged is not None and logged["version"] == served.manifest["version"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "body is empty"),
        ("not json", "not valid JSON"),
        ([], "must be a JSON object"),
        ({"hookInstance": "x", "context": {"patientId": "1"}}, "'hook' is required"),
        ({"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "1"}}, "does not answer"),
        ({"hook": "patient-view", "context": {"patientId": "1"}}, "hookInstance"),
        ({"hook": "patient-view", "hookInstance": "x", "context": {}}, "context.patientId"),
        (
            {"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "1"}, "prefetch": [1]},
            "'prefetch' must be",
        ),
        (
            {"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "nobody"}},
            "no data for patient",
        ),
    ],
)
def test_malformed_calls_are_400_with_a_reason(served: Any, body: Any, reason: str) -> None:
    if body is None:
        r = httpx.post(f"{served.url}/cds-services/{SERVICE}", content=b"")
    elif body == "not json":
        r = httpx.post(
            f"{served.url}/cds-services/{SERVICE}",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
    else:
        r = _call(served.url, body)
    assert r.status_code == 400
    assert reason in r.json()["error"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "feedback"),
        ({"feedback": [{"outcome": "accepted"}]}, "card must be"),
        ({"feedback": [{"card": "c", "outcome": "maybe"}]}, "'accepted' or 'overridden'"),
        (
            {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "yesterday"}]},
            "ISO date-time",
        ),
    ],
)
def test_malformed_feedback_is_400(served: Any, body: Any, reason: str) -> None:
    r = httpx.post(f"{served.url}/cds-services/{SERVICE}/feedback", json=body)
    assert r.status_code == 400 and reason in r.json()["error"]


def test_unknown_service_is_404(served: Any) -> None:
    r = _call(served.url, _request("1"), service="no_such_model")
    assert r.status_code == 404 and "no CDS service" in r.json()["error"]
