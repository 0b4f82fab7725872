from __future__ import annotations

from pathlib import Path

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
