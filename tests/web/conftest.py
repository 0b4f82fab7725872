"""Web fixtures: a tiny lake, a store with demo accounts, a TestClient and a login helper."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medlake.settings import Settings
from medlake.store.engine import dispose_engine
from medlake.web import passwords
from medlake.web.app import create_app
from medlake.web.services.demo import create_demo_accounts
from tests.web.tiny_lake import build_tiny_lake

PASSWORD = "demo-password-1"


@pytest.fixture(scope="session", autouse=True)
def cheap_argon2() -> Iterator[None]:
    """Argon2id with minimal cost in tests (the default's 64 MiB per hash is slow on a shared box)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        passwords._dummy_hash.cache_clear()
        yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def web_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    data_dir = tmp_path_factory.mktemp("web") / "medlake-data"
    data_dir.mkdir()
    build_tiny_lake(data_dir)
    settings = Settings(data_dir=data_dir, env="test")
    create_demo_accounts(settings, password=PASSWORD)
    yield settings
    dispose_engine(settings)


@pytest.fixture(scope="session")
def app(web_settings: Settings) -> FastAPI:
    return create_app(web_settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the API; returns the session's CSRF token (the cookie stays in the client)."""
    r = client.post("/api/v1/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["csrf_token"]
    return token
