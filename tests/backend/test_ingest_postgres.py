"""Postgres stores a batch in one call of ``trainboard_add_points`` when every point is new, and statement by
statement otherwise: both ways leave the same blocks, rollups and events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from backend import db
from backend.db import make_engine, make_ingest_pool, make_sessionmaker
from backend.schemas import Points
from backend.services import leases
from backend.services.metrics import ingest_postgres
from backend.services.metrics.ingest import add_points, add_points_from_loop, announcement
from backend.services.metrics.pg_arrays import packing
from backend.services.runs import add_runs, new_run
from tests.conftest import _truncate
from trainboard.spec import RunSpec

pytestmark = pytest.mark.postgres

# Batches as a script's or a worker's sender posts them: in step order, then a retry, an interleaved batch (its steps
# fall between stored ones), a batch half stored, NULLs (non-finite values), a batch across windows of 1,024 steps,
# a key that starts late, and a long jump ahead.
BATCHES: list[Points] = [
    {"loss": ([0, 1, 2, 3], [4.0, 3.0, 3.5, 2.0]), "acc": ([0, 2], [0.1, 0.2])},
    {"loss": ([4, 6, 8], [1.0, None, 1.0])},
    {"loss": ([4, 6, 8], [1.0, None, 1.0])},
    {"loss": ([5, 7], [0.5, 9.0])},
    {"loss": ([8, 9, 10], [7.0, -1.0, 2.0]), "acc": ([1, 3], [0.3, None])},
    {"loss": (list(range(11, 2100)), [(step * 37 % 101) / 10 for step in range(11, 2100)]), "lr": ([64], [None])},
    {"loss": ([5000, 5001], [None, None]), "acc": ([10**9], [0.5])},
]


DECLINED = ingest_postgres.Called("overlap", None, None)


@pytest.fixture
def factory(migrated_postgres: str) -> Iterator[sessionmaker[Session]]:
    _truncate(migrated_postgres)
    engine = make_engine(migrated_postgres)
    yield make_sessionmaker(engine)
    engine.dispose()


def _external_run(factory: sessionmaker[Session]) -> tuple[int, str]:
    with factory() as session:
        run = new_run(spec=RunSpec(external=True))
        lease = leases.issue(run)
        (run,) = add_runs(session, [run])
        return run.id, lease


def _stored(factory: sessionmaker[Session], run_id: int) -> dict[str, Any]:
    """Everything the run's points left in the database, without ids."""
    with factory() as session:
        query = {
            "blocks": "SELECT s.key, b.seq, b.first_step, b.last_step, b.steps, b.vals FROM metric_blocks b "
            "JOIN metric_series s ON s.id = b.series_id WHERE s.run_id = :run ORDER BY s.key, b.first_step",
            "rollups": "SELECT key, width, bucket, n, vmin, vmax, step_min, step_max FROM metric_rollups "
            "WHERE run_id = :run ORDER BY key, width, bucket",
            "events": "SELECT seq, data::text FROM run_events WHERE run_id = :run AND kind = 'metrics' ORDER BY seq",
            "event_seq": "SELECT event_seq FROM runs WHERE id = :run",
        }
        return {name: session.execute(text(sql), {"run": run_id}).all() for name, sql in query.items()}


def test_one_call_stores_what_the_statements_store(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    one_call, statements = _external_run(factory), _external_run(factory)
    outcomes: list[str] = []
    real_call = ingest_postgres.add_points_in_one_call

    def recorded(*args: Any, **kwargs: Any) -> ingest_postgres.Called:
        called = real_call(*args, **kwargs)
        outcomes.append(called.outcome)
        return called

    accepted: dict[str, list[int]] = {"one call": [], "statements": []}
    for batch in BATCHES:
        with monkeypatch.context() as patched:
            patched.setattr(ingest_postgres, "add_points_in_one_call", recorded)
            with factory() as session:
                stored = add_points(session, run_id=one_call[0], points=batch, lease=one_call[1])
                accepted["one call"].append(stored.accepted if stored else -1)
        with monkeypatch.context() as patched:  # the call declines, as it does for a retry: the statements store it
            patched.setattr(ingest_postgres, "add_points_in_one_call", lambda *_, **__: DECLINED)
            with factory() as session:
                stored = add_points(session, run_id=statements[0], points=batch, lease=statements[1])
                accepted["statements"].append(stored.accepted if stored else -1)

    assert outcomes == ["stored", "stored", "overlap", "overlap", "overlap", "stored", "stored"]
    assert accepted["one call"] == accepted["statements"] == [6, 3, 0, 2, 4, 2090, 3]
    one, other = _stored(factory, one_call[0]), _stored(factory, statements[0])
    assert one == other
    assert len(one["blocks"]) == 12 and len(one["events"]) == 6


def test_the_call_on_the_event_loop_stores_what_the_statements_store(
    factory: sessionmaker[Session], migrated_postgres: str
) -> None:
    """The API's path: each batch offered to the call on the ingestion's pool, awaited; the rest (a retry, an
    overlap) by the statements in a thread. Same replies, same rows, and the streams woken once per stored batch."""
    on_loop, statements = _external_run(factory), _external_run(factory)
    woken: list[int] = []

    async def wake(run_id: int) -> None:
        woken.append(run_id)

    async def post_all() -> list[int]:
        pool = make_ingest_pool(migrated_postgres, 10)
        assert pool is not None
        async with pool:
            accepted = []
            for batch in BATCHES:
                with factory() as session:
                    stored = await add_points_from_loop(
                        pool, session, run_id=on_loop[0], points=batch, lease=on_loop[1], wake=wake
                    )
                    accepted.append(stored.accepted if stored else -1)
            return accepted

    assert asyncio.run(post_all()) == [6, 3, 0, 2, 4, 2090, 3]
    assert woken == [on_loop[0]] * 4, "the four batches the call stored; the statements wake at their commit"
    for batch in BATCHES:
        with factory() as session:
            add_points(session, run_id=statements[0], points=batch, lease=statements[1], offer_call=False)
    assert _stored(factory, on_loop[0]) == _stored(factory, statements[0])


def test_a_batch_that_finds_every_ingestion_connection_busy_is_stored_by_the_statements(
    factory: sessionmaker[Session], migrated_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peak (or a server away) leaves a request no ingestion connection: after ``INGEST_WAIT_S`` its batch goes
    to the statements, in a thread, and is stored all the same."""
    monkeypatch.setattr(db, "INGEST_WAIT_S", 0.2)
    run_id, lease = _external_run(factory)

    async def wake(run_id: int) -> None:
        raise AssertionError("the statements wake the streams at their commit, not the route")

    async def post_while_busy() -> tuple[int, float]:
        pool = make_ingest_pool(migrated_postgres, 1)
        assert pool is not None
        async with pool, pool.connection():  # its only connection, taken
            with factory() as session:
                started = time.monotonic()
                stored = await add_points_from_loop(
                    pool, session, run_id=run_id, points=BATCHES[0], lease=lease, wake=wake
                )
                assert stored is not None
                return stored.accepted, time.monotonic() - started

    accepted, seconds = asyncio.run(post_while_busy())
    assert accepted == 6 and 0.2 <= seconds < 2
    assert sum(len(steps) for *_, steps, _ in _stored(factory, run_id)["blocks"]) == 6


def test_the_call_commits_without_waiting_for_the_disk_and_refuses_what_the_statements_refuse(
    factory: sessionmaker[Session], migrated_postgres: str
) -> None:
    run_id, lease = _external_run(factory)
    points: Points = {"loss": ([1, 2], [0.5, 0.25])}

    def call(conn: psycopg.Connection[Any], lease: str) -> str:
        params = ingest_postgres.call_params(run_id=run_id, points=points, lease=lease, announced=announcement(points))
        outcome = packing(conn.cursor()).execute(ingest_postgres.CALL, params).fetchone()
        assert outcome is not None
        return str(outcome[0])

    with psycopg.connect(migrated_postgres.replace("postgresql+psycopg://", "postgresql://")) as conn:
        assert call(conn, "not the lease") == "refused"
        assert call(conn, lease) == "stored"
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
        conn.rollback()
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",), "for its own transaction only"
        conn.execute("UPDATE runs SET status = 'succeeded' WHERE id = %s", (run_id,))
        assert call(conn, lease) == "refused"
    assert _stored(factory, run_id)["blocks"] == [], "nothing left of the refused and rolled-back calls"
