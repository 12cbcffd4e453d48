"""A batch of points in: inserted once each (a retried batch is harmless), folded into the rollups, announced by
one live event (which names the steps, not the values), and checked against the run's sweep rule for early
termination."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from itertools import chain, repeat
from typing import Any, NamedTuple

from anyio import to_thread
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import insert
from sqlalchemy.orm import Session

from backend.models import MetricSeries, Run
from backend.schemas import Arrays, Points
from backend.services import early_termination, leases
from backend.services.event_kinds import EventKind, MetricsAnnouncement
from backend.services.events import append_event, append_status_event, locked_run, wake_at_commit
from backend.services.metrics import ingest_postgres
from backend.services.metrics.driver_sql import driver_cursor
from backend.services.metrics.rollups import update_rollups

SQLITE_ROWS_PER_STATEMENT = 8_000  # 4 parameters a row; SQLite takes 32,766 parameters per statement


class Stored(NamedTuple):
    """What a batch's writer hears back: the run's status and stop request, and how many of its points were new."""

    status: str
    stop_requested: str | None
    accepted: int


def add_points(
    session: Session, *, run_id: int, points: Points, lease: str | None, offer_call: bool = True
) -> Stored | None:
    """Store new points (per key, steps in ascending order and their values, as ``PointsIn.latest`` gives them)
    of the attempt holding ``lease`` (``leases.WriteRefused`` otherwise); a point already stored for (key, step) is
    left as it was (retries are safe). None when there is no such run.

    The new points become one live event. The lease is checked under the run's lock, so a re-queue cannot slip in
    between the check and the insert. The points stay as arrays per key all the way, so no step costs a Python
    object of its own beyond the numbers themselves.

    On Postgres a batch is first offered (unless not ``offer_call``) to one server-side call, its own transaction
    (``ingest_postgres.add_points_in_one_call``); when it stores nothing (a retry, a refusal), the statements below
    store it or say why. A run in a sweep is then checked against the sweep's early-termination rule, under the
    run's lock again (an API that dies between the two leaves that batch unchecked; the next one is checked).
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    if offer_call and postgres and points and lease and not session.in_transaction():
        called = ingest_postgres.add_points_in_one_call(
            session, run_id=run_id, points=points, lease=lease, announced=announcement(points)
        )
        if called.outcome.startswith("stored"):
            wake_at_commit(session, run_id)
        session.commit()  # the call committed itself; this wakes the run's streams, and gives the connection back
        if called.outcome.startswith("stored"):
            return after_the_call(session, run_id=run_id, points=points, called=called)
    with locked_run(session, run_id) as run:
        if run is None:
            return None
        leases.check_points(run, lease)
        new: Points = {}
        if points:
            ids = series_ids(session, run_id=run_id, keys=set(points))
            keys = {series: key for key, series in ids.items()}
            seq = run.event_seq + 1  # the event that announces them, appended below if any is new
            stored = insert_ignoring_duplicates(session, seq, {ids[key]: arrays for key, arrays in points.items()})
            new = {keys[series]: arrays for series, arrays in stored.items()}
            update_rollups(session, run_id=run_id, points=new)
        if new:
            if postgres:
                ingest_postgres.announce(session, run=run, seq=seq, data=announcement(new))
            else:
                event = append_event(session, run=run, kind=EventKind.METRICS, data=announcement(new))
                assert event.seq == seq
            _check_early_termination(session, run=run, new=new)
        session.commit()
        return Stored(run.status, run.finish_requested, _count(new))


async def add_points_from_loop(
    pool: AsyncConnectionPool[Any] | None,
    session: Session,
    *,
    run_id: int,
    points: Points,
    lease: str | None,
    wake: Callable[[int], Awaitable[None]],
) -> Stored | None:
    """``add_points`` for a request on the event loop. With ``pool`` (Postgres), a batch is offered to the one call
    on one of its connections, awaited: the loop serves other requests meanwhile, and no thread is taken (the
    thread hops and the session were an eighth of a 1,000-point POST, docs/BENCHMARKS.md §1); ``wake`` then wakes
    the run's streams. What the call leaves (the early-termination check, a retry, a refusal, a lost connection)
    runs in a worker thread with ``session``, as every batch does without ``pool``."""
    called = None
    if pool is not None and points and lease:
        called = await ingest_postgres.add_points_in_one_call_from(
            pool, run_id=run_id, points=points, lease=lease, announced=announcement(points)
        )
    if called is not None and called.outcome.startswith("stored"):
        await wake(run_id)
        after = partial(after_the_call, session, run_id=run_id, points=points, called=called)
        return after() if called.outcome == "stored" else await to_thread.run_sync(after)  # only a check needs it
    # No answer (None): the statements offer the call again, on the session's connection; 'overlap' or
    # 'refused': they store what is new, or say why.
    add = partial(add_points, session, run_id=run_id, points=points, lease=lease, offer_call=called is None)
    return await to_thread.run_sync(add)


def after_the_call(session: Session, *, run_id: int, points: Points, called: ingest_postgres.Called) -> Stored:
    """What the writer hears after the call stored ``points``; for 'stored, check', once the run's sweep's
    early-termination rule has had its look, under the run's lock."""
    if called.outcome == "stored":
        assert called.status is not None
        return Stored(called.status, called.stop_requested, _count(points))
    with locked_run(session, run_id) as run:
        assert run is not None
        _check_early_termination(session, run=run, new=points)
        session.commit()
        return Stored(run.status, run.finish_requested, _count(points))


def _count(points: Points) -> int:
    return sum(len(steps) for steps, _ in points.values())


def series_ids(session: Session, *, run_id: int, keys: set[str]) -> dict[str, int]:
    """The id of each of the run's series named in ``keys``, created for the keys it has not logged before (the
    caller holds the run's lock, so no other request creates them meanwhile)."""
    found = _series_named(session, run_id=run_id, keys=sorted(keys))
    missing = sorted(keys - found.keys())
    if missing:
        session.execute(insert(MetricSeries), [{"run_id": run_id, "key": key} for key in missing])
        found.update(_series_named(session, run_id=run_id, keys=missing))
    return found


def _series_named(session: Session, *, run_id: int, keys: list[str]) -> dict[str, int]:
    """The ids of those of ``keys`` the run has a series for (the batch's keys only, not every key of the run).

    On the driver's cursor: through SQLAlchemy's ORM the lookup of one key cost about a millisecond of Python.
    """
    with driver_cursor(session) as cursor:
        if session.get_bind().dialect.name == "postgresql":
            cursor.execute("SELECT key, id FROM metric_series WHERE run_id = %s AND key = ANY(%s)", (run_id, keys))
        else:  # a batch holds at most MAX_POINTS_PER_BATCH keys, within SQLite's 32,766 parameters
            marks = ",".join("?" * len(keys))
            cursor.execute(f"SELECT key, id FROM metric_series WHERE run_id = ? AND key IN ({marks})", (run_id, *keys))
        return dict(cursor.fetchall())


def insert_ignoring_duplicates(session: Session, seq: int, series: dict[int, Arrays]) -> dict[int, Arrays]:
    """Store the points whose step their series (by id) does not hold yet and return them, in the same shape; each
    records ``seq``, the event that announces it. SQLite: one driver-level multi-row INSERT, and where a point was
    stored before (the statement fails, and SQLite undoes it alone) the same with ON CONFLICT DO NOTHING RETURNING;
    Postgres: blocks of points (``ingest_postgres.insert_blocks``).

    SQLAlchemy's executemany builds a parameter dict per row; for a 1,000-point batch that was most of the
    request (``bench/profile_ingest.py``; the figures are in docs/BENCHMARKS.md, §1). The statement
    runs on the session's own connection, inside its transaction.
    """
    with driver_cursor(session) as cursor:
        if session.get_bind().dialect.name == "postgresql":
            return ingest_postgres.insert_blocks(cursor, seq, series)
        params: list[Any] = []
        for series_id, (steps, values) in series.items():
            params += chain.from_iterable(zip(repeat(series_id), repeat(seq), steps, values))
        whole: list[list[Any]] = []  # the parameters of each statement that stored all its rows
        returned: list[tuple[int, int, float | None]] = []  # the new rows of the others
        all_new = True
        for start in range(0, len(params), 4 * SQLITE_ROWS_PER_STATEMENT):
            chunk = params[start : start + 4 * SQLITE_ROWS_PER_STATEMENT]
            insert = "INSERT INTO metric_points (series_id, seq, step, value) VALUES " + ",".join(
                ["(?,?,?,?)"] * (len(chunk) // 4)
            )
            try:  # every point new, as nearly always: a third of the time of the statement with RETURNING
                cursor.execute(insert, chunk)
            except sqlite3.IntegrityError:  # a point stored before (a retry); SQLite undid this statement only
                cursor.execute(insert + " ON CONFLICT DO NOTHING RETURNING series_id, step, value", chunk)
                returned += cursor.fetchall()
                all_new = False
            else:
                whole.append(chunk)
        if all_new:
            return series
        for chunk in whole:
            returned += zip(chunk[0::4], chunk[2::4], chunk[3::4], strict=True)
        return _regrouped(returned)


def _regrouped(rows: list[tuple[int, int, float | None]]) -> dict[int, Arrays]:
    """(series, step, value) rows per series, as steps in ascending order and their values."""
    grouped: dict[int, list[tuple[int, float | None]]] = {}
    for series_id, step, value in rows:
        grouped.setdefault(series_id, []).append((step, value))
    return {series_id: _arrays(sorted(points)) for series_id, points in grouped.items()}


def _arrays(points: list[tuple[int, float | None]]) -> Arrays:
    steps, values = zip(*points, strict=True)
    return list(steps), list(values)


def announcement(new: Points) -> MetricsAnnouncement:
    """The live event's data: per key, the steps its new points span and how many there are. The points stay in
    ``metric_points`` only; the stream reads them back by the event's ``seq`` (``announced.event_data``)."""
    return {key: {"first": steps[0], "last": steps[-1], "n": len(steps)} for key, (steps, _) in new.items()}


def _check_early_termination(session: Session, *, run: Run, new: Points) -> None:
    """A new epoch of the sweep's metric may end the run early: it finishes its epoch and succeeds."""
    reason = early_termination.check(session, run=run, new_steps={key: steps for key, (steps, _) in new.items()})
    if reason:
        run.finish_requested = reason
        append_status_event(session, run)
