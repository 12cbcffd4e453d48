"""A Postgres connection the server dropped (a restart, an administrator) is replaced: found by a ping when it has
sat idle in the pool, or by the one request that meets it within a second of its last use. The same holds for the
ingestion's pool of asyncio connections, where a batch that meets a dropped connection is stored by the statements
instead."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from backend import db
from backend.schemas import Points
from backend.services import leases
from backend.services.metrics import add_points_from_loop
from backend.services.runs import add_runs, new_run
from trainboard.spec import RunSpec

pytestmark = pytest.mark.postgres


def _drop_connection(url: str, pid: int) -> None:
    """End the server process behind a pooled connection, as a server restart would."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        for _ in range(100):  # it ends asynchronously
            with admin.connect() as conn:
                if not conn.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).all():
                    return
            time.sleep(0.01)
    finally:
        admin.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_dropped_idle_connection_is_pinged_and_replaced(
    migrated_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.3)
    engine = db.make_engine(migrated_postgres)
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first, "the pool gives the same connection back"
        _drop_connection(migrated_postgres, first)
        time.sleep(0.4)
        assert _backend_pid(engine) != first, "a new connection, without an error"
    finally:
        engine.dispose()


def test_connections_dropped_within_a_second_of_their_use_fail_one_request_only(migrated_postgres: str) -> None:
    engine = db.make_engine(migrated_postgres)
    try:
        with engine.connect() as a, engine.connect() as b, engine.connect() as c:  # three pooled connections
            dropped = {int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()) for conn in (a, b, c)}
        for pid in dropped:
            _drop_connection(migrated_postgres, pid)
        failures = 0
        pids = []
        for _ in range(4):
            try:
                pids.append(_backend_pid(engine))
            except OperationalError:
                failures += 1
        assert failures <= 1, "the first failure discards every pooled connection"
        assert len(pids) >= 3 and not dropped & set(pids)
    finally:
        engine.dispose()


async def _pool_backend_pid(pool: AsyncConnectionPool[Any]) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        assert row is not None
        return int(row[0])


def test_the_ingestion_pool_pings_a_dropped_idle_connection_and_replaces_it(
    migrated_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.3)

    async def pids() -> tuple[int, int, int]:
        pool = db.make_ingest_pool(migrated_postgres, 10)
        assert pool is not None
        await pool.open(wait=True)  # its one connection (min_size), which serves these requests one at a time
        async with pool:
            first = await _pool_backend_pid(pool)
            again = await _pool_backend_pid(pool)
            await asyncio.to_thread(_drop_connection, migrated_postgres, first)
            await asyncio.sleep(0.4)
            return first, again, await _pool_backend_pid(pool)

    first, again, after = asyncio.run(pids())
    assert again == first, "the pool gives the same connection back"
    assert after != first, "a new connection, without an error"


def test_a_batch_whose_connection_was_just_dropped_is_stored_once_by_the_statements(
    migrated_postgres: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Within a second of its last use a connection is not pinged: the call fails on it, and the batch goes to the
    statements on the session's connection, stored once; the pool replaces the connection."""
    engine = db.make_engine(migrated_postgres)
    factory = db.make_sessionmaker(engine)
    with factory() as session:
        run = new_run(spec=RunSpec(external=True))
        lease = leases.issue(run)
        (run,) = add_runs(session, [run])
    batches = [{"loss": ([step], [1.0 / (step + 1)])} for step in range(3)]

    async def wake(run_id: int) -> None:
        pass

    async def post(pool: AsyncConnectionPool[Any], points: Points) -> int:
        with factory() as session:
            stored = await add_points_from_loop(pool, session, run_id=run.id, points=points, lease=lease, wake=wake)
            assert stored is not None
            return stored.accepted

    async def post_all() -> tuple[list[int], int, int]:
        pool = db.make_ingest_pool(migrated_postgres, 10)
        assert pool is not None
        await pool.open(wait=True)  # its one connection (min_size), which serves these requests one at a time
        async with pool:
            accepted = [await post(pool, batches[0])]
            dropped = await _pool_backend_pid(pool)
            await asyncio.to_thread(_drop_connection, migrated_postgres, dropped)
            accepted += [await post(pool, batches[1]), await post(pool, batches[2])]
            return accepted, dropped, await _pool_backend_pid(pool)

    try:
        accepted, dropped, after = asyncio.run(post_all())
        assert accepted == [1, 1, 1]
        assert after != dropped
        assert "the ingestion's connection failed, storing the batch by statements" in caplog.text
        with engine.connect() as conn:
            steps = conn.execute(
                text(
                    "SELECT unnest(b.steps) FROM metric_blocks b JOIN metric_series s ON s.id = b.series_id "
                    "WHERE s.run_id = :run ORDER BY 1"
                ),
                {"run": run.id},
            ).scalars()
            assert list(steps) == [0, 1, 2]
    finally:
        engine.dispose()
