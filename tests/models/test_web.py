"""The model pages in the web app: editor → train → results → validate → steward publishes → simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from medlake.models.toylake import TOY_TASK, build_toy_lake
from medlake.settings import Settings

PASSWORD = "demo-password-1"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from medlake.models.web import router
    from medlake.store.engine import dispose_engine
    from medlake.web import templating
    from medlake.web.app import create_app
    from medlake.web.services.demo import create_demo_accounts

    data_dir = tmp_path_factory.mktemp("mweb") / "data"
    build_toy_lake(data_dir, n=200, seed=4)
    settings = Settings(data_dir=data_dir, env="test")
    create_demo_accounts(settings, password=PASSWORD)
    from medlake.web.features import FEATURE_ROUTERS

    mp = pytest.MonkeyPatch()
    if "medlake.models:templates" not in templating.FEATURE_TEMPLATE_DIRS:  # until registered in web.features
        dirs = [*templating.FEATURE_TEMPLATE_DIRS, "medlake.models:templates"]
        mp.setattr(templating, "FEATURE_TEMPLATE_DIRS", dirs)
    templating.templates.cache_clear()
    extra = [] if "medlake.models.web:router" in FEATURE_ROUTERS else [router]
    with TestClient(create_app(settings, extra_routers=extra), base_url="http://testserver") as c:
        yield c
    mp.undo()
    templating.templates.cache_clear()
    dispose_engine(settings)


def _login(client: TestClient, username: str) -> str:
    client.cookies.clear()
    r = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def test_train_review_publish_and_simulate(client: TestClient) -> None:
    csrf = _login(client, "researcher")
    assert "tapvc_reoperation" in client.get("/models/new").text
    bad = client.post("/models/new", data={"csrf_token": csrf, "task_json": '{"name": 1}'})
    assert bad.status_code == 422 and "invalid model task" in bad.text
    r = client.post(
        "/models/new",
        data={"csrf_token": csrf, "task_json": json.dumps(TOY_TASK), "algorithm": "lightgbm"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/models/toy_reoperation/v1"
    page = client.get("/models/toy_reoperation/v1").text
    assert "chart-roc" in page and "TRIPOD+AI" in page and "lightgbm" in page
    registry = client.get("/models").text
    assert "toy_reoperation" in registry and 'href="/models"' in registry  # in the navigation bar too
    r = client.post(
        "/models/toy_reoperation/v1/stage",
        data={"csrf_token": csrf, "stage": "validated"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    refused = client.post("/models/toy_reoperation/v1/stage", data={"csrf_token": csrf, "stage": "published"})
    assert refused.status_code == 403

    csrf = _login(client, "steward")
    r = client.post(
        "/models/toy_reoperation/v1/stage",
        data={"csrf_token": csrf, "stage": "published"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get("/models/toy_reoperation/v1/monitor").json()["stage"] == "published"
    assert client.get("/cds/simulator").status_code == 403  # stewards do not use decision support

    csrf = _login(client, "clinician")
    page = client.get("/cds/simulator", params={"service": "toy_reoperation", "patient": "H00001000"}).text
    assert 'id="cds-card"' in page and "risk" in page
    services = client.get("/cds-services").json()["services"]
    assert services[0]["id"] == "toy_reoperation"
    call = {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": "1001"}}
    r = client.post("/cds-services/toy_reoperation", json=call, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["cards"][0]["indicator"] in ("info", "warning", "critical")
    assert (
        client.post("/cds-services/toy_reoperation", json={}, headers={"X-CSRF-Token": csrf}).status_code
        == 400
    )
    assert "TRIPOD+AI" in client.get("/cds-services/toy_reoperation/model-card").text
