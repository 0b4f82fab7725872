"""Web pages of the export feature: builder, my requests, the steward's queue with a preview of exactly
what leaves, approval, build and a download by the requester only."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from medlake.settings import Settings
from medlake.store import User, session_scope
from medlake.web import create_app, features, templating
from medlake.web.passwords import hash_password
from tests.export.conftest import spec_dict

PASSWORD = "correct-horse-battery"


@pytest.fixture
def client(store: Settings) -> Iterator[TestClient]:
    with session_scope(store) as s:
        s.execute(update(User).values(password_hash=hash_password(PASSWORD)))
    added = "medlake.export:templates" not in features.FEATURE_TEMPLATE_DIRS
    if added:
        features.FEATURE_TEMPLATE_DIRS.append("medlake.export:templates")
    templating.templates.cache_clear()
    from medlake.export.web import router

    extra = [] if "medlake.export.web:router" in features.FEATURE_ROUTERS else [router]
    app = create_app(store, extra_routers=extra)
    with TestClient(app, base_url="http://testserver") as c:
        yield c
    if added:
        features.FEATURE_TEMPLATE_DIRS.remove("medlake.export:templates")
    templating.templates.cache_clear()


def login(client: TestClient, username: str) -> str:
    client.cookies.clear()
    r = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    token: str = r.json()["csrf_token"]
    return token


def test_request_review_build_download(client: TestClient) -> None:
    csrf = login(client, "alice")
    r = client.post(
        "/datasets", data={"csrf_token": csrf, "spec_json": json.dumps(spec_dict(), ensure_ascii=False)}
    )
    assert r.status_code in (200, 303) and "p1" in client.get("/datasets").text
    r = client.post(
        "/datasets/p1/dm/request",
        data={"csrf_token": csrf, "purpose": "HbA1c study", "accept_dua": "yes", "formats": "parquet,csv"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    rid = r.headers["location"].rsplit("/", 1)[1]
    page = client.get(f"/exports/{rid}").text
    assert "submitted" in page and 'id="approve"' not in page
    r = client.post(f"/exports/{rid}/approve", data={"csrf_token": csrf})
    assert r.status_code == 403  # a researcher is no steward

    csrf = login(client, "sam")
    queue = client.get("/exports").text
    assert f'href="/exports/{rid}"' in queue
    detail = client.get(f"/exports/{rid}").text
    assert 'id="preview-patients"' in detail and "pseudonymise" in detail and 'id="approve"' in detail
    assert "H0000" not in detail  # no registry number leaves, not even in the preview
    r = client.post(
        f"/exports/{rid}/approve", data={"csrf_token": csrf, "comment": "ok"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert (
        client.post(f"/exports/{rid}/build", data={"csrf_token": csrf}, follow_redirects=False).status_code
        == 303
    )
    assert client.get(f"/exports/{rid}/download").status_code == 403
    assert [e["state"] for e in client.get("/api/v1/exports").json()] == ["built"]

    login(client, "alice")
    r = client.get(f"/exports/{rid}/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()


def test_bad_spec_shows_the_error(client: TestClient) -> None:
    csrf = login(client, "alice")
    r = client.post("/datasets", data={"csrf_token": csrf, "spec_json": '{"name": "x"}'})
    assert r.status_code == 422 and 'id="error"' in r.text
    csrf = login(client, "bob")
    r = client.post("/datasets", data={"csrf_token": csrf, "spec_json": json.dumps(spec_dict())})
    assert r.status_code == 403 and "not a member" in r.text
