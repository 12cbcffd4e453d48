"""Shared fixtures: a migrated database (SQLite file or the real Postgres) and an API client on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from backend.db import migrate
from backend.main import create_app
from tests.utils.services import require_postgres
from trainboard.client import Client
from trainboard.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get("TRAINBOARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# What a browser on this machine sends as Host (TestClient's default, "testserver", is refused like any name
# that is not loopback or in TRAINBOARD_ALLOWED_HOSTS).
LOCAL_URL = "http://127.0.0.1:8000"
# Each pytest-xdist worker (gw0, gw1, ...) flushes a Redis database of its own: 15, 14, ...
_XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_TEST_URL = os.environ.get("TRAINBOARD_TEST_REDIS", f"redis://127.0.0.1:6379/{15 - _XDIST_WORKER}")


def require_admin_postgres() -> None:
    """Skip (fail under TRAINBOARD_TEST_STRICT) when nothing listens at TRAINBOARD_TEST_POSTGRES; a server that
    answers but refuses (bad credentials, no such database) raises its own error here."""
    require_postgres(POSTGRES_ADMIN_URL)
    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh Postgres database for this test session, dropped at the end."""
    require_admin_postgres()
    name = f"trainboard_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url: str) -> str:
    migrate(postgres_url)
    return postgres_url


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE run_events, metric_rollups, metric_blocks, metric_series, runs, sweeps, workers"
                " RESTART IDENTITY CASCADE"
            )
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an API on a migrated, empty database: the SQLite file, then the real Postgres."""
    home = tmp_path / "home"
    if request.param == "postgres":
        url = request.getfixturevalue("migrated_postgres")
        _truncate(url)
    else:
        url = f"sqlite:///{home / 'trainboard.sqlite'}"
        migrate(url)
    return Settings(home=home, database_url=url, data_dir=tmp_path / "data")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=LOCAL_URL) as test_client:
        yield test_client


@pytest.fixture
def worker_client(client: TestClient) -> Iterator[Client]:
    """A worker's (or a script's) Client, talking to the test app (a TestClient is an httpx.Client) on its own
    connection."""
    worker = Client(LOCAL_URL, token="")
    worker.http.close()
    worker.http = TestClient(client.app, base_url=LOCAL_URL)
    yield worker
    worker.close()
