"""Alembic owns the schema: from nothing to head and back down, on SQLite and on the real Postgres."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from backend.db import alembic_config, downgrade, migrate
from backend.models import ROLLUP_WIDTHS, Base, Run
from backend.services import leases
from backend.services.metrics import add_points, read_series
from tests.conftest import POSTGRES_ADMIN_URL, require_admin_postgres
from tests.utils.series import expected_rollups

Schema = dict[str, dict[str, set[str]]]  # table -> {"columns": names, "indexes": names, "foreign keys": ...}
FUNCTIONS = "(functions)"  # Postgres's functions, as a table whose columns are their signatures


def _schema(url: str) -> Schema:
    """Every table the database holds (but Alembic's own), with its columns and indexes."""
    engine = create_engine(url)
    try:
        found = inspect(engine)
        schema = {
            table: {
                "columns": {column["name"] for column in found.get_columns(table)},
                "indexes": {str(index["name"]) for index in found.get_indexes(table)},
                "foreign keys": {
                    f"{','.join(key['constrained_columns'])} -> {key['referred_table']}"
                    for key in found.get_foreign_keys(table)
                },
            }
            for table in [*found.get_table_names(), *found.get_view_names()]  # Postgres's metric_points is a view
            if table != "alembic_version"
        }
        if engine.dialect.name == "postgresql":  # the ingestion's functions (revision 0015), by name
            with engine.connect() as conn:
                functions = set(
                    conn.execute(
                        text(
                            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                            " WHERE n.nspname = 'public'"
                        )
                    ).scalars()
                )
            if functions:
                schema[FUNCTIONS] = {"columns": functions, "indexes": set(), "foreign keys": set()}
        return schema
    finally:
        engine.dispose()


def _differences(found: Schema, expected: Schema) -> list[str]:
    """What ``found`` has that ``expected`` lacks (+) and the reverse (-), as table, table.column or table[index]."""
    out = [
        f"{sign}{table}" for sign, a, b in (("+", found, expected), ("-", expected, found)) for table in a.keys() - b
    ]
    for table in found.keys() & expected.keys():
        for part, fmt in (("columns", "{}.{}"), ("indexes", "{}[{}]"), ("foreign keys", "{} ({})")):
            out += ["+" + fmt.format(table, n) for n in found[table][part] - expected[table][part]]
            out += ["-" + fmt.format(table, n) for n in expected[table][part] - found[table][part]]
    return sorted(out)


def _model_columns(url: str) -> dict[str, set[str]]:
    """Every model's columns; on SQLite without Postgres's packed points (``MetricBlock`` and the view's column)."""
    columns = {table.name: {column.name for column in table.columns} for table in Base.metadata.sorted_tables}
    if url.startswith("sqlite"):
        del columns["metric_blocks"]
        columns["metric_points"].discard("block_first")
    return columns


def _revisions(url: str) -> list[str]:
    """Every migration, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def _round_trip(url: str) -> None:
    """Up one migration at a time, then down one at a time: each downgrade leaves exactly the schema its revision
    had on the way up (every table, column, index and foreign key), down to an empty database; then up again."""
    revisions = _revisions(url)
    assert len(revisions) >= 5
    on_the_way_up: dict[str, Schema] = {}
    for revision in revisions:
        migrate(url, revision)
        on_the_way_up[revision] = _schema(url)
    head = on_the_way_up[revisions[-1]]
    tables = {table: parts["columns"] for table, parts in head.items() if table != FUNCTIONS}
    assert tables == _model_columns(url), "head is the models"
    for revision in reversed(revisions[:-1]):
        downgrade(url, revision)
        assert _differences(_schema(url), on_the_way_up[revision]) == [], f"downgrading to {revision}"
    downgrade(url, "base")
    assert _differences(_schema(url), {}) == [], "the first migration's downgrade leaves an empty database"
    migrate(url)
    assert _schema(url) == head


def test_sqlite_up_and_down(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'fresh.sqlite'}")


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty database on the real Postgres, dropped afterwards."""
    require_admin_postgres()
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
    schema = _schema(fresh_postgres)
    assert schema[FUNCTIONS]["columns"] == {"trainboard_add_points", "trainboard_fold_rollups"}
    assert schema["metric_rollups"]["foreign keys"] == set(), "revision 0015 drops it (its check cost 6 % of a batch)"
    assert schema["metric_series"]["foreign keys"] == {"run_id -> runs"}


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
            _POINTS_BY_KEY.insert(),
            [
                {"run_id": run, "key": key, "step": step, "value": value}
                for (run, key), values in series.items()
                for step, value in values.items()
            ],
        )
    engine.dispose()
    return series


# metric_points as revisions 0001-0012 have it (0013 refers to a series instead of the run and the key)
_POINTS_BY_KEY = sa.table("metric_points", sa.column("run_id"), sa.column("key"), sa.column("step"), sa.column("value"))


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


def _configs_backfilled(url: str) -> None:
    """0007 gives every existing run its spec as its config (a built-in run's config is its spec)."""
    migrate(url, "0006")
    specs = {1: {"dataset": "mnist", "optimizer": {"lr": 0.1}}, 2: {"dataset": "dogs-vs-cats", "external": True}}
    engine = create_engine(url)
    try:
        with engine.begin() as conn:  # the model's own defaults, but not its config: the table has none yet
            conn.execute(Run.__table__.insert(), [{"id": i, "name": f"run {i}", "spec": s} for i, s in specs.items()])
        migrate(url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, config FROM runs ORDER BY id")).all()
        assert {run_id: json.loads(c) if isinstance(c, str) else c for run_id, c in rows} == specs
    finally:
        engine.dispose()


def test_sqlite_configs_backfilled(tmp_path: Path) -> None:
    _configs_backfilled(f"sqlite:///{tmp_path / 'old.sqlite'}")


@pytest.mark.postgres
def test_postgres_configs_backfilled(fresh_postgres: str) -> None:
    _configs_backfilled(fresh_postgres)


def _series_migrated(url: str) -> None:
    """0013 moves every point to its series and keeps the old events' copies (the stream sends them as they are);
    points stored afterwards are announced by spans, and the downgrade gives those events their copies back."""
    migrate(url, "0012")
    series = _store_points(url)
    old_event = {"loss": {"step": [0, 1], "value": [series[(1, "loss")][0], series[(1, "loss")][1]]}}
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO run_events (run_id, seq, kind, data, created_at) VALUES (1, 1, 'metrics', :d, :t)"),
                {"d": json.dumps(old_event), "t": "2026-11-30 12:00:00+00:00"},
            )
            conn.execute(text("UPDATE runs SET event_seq = 1 WHERE id = 1"))
        migrate(url)
        with Session(engine) as session:
            for (run, key), values in series.items():
                got = read_series(session, run_id=run, key=key)
                assert got == {"step": sorted(values), "value": [values[s] for s in sorted(values)]}, (run, key)
            new = {"loss": ([9000, 9001, 9002], [0.0, 0.5, 1.0]), "fresh": ([5], [1.5])}
            run_one = session.get(Run, 1)
            assert run_one is not None
            run_one.status, lease = "running", leases.issue(run_one)
            session.commit()
            assert add_points(session, run_id=1, points=new, lease=lease).accepted == 4
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT seq, data FROM run_events WHERE run_id = 1 ORDER BY seq")).all()
        stored = [json.loads(d) if isinstance(d, str) else d for _, d in rows]
        assert stored[0] == old_event, "the old event keeps its copy"
        assert stored[1] == {"fresh": {"first": 5, "last": 5, "n": 1}, "loss": {"first": 9000, "last": 9002, "n": 3}}
        downgrade(url, "0012")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT seq, data FROM run_events WHERE run_id = 1 ORDER BY seq")).all()
            count = conn.scalar(text("SELECT count(*) FROM metric_points"))
        stored = [json.loads(d) if isinstance(d, str) else d for _, d in rows]
        assert stored[1] == {
            "fresh": {"step": [5], "value": [1.5]},
            "loss": {"step": [9000, 9001, 9002], "value": [0.0, 0.5, 1.0]},
        }, "the downgrade gives the event its copy back"
        assert count == sum(len(v) for v in series.values()) + 4
    finally:
        engine.dispose()


def test_sqlite_series_migrated(tmp_path: Path) -> None:
    _series_migrated(f"sqlite:///{tmp_path / 'old.sqlite'}")


@pytest.mark.postgres
def test_postgres_series_migrated(fresh_postgres: str) -> None:
    _series_migrated(fresh_postgres)


@pytest.mark.postgres
def test_postgres_compresses_blocks_with_lz4_when_the_server_has_it(fresh_postgres: str) -> None:
    migrate(fresh_postgres)
    engine = create_engine(fresh_postgres)
    try:
        with engine.connect() as conn:
            choices = conn.scalar(text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"))
            methods = conn.execute(
                text(
                    "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = 'metric_blocks'::regclass "
                    "AND attname IN ('steps', 'vals')"
                )
            ).all()
    finally:
        engine.dispose()
    expected = "l" if choices and "lz4" in choices else ""
    assert dict(methods) == {"steps": expected, "vals": expected}
