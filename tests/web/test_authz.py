"""Default-deny authorisation: every route declares permissions, refusals are 403 and audited."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from medlake.errors import ConfigError
from medlake.settings import Settings
from medlake.store import AuditEntry, session_factory
from medlake.web import Principal, require
from medlake.web.app import api_routes, create_app
from medlake.web.permissions import has_permission, parse_roles, role_table
from tests.web.conftest import login

# routes FastAPI itself adds (schema and docs): public by design, outside the dependency system
FRAMEWORK_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _audit(settings: Settings, action: str) -> list[AuditEntry]:
    with session_factory(settings)() as s:
        return list(s.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars())


def test_every_route_declares_known_permissions(app: FastAPI) -> None:
    routes = list(api_routes(app.routes))
    assert len(routes) > 20
    known = set(role_table().permissions)
    for route in routes:
        perms = route.medlake_permissions  # type: ignore[attr-defined]
        assert perms, f"{route.path} declares no permission"
        assert perms <= known, route.path
    others = {getattr(r, "path", "") for r in app.routes if not hasattr(r, "original_router")}
    assert others - FRAMEWORK_PATHS <= {"/static"}


def test_a_route_without_declaration_is_refused_and_audited(web_settings: Settings) -> None:
    rogue = APIRouter()

    @rogue.get("/api/v1/rogue")
    def rogue_route() -> dict[str, str]:
        return {"secret": "yes"}

    app = create_app(web_settings, extra_routers=[rogue], migrate=False)
    with TestClient(app) as c:
        login(c, "admin")
        r = c.get("/api/v1/rogue")
    assert r.status_code == 403
    assert "secret" not in r.text
    assert any(e.object == "GET /api/v1/rogue" for e in _audit(web_settings, "access.denied"))


def test_anonymous_api_call_is_401_and_page_redirects_to_login(client: TestClient) -> None:
    assert client.get("/api/v1/dashboard").status_code == 401
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/dashboard")


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [
        ("researcher", "/audit", 403),
        ("researcher", "/api/v1/audit", 403),
        ("researcher", "/patients?q=1", 403),
        ("researcher", "/api/v1/patients/1001/timeline", 403),
        ("researcher", "/sources", 403),
        ("clinician", "/audit", 403),
        ("clinician", "/patients/1001", 200),
        ("steward", "/audit", 200),
        ("steward", "/patients/1001", 403),
        ("admin", "/users", 200),
        ("steward", "/users", 403),
    ],
)
def test_role_matrix(client: TestClient, user: str, path: str, status: int) -> None:
    login(client, user)
    assert client.get(path).status_code == status


def test_refusal_is_audited_with_actor(client: TestClient, web_settings: Settings) -> None:
    login(client, "researcher")
    r = client.get("/audit")
    assert r.status_code == 403
    assert "403" in r.text
    denied = [
        e
        for e in _audit(web_settings, "access.denied")
        if e.actor == "researcher" and e.object == "GET /audit"
    ]
    assert denied and '"missing":["audit.view"]' in denied[-1].details


def _project_id(client: TestClient, code: str) -> int:
    for p in client.get("/api/v1/projects").json():
        if p["code"] == code:
            return int(p["id"])
    raise AssertionError(code)


def test_researcher_sees_own_project_but_not_another(client: TestClient, web_settings: Settings) -> None:
    login(client, "admin")
    own, other = _project_id(client, "demo"), _project_id(client, "demo-other")
    login(client, "researcher")
    assert [p["code"] for p in client.get("/api/v1/projects").json()] == ["demo"]
    assert client.get(f"/api/v1/projects/{own}").status_code == 200
    assert client.get(f"/projects/{own}").status_code == 200
    assert client.get(f"/api/v1/projects/{other}").status_code == 403
    r = client.get(f"/projects/{other}")
    assert r.status_code == 403
    denied = [e for e in _audit(web_settings, "access.denied") if e.object == f"GET /projects/{other}"]
    assert denied and denied[-1].actor == "researcher" and "not a project member" in denied[-1].details


def _export_router() -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/test-export")
    def export(principal: Annotated[Principal, require("export")]) -> dict[str, str]:
        return {"by": principal.username}

    return router


def test_clinician_cannot_export(web_settings: Settings) -> None:
    assert not has_permission("clinician", "export")
    assert has_permission("researcher", "export")
    app = create_app(web_settings, extra_routers=[_export_router()], migrate=False)
    with TestClient(app) as c:
        csrf = login(c, "clinician")
        assert c.post("/api/v1/test-export", headers={"X-CSRF-Token": csrf}).status_code == 403
        csrf = login(c, "researcher")
        r = c.post("/api/v1/test-export", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json() == {"by": "researcher"}
    denied = [e for e in _audit(web_settings, "access.denied") if e.object == "POST /api/v1/test-export"]
    assert [e.actor for e in denied][-1:] == ["clinician"]


def test_writes_need_the_csrf_token(client: TestClient, web_settings: Settings) -> None:
    csrf = login(client, "admin")
    body = {"code": "csrf-test", "title": "CSRF"}
    assert client.post("/api/v1/projects", json=body).status_code == 403
    assert client.post("/api/v1/projects", json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    r = client.post("/api/v1/projects", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    assert any('"reason":"csrf"' in e.details for e in _audit(web_settings, "access.denied"))
    # HTML forms carry the token as a field
    assert client.post("/projects", data={"code": "form-x", "title": "x"}).status_code == 403
    r = client.post(
        "/projects", data={"code": "form-x", "title": "x", "csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303


def test_role_file_is_parsed_strictly() -> None:
    with pytest.raises(ConfigError):
        parse_roles('{"permissions": {"a": "x"}, "roles": {"admin": ["a", "b"]}}')
    with pytest.raises(ConfigError):
        parse_roles('{"permissions": {}, "roles": {}, "extra": 1}')
    with pytest.raises(ConfigError):
        require("no.such.permission")
    assert set(role_table().roles) == {"admin", "steward", "researcher", "clinician"}
