"""Alembic owns the schema: from nothing to head and back down, on SQLite and on the real Postgres."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from backend.db import downgrade, migrate
from backend.models import ROLLUP_WIDTHS, MetricPoint, Run
from tests.conftest import POSTGRES_ADMIN_URL, _postgres_reachable
from tests.utils.series import expected_rollups

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


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty database on the real Postgres, dropped afterwards."""
    if not _postgres_reachable():
        pytest.skip("PostgreSQL not reachable (.ci/run starts it)")
    name = f"trainboard_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_postgres_up_and_down(fresh_postgres: str) -> None:
    _round_trip(fresh_postgres)


Series = dict[tuple[int, str], dict[int, float | None]]  # (run, key) -> {step: value}


def _store_points(url: str) -> Series:
    """Series stored before the rollups: ties, gaps, NULLs (whole blocks of both widths, runs, scattered ones)."""
    rng = random.Random(2)
    series: Series = {(run, key): {} for run in (1, 2) for key in ("loss", "acc")}
    for (run, key), values in series.items():
        for step in range(0, 3500 + 300 * run):
            if not 1500 <= step < 1700 or key == "acc":  # a gap in one series
                values[step] = round(rng.gauss(0, 1), 1)  # ties
        for step in [*range(1024, 1152), *range(2100, 2110), *range(3, 3500, 41)]:
            if step in values:
                values[step] = None  # whole blocks of NULLs, a run of them, scattered ones
        if key == "acc":
            for step in range(2048, 3072):
                values[step] = None  # a whole 1,024-step block of NULLs
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(Run.__table__.insert(), [{"id": run, "name": f"run {run}", "spec": {}} for run in (1, 2)])
        conn.execute(
            MetricPoint.__table__.insert(),
            [
                {"run_id": run, "key": key, "step": step, "value": value}
                for (run, key), values in series.items()
                for step, value in values.items()
            ],
        )
    engine.dispose()
    return series


def _rollups(url: str, width: int | None) -> dict[tuple[int, str], dict[int, tuple]]:
    engine = create_engine(url)
    where = f"WHERE width = {width}" if width is not None else ""
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT run_id, key, bucket, n, vmin, step_min, vmax, step_max FROM metric_rollups {where}")
        )
        found: dict[tuple[int, str], dict[int, tuple]] = {}
        for run, key, bucket, n, *extremes in rows:
            found.setdefault((run, key), {})[bucket] = (n, tuple(extremes))
    engine.dispose()
    return found


def _rollups_backfilled(url: str) -> None:
    """0003 backfills the 1,024-step level without steps; 0004 keeps those rows as that level, fills in their steps
    and computes the 64-step level, exactly as ingestion keeps them; down to 0003 and up again, the same."""
    migrate(url, "0002")
    series = _store_points(url)
    migrate(url, "0003")
    assert all(row[1][1] is None for rows in _rollups(url, None).values() for row in rows.values()), "no steps"
    for _ in range(2):
        migrate(url)
        for width in ROLLUP_WIDTHS:
            assert _rollups(url, width) == {s: expected_rollups(values, width) for s, values in series.items()}, width
        downgrade(url, "0003")
        assert _rollups(url, None) == {s: expected_rollups(values, 1024) for s, values in series.items()}


def test_sqlite_rollups_backfilled(tmp_path: Path) -> None:
    _rollups_backfilled(f"sqlite:///{tmp_path / 'old.sqlite'}")


@pytest.mark.postgres
def test_postgres_rollups_backfilled(fresh_postgres: str) -> None:
    _rollups_backfilled(fresh_postgres)
