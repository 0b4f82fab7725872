"""A published LightGBM toy model served over real HTTP by uvicorn on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine

from medlake.cdm.lake import Lake
from medlake.cdss.app import create_app
from medlake.cdss.service import CdsEngine
from medlake.cdss.store import CdsStore
from medlake.models import Registry, StaticDirectory, train
from medlake.models.toylake import build_toy_lake, toy_spec
from medlake.settings import Settings


@dataclass
class Served:
    url: str
    data_dir: Path
    engine: CdsEngine
    manifest: dict[str, Any]
    truth: dict[int, float]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    d = tmp_path_factory.mktemp("cds") / "data"
    truth = build_toy_lake(d, n=300, seed=5)
    reg = Registry(d)
    spec = toy_spec().with_algorithm("lightgbm", {"num_leaves": [4], "num_boost_round": [80]})
    m = train(Lake(d).connect(), spec, reg, trainer="alice")
    reg.transition(m["task"], m["version"], "validated", by="alice")
    m = reg.transition(
        m["task"], m["version"], "published", by="sam", users=StaticDirectory({"sam": {"steward"}})
    )
    store = CdsStore(create_engine(f"sqlite:///{d / 'cds-test.db'}"))
    engine = CdsEngine(d, store, refresh_seconds=0.2)
    app = create_app(Settings(data_dir=d), engine=engine)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/cds-services", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield Served(url, d, engine, m, truth)
    server.should_exit = True
    thread.join(timeout=10)
