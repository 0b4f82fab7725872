"""The one typed settings object. Built by the entry point and passed down, never a global.

Every field reads from ``MEDLAKE_<FIELD>`` (or a ``.env`` file). ``Settings.masked()`` gives the
effective configuration with secrets hidden, for ``medlake config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from medlake.errors import ConfigError

DEV_SECRET = "medlake-development-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDLAKE_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./medlake-data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the application store; SQLite in the data dir if unset"
    )
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    workers: int = Field(default=0, description="worker processes for parallel work; 0 = all cores")
    log_level: str = "INFO"
    language: Literal["zh", "en"] = "zh"
    export_expiry_days: int = Field(
        default=30, ge=1, description="days an approved export package stays downloadable"
    )

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ConfigError(
                "the default secret key cannot be used in production",
                hint="Set MEDLAKE_SECRET_KEY to a long random value.",
            )
        return self

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'app.db').resolve()}"

    def with_data_dir(self, data_dir: Path | None) -> Settings:
        return self if data_dir is None else self.model_copy(update={"data_dir": data_dir})

    def masked(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = "********"
            elif name == "database_url" and value and "@" in str(value):
                scheme, rest = str(value).split("://", 1)
                out[name] = f"{scheme}://********@{rest.split('@', 1)[1]}"
            else:
                out[name] = str(value)
        out["store_url"] = self.store_url if "@" not in self.store_url else out.get("database_url", "")
        return out
