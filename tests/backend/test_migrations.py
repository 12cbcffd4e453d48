"""Alembic owns the schema: from nothing to head and back down, on SQLite and on the real Postgres."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from backend.db import downgrade, migrate
from tests.conftest import POSTGRES_ADMIN_URL, _postgres_reachable

TABLES = {"runs", "sweeps", "metric_points", "run_events"}


def _round_trip(url: str) -> None:
    migrate(url)
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    downgrade(url, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_sqlite_up_and_down(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'fresh.sqlite'}")


@pytest.mark.postgres
def test_postgres_up_and_down() -> None:
    if not _postgres_reachable():
        pytest.skip("PostgreSQL not reachable (.ci/run starts it)")
    name = f"trainboard_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _round_trip(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
