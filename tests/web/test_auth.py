"""Login through the form and the API, cookie flags, lockout after 5 failures, logout."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from medlake.errors import AuthenticationFailed
from medlake.settings import Settings
from medlake.store import AuditEntry, session_factory, session_scope, utcnow
from medlake.web.services import accounts
from tests.web.conftest import PASSWORD, login


def _login_token(client: TestClient) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    m = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert m
    return m.group(1)


def test_form_login_sets_a_safe_cookie_and_redirects(client: TestClient) -> None:
    token = _login_token(client)
    r = client.post(
        "/login",
        data={"username": "clinician", "password": PASSWORD, "login_token": token, "next": "/patients"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/patients"
    cookie = r.headers["set-cookie"]
    assert "medlake_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in the test
    assert client.get("/patients").status_code == 200


def test_cookie_is_secure_over_https(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as c:
        r = c.post("/api/v1/session", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200
        assert "Secure" in r.headers["set-cookie"]


def test_login_form_needs_its_signed_token(client: TestClient) -> None:
    r = client.post("/login", data={"username": "admin", "password": PASSWORD, "login_token": "forged"})
    assert r.status_code == 400
    r = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "next": "//evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 400


def test_open_redirect_is_refused(client: TestClient) -> None:
    token = _login_token(client)
    r = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "login_token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"


def test_wrong_password_is_401_and_audited(client: TestClient, web_settings: Settings) -> None:
    token = _login_token(client)
    r = client.post("/login", data={"username": "steward", "password": "wrong-one", "login_token": token})
    assert r.status_code == 401 and "medlake_session" not in r.headers.get("set-cookie", "")
    with session_factory(web_settings)() as s:
        failures = list(
            s.execute(
                select(AuditEntry).where(AuditEntry.action == "login.failure", AuditEntry.actor == "steward")
            ).scalars()
        )
    assert failures


def test_lockout_after_five_failures_for_fifteen_minutes(web_settings: Settings, client: TestClient) -> None:
    with session_scope(web_settings) as s:
        accounts.create_user(s, "locky", "clinician", "right-password")
    for _ in range(5):
        r = client.post("/api/v1/session", json={"username": "locky", "password": "nope-nope"})
        assert r.status_code == 401
    # the right password no longer works
    r = client.post("/api/v1/session", json={"username": "locky", "password": "right-password"})
    assert r.status_code == 401 and "locked" in r.json()["message"]
    # ... until 15 minutes have passed
    with session_scope(web_settings) as s:
        later = utcnow() + timedelta(minutes=15, seconds=1)
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate(s, "locky", "right-password", now=utcnow() + timedelta(minutes=14))
    with session_scope(web_settings) as s:
        user = accounts.authenticate(s, "locky", "right-password", now=later)
        assert user.failed_logins == 0 and user.locked_until is None
    with session_factory(web_settings)() as s:
        actions = [
            e.action
            for e in s.execute(
                select(AuditEntry).where(AuditEntry.actor == "locky").order_by(AuditEntry.seq)
            ).scalars()
        ]
    assert actions == ["login.failure"] * 5 + ["login.locked", "login.locked", "login.success"]


def test_logout_ends_the_session(client: TestClient) -> None:
    csrf = login(client, "admin")
    assert client.get("/api/v1/me").json()["role"] == "admin"
    saved = dict(client.cookies)
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    client.cookies.update(saved)  # a stolen copy of the old cookie is useless too
    assert client.get("/api/v1/me").status_code == 401


def test_form_logout(client: TestClient) -> None:
    csrf = login(client, "steward")
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/api/v1/me").status_code == 401
