from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from medlake.cdm.lake import Lake
from medlake.cdss.service import CdsEngine
from medlake.cdss.store import CdsStore
from medlake.models import Registry, StaticDirectory, train
from medlake.models.toylake import build_toy_lake, toy_spec


def test_a_tampered_model_is_dropped_and_the_others_still_serve(tmp_path: Path) -> None:
    d = tmp_path / "d"
    build_toy_lake(d, n=120, seed=9)
    reg = Registry(d)
    con = Lake(d).connect()
    stewards = StaticDirectory({"sam": {"steward"}})
    for name in ("toy_a", "toy_b"):
        m = train(con, toy_spec(name=name), reg, trainer="alice")
        reg.transition(name, m["version"], "validated", by="alice")
        reg.transition(name, m["version"], "published", by="sam", users=stewards)
    (reg.version_dir("toy_b", 1) / "model.json").write_text("{}")
    engine = CdsEngine(d, CdsStore(create_engine(f"sqlite:///{d / 'x.db'}")))
    assert [s["id"] for s in engine.discovery()["services"]] == ["toy_a"]
    card = engine.call(
        "toy_a", {"hook": "patient-view", "hookInstance": "h", "context": {"patientId": "1000"}}
    )
    assert card["cards"][0]["summary"].startswith("Re-operation")


def test_order_select_is_offered_when_the_task_asks_for_it(tmp_path: Path) -> None:
    d = tmp_path / "d"
    build_toy_lake(d, n=120, seed=9)
    reg = Registry(d)
    spec = toy_spec(cds={"hooks": ["patient-view", "order-select"], "title": "Re-op"})
    m = train(Lake(d).connect(), spec, reg, trainer="alice")
    reg.transition(m["task"], 1, "validated", by="alice")
    reg.transition(m["task"], 1, "published", by="sam", users=StaticDirectory({"sam": {"steward"}}))
    engine = CdsEngine(d, CdsStore(create_engine(f"sqlite:///{d / 'x.db'}")))
    services = engine.discovery()["services"]
    assert [(s["id"], s["hook"], s["title"]) for s in services] == [
        ("toy_reoperation", "patient-view", "Re-op"),
        ("toy_reoperation--order-select", "order-select", "Re-op"),
    ]
    body = {"hook": "order-select", "hookInstance": "h", "context": {"patientId": "1001", "selections": []}}
    assert engine.call("toy_reoperation--order-select", body)["cards"][0]["summary"].startswith("Re-op:")


def test_try_call_answers_at_once_or_defers_to_call(tmp_path: Path) -> None:
    d = tmp_path / "d"
    truth = build_toy_lake(d, n=80, seed=9)
    reg = Registry(d)
    m = train(Lake(d).connect(), toy_spec(), reg, trainer="alice")
    reg.transition(m["task"], 1, "validated", by="alice")
    reg.transition(m["task"], 1, "published", by="sam", users=StaticDirectory({"sam": {"steward"}}))
    store = CdsStore(create_engine(f"sqlite:///{d / 'x.db'}"))
    engine = CdsEngine(d, store, refresh_seconds=3600)
    pid = str(min(truth))

    def body(patient: str, prefetch: dict[str, Any] | None = None) -> dict[str, object]:
        b: dict[str, object] = {
            "hook": "patient-view",
            "hookInstance": "h",
            "context": {"patientId": patient},
        }
        return b | ({"prefetch": prefetch} if prefetch is not None else {})

    assert engine.try_call("toy_reoperation", body(pid)) is None  # nothing loaded yet
    engine.warm()
    assert engine.try_call("toy_reoperation", body(pid)) is None  # this patient id was never resolved
    slow = engine.call("toy_reoperation", body(pid))["cards"][0]
    fast = engine.try_call("toy_reoperation", body(pid))
    assert fast is not None
    assert {k: v for k, v in fast["cards"][0].items() if k != "uuid"} == {
        k: v for k, v in slow.items() if k != "uuid"
    }
    # an index event from the prefetch: the other features need a lake query at that date
    procedure = {
        "resourceType": "Procedure",
        "code": {"coding": [{"code": "35.8201"}]},
        "performedDateTime": "2024-03-03T09:00:00",
    }
    partial = {
        "procedures": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": procedure}]}
    }
    assert engine.try_call("toy_reoperation", body(pid, partial)) is None
    assert engine.call("toy_reoperation", body(pid, partial))["cards"]
    lake = engine._slice
    assert lake is not None
    with lake.lock:  # another call is using the lake
        assert engine.try_call("toy_reoperation", body(pid)) is None
    assert store.pending() == 3
