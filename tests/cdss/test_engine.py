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
