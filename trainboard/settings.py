"""One Settings object, read from the environment, shared by the API, the worker and the CLI."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
MIN_TOKEN_LENGTH = 16
MAKE_A_TOKEN = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def env_name(field: str) -> str:
    """The environment variable that sets ``field`` of ``Settings`` (e.g. ``TRAINBOARD_PORT``, ``DATABASE_URL``)."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"TRAINBOARD_{field.upper()}"


class Settings(BaseSettings):
    # hide_input_in_errors: a refused token must not be echoed into a log or a terminal.
    model_config = SettingsConfigDict(env_prefix="TRAINBOARD_", extra="ignore", hide_input_in_errors=True)

    home: Path = Field(default_factory=lambda: Path.home() / ".trainboard")
    data_dir: Path | None = None
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "TRAINBOARD_DATABASE_URL")
    )
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "TRAINBOARD_REDIS_URL"))
    token: SecretStr | None = Field(default=None, description="what this process presents as its bearer token")
    tokens_file: Path | None = Field(default=None, description="named tokens with roles the API accepts")
    allowed_hosts: str = Field(
        default="", max_length=4000, description="comma-separated host names the API answers to, beyond loopback"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_url: str | None = None
    stale_after_s: float = Field(default=20.0, gt=0, description="a running run silent this long is re-queued")
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_artifact_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    max_run_gb: float = Field(
        default=16.0, gt=0, description="the largest memory a run spec may ask for (parameters, optimizer, activations)"
    )
    external_timeout_s: float = Field(
        default=180.0, gt=0, description="an external run whose script is silent this long ends failed"
    )
    code_dir: Path | None = Field(
        default=None, description="a worker's --code DIR: it takes command runs and runs them there (set by the CLI)"
    )
    cancel_grace_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="a cancelled command run's process group gets SIGKILL this long after SIGTERM",
    )
    ingest_connections: int = Field(
        default=10,
        ge=0,
        le=1000,
        description="on Postgres, the API's own connections that store metrics batches without a thread (0: none)",
    )
    stream_poll_s: float = Field(
        default=5.0, gt=0, description="live streams re-read the database this often even when nothing wakes them"
    )
    system_metrics_every_s: float = Field(
        default=10.0, gt=0, description="a worker samples its machine's system/ metrics this often while it trains"
    )

    @field_validator("token", mode="before")
    @classmethod
    def _blank_token_is_no_token(cls, value: object) -> object:
        """``TRAINBOARD_TOKEN=`` (as an .env file ships it) or spaces mean "no token", never "the empty token"."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if len(value) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"TRAINBOARD_TOKEN is {len(value)} characters; a token needs at least {MIN_TOKEN_LENGTH}. "
                    f"Make one with: {MAKE_A_TOKEN}"
                )
        return value

    @field_validator("tokens_file", mode="before")
    @classmethod
    def _blank_path_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _refuse_open_bind_without_token(self) -> Settings:
        if not is_loopback(self.host) and self.token is None and self.tokens_file is None:
            raise ValueError(
                f"refusing to listen on {self.host} without a token: set TRAINBOARD_TOKEN or TRAINBOARD_TOKENS_FILE "
                f"(every /api request must then carry 'Authorization: Bearer <token>'); make a token with: "
                f"{MAKE_A_TOKEN}"
            )
        return self

    @property
    def allowed_host_names(self) -> frozenset[str]:
        """TRAINBOARD_ALLOWED_HOSTS as lower-case names ("*" allows any Host header)."""
        return frozenset(name.strip().lower() for name in self.allowed_hosts.split(",") if name.strip())

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
