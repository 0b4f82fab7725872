"""Closing the loop: cards and feedback from real HTTP calls show up in the model's monitoring."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from medlake.cdm.lake import Lake
from medlake.models.monitor import monitor

SERVICE = "toy_reoperation"


def test_monitoring_counts_use_feedback_and_drift(served: Any) -> None:
    before = monitor(served.engine.registry, served.engine.store, None, SERVICE, served.manifest["version"])
    people = sorted(served.truth)[10:20]
    cards = []
    for pid in people:
        body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": {"patientId": str(pid)}}
        r = httpx.post(f"{served.url}/cds-services/{SERVICE}", json=body)
        assert r.status_code == 200
        cards.append(r.json()["cards"][0])
    fb = [{"card": c["uuid"], "outcome": "accepted"} for c in cards[:6]]
    reason = cards[0]["overrideReasons"][0]
    fb += [
        {"card": c["uuid"], "outcome": "overridden", "overrideReason": {"reason": reason}} for c in cards[6:]
    ]
    assert (
        httpx.post(f"{served.url}/cds-services/{SERVICE}/feedback", json={"feedback": fb}).status_code == 200
    )

    report = monitor(
        served.engine.registry,
        served.engine.store,
        Lake(served.data_dir).connect(),
        SERVICE,
        served.manifest["version"],
    )
    assert report["use"]["cards"] == before["use"]["cards"] + 10
    assert report["use"]["patients"] >= 10
    new_accepted = report["feedback"]["accepted"] - before["feedback"]["accepted"]
    new_overridden = report["feedback"]["overridden"] - before["feedback"]["overridden"]
    assert (new_accepted, new_overridden) == (6, 4)
    assert report["feedback"]["override_reasons"][reason["display"]] >= 4
    assert 0 < report["feedback"]["acceptance_rate"] < 1
    assert set(report["drift_psi"]) == {"age_days", "male", "weight_kg", "cpb_min", "pvo"}
    # published just now: no patient has been indexed since, so there is nothing to score yet
    assert report["performance"] is None
