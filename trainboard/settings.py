"""One Settings object, read from the environment, shared by the API, the worker and the CLI."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINBOARD_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".trainboard")
    data_dir: Path | None = None
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "TRAINBOARD_DATABASE_URL")
    )
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "TRAINBOARD_REDIS_URL"))
    token: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_url: str | None = None
    stale_after_s: float = Field(default=20.0, gt=0, description="a running run silent this long is re-queued")
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_artifact_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _refuse_open_bind_without_token(self) -> Settings:
        if not is_loopback(self.host) and self.token is None:
            raise ValueError(
                f"refusing to listen on {self.host} without a token: set TRAINBOARD_TOKEN "
                "(every /api request must then carry 'Authorization: Bearer <token>')"
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database: DATABASE_URL, or the embedded SQLite file under TRAINBOARD_HOME."""
        if self.database_url:
            url = self.database_url
            # Plain postgres URLs mean psycopg 3, the driver we ship.
            for prefix in ("postgresql://", "postgres://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{self.home / 'trainboard.sqlite'}"

    @property
    def broker_url(self) -> str:
        """Redis when REDIS_URL is set; otherwise kombu's SQLAlchemy transport on a SQLite file (no server)."""
        return self.redis_url or f"sqla+sqlite:///{self.home / 'broker.sqlite'}"

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir if self.data_dir is not None else self.home / "data"

    @property
    def resolved_api_url(self) -> str:
        return (self.api_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @cached_property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def spool_dir(self) -> Path:
        """Where a worker keeps the metric points the API could not take yet: one folder per run."""
        return self.home / "spool"

    def ensure_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
