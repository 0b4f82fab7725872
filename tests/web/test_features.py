"""Feature routers plug in through FEATURE_ROUTERS ("module:attribute") and obey the same rules."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from medlake.errors import ConfigError
from medlake.settings import Settings
from medlake.web import app as web_app
from medlake.web.features import FEATURE_ROUTERS
from tests.web.conftest import login


def test_feature_routers_are_loaded_and_guarded(
    web_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_app, "FEATURE_ROUTERS", [*FEATURE_ROUTERS, "tests.web.feature_example:router"])
    app = web_app.create_app(web_settings, migrate=False)
    assert "/api/v1/example-feature" in app.openapi()["paths"]
    with TestClient(app) as c:
        assert c.get("/api/v1/example-feature").status_code == 401
        login(c, "clinician")
        assert c.get("/api/v1/example-feature").status_code == 403
        login(c, "researcher")
        assert c.get("/api/v1/example-feature").json() == {"user": "researcher"}


def test_a_bad_feature_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        web_app.load_router("tests.web.feature_example:not_a_router")
    with pytest.raises(ModuleNotFoundError):
        web_app.load_router("tests.web.no_such_module:router")
