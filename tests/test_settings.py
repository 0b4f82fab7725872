from __future__ import annotations

from pathlib import Path

import pytest

from medlake.errors import ConfigError
from medlake.settings import Settings


def test_defaults_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MEDLAKE_DATA_DIR", raising=False)
    monkeypatch.delenv("MEDLAKE_DATABASE_URL", raising=False)
    s = Settings()
    assert s.data_dir == Path("./medlake-data")
    assert s.store_url.startswith("sqlite:///") and s.store_url.endswith("medlake-data/app.db")
    monkeypatch.setenv("MEDLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MEDLAKE_DATABASE_URL", "postgresql+psycopg://medlake:s3cret@db:5432/medlake")
    s = Settings()
    assert s.data_dir == tmp_path
    masked = s.masked()
    assert "s3cret" not in str(masked) and masked["database_url"].endswith("@db:5432/medlake")
    assert masked["secret_key"] == "********"


def test_production_refuses_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDLAKE_ENV", "production")
    monkeypatch.delenv("MEDLAKE_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="default secret"):
        Settings()
    monkeypatch.setenv("MEDLAKE_SECRET_KEY", "a-long-random-production-secret")
    assert Settings().env == "production"
