"""A batch of points in: inserted once each (a retried batch is harmless), folded into the rollups, announced by
one live event (which names the steps, not the values), and checked against the run's sweep rule for early
termination."""

from __future__ import annotations

import sqlite3
import struct
from itertools import chain, repeat
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import insert
from sqlalchemy.orm import Session

from backend.finite import json_safe
from backend.models import BLOCK_STEPS, MetricSeries, Run, utcnow, window_of
from backend.schemas import Arrays, Points
from backend.services import early_termination, leases
from backend.services.event_kinds import EventKind, MetricsAnnouncement
from backend.services.events import append_event, append_status_event, appended_in_sql, locked_run
from backend.services.metrics.driver_sql import driver_cursor
from backend.services.metrics.rollups import ranges_by_block, update_rollups

SQLITE_ROWS_PER_STATEMENT = 8_000  # 4 parameters a row; SQLite takes 32,766 parameters per statement


def add_points(session: Session, *, run_id: int, points: Points, lease: str | None) -> tuple[Run | None, int]:
    """Store new points (per key, steps in ascending order and their values, as ``PointsIn.latest`` gives them)
    of the attempt holding ``lease`` (``leases.WriteRefused`` otherwise); a point already stored for (key, step) is
    left as it was (retries are safe).

    Returns the run and how many points were new. The new ones become one live event. The lease is checked
    under the run's lock, so a re-queue cannot slip in between the check and the insert. The points stay as
    arrays per key all the way, so no step costs a Python object of its own beyond the numbers themselves.
    """
    with locked_run(session, run_id) as run:
        if run is None:
            return None, 0
        leases.check_points(run, lease)
        postgres = session.get_bind().dialect.name == "postgresql"
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
                _announce_postgres(session, run=run, seq=seq, data=announcement(new))
            else:
                event = append_event(session, run=run, kind=EventKind.METRICS, data=announcement(new))
                assert event.seq == seq
            _check_early_termination(session, run=run, new=new)
        session.commit()
        return run, sum(len(steps) for steps, _ in new.values())


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
    Postgres: blocks of points (``_insert_postgres``).

    SQLAlchemy's executemany builds a parameter dict per row; for a 1,000-point batch that was most of the
    request (``bench/profile_ingest.py``; the figures are in docs/BENCHMARKS.md, §1). The statement
    runs on the session's own connection, inside its transaction.
    """
    with driver_cursor(session) as cursor:
        if session.get_bind().dialect.name == "postgresql":
            return _insert_postgres(cursor, seq, series)
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


def _insert_postgres(cursor: Any, seq: int, series: dict[int, Arrays]) -> dict[int, Arrays]:
    """Leave out the points whose step the series already stores (a retry), then pack the rest into one block per
    series and window of ``BLOCK_STEPS`` steps, written with binary COPY.

    The stored steps are read only from blocks whose span of steps overlaps the batch's within a window: for a
    series logged in step order, none. The caller holds the run's lock, so no other request writes these series
    meanwhile.
    """
    blocks: list[tuple[int, int, int]] = []  # series, and the index range of its points in one window
    spans: list[tuple[int, int, int, int]] = []  # series, window, the first and the last of those steps
    for series_id, (steps, _) in series.items():
        for lo, hi in ranges_by_block(steps, BLOCK_STEPS):
            blocks.append((series_id, lo, hi))
            spans.append((series_id, window_of(steps[lo]), steps[lo], steps[hi - 1]))
    # Only blocks whose steps overlap the batch's in that window: none at all for a series logged in step order.
    cursor.execute(
        "SELECT b.series_id, p.step "
        "FROM unnest(%b::int[], %b::bigint[], %b::bigint[], %b::bigint[]) AS w(series_id, first_step, low, high) "
        "JOIN metric_blocks b ON b.series_id = w.series_id "
        "AND b.first_step >= w.first_step AND b.first_step <= w.high AND b.last_step >= w.low "
        "CROSS JOIN LATERAL unnest(b.steps) AS p(step) WHERE p.step BETWEEN w.low AND w.high",
        [list(column) for column in zip(*spans, strict=True)],
    )
    stored = set(cursor.fetchall())
    new: dict[int, Arrays] = {}
    with cursor.copy(
        "COPY metric_blocks (series_id, seq, first_step, last_step, steps, vals) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        # The arrays go as bytes already in Postgres's binary form (``binary_array``): a binary COPY's field is
        # the column type's binary form, whatever dumper made it; psycopg's list dumper took a quarter of the COPY.
        copy.set_types(["int4", "int4", "int8", "int8", "bytea", "bytea"])
        for series_id, lo, hi in blocks:
            steps, values = series[series_id][0][lo:hi], series[series_id][1][lo:hi]
            if stored:
                kept = [(s, v) for s, v in zip(steps, values, strict=True) if (series_id, s) not in stored]
                if not kept:
                    continue
                steps, values = _arrays(kept)
            copy.write_row(
                (series_id, seq, steps[0], steps[-1], binary_array(INT8, steps), binary_array(FLOAT8, values))
            )
            new_steps, new_values = new.setdefault(series_id, ([], []))
            new_steps += steps
            new_values += values
    return new


INT8, FLOAT8 = (20, "q"), (701, "d")  # an element type: its oid, and its struct code (8 bytes, big-endian)


def binary_array(element: tuple[int, str], items: list[Any]) -> bytes:
    """A one-dimensional array of 8-byte items of type ``element`` in Postgres's binary form (``array_recv``):
    dimensions, a NULL flag, the element type, then each item's length and bytes (-1 and none for a NULL)."""
    oid, code = element
    if None in items:
        fmt = "".join("i" if item is None else "i" + code for item in items)
        values = [part for item in items for part in ((-1,) if item is None else (8, item))]
        return struct.pack(f">iiIii{fmt}", 1, 1, oid, len(items), 1, *values)
    return struct.pack(
        f">iiIii{len(items) * ('i' + code)}", 1, 0, oid, len(items), 1, *chain.from_iterable(zip(repeat(8), items))
    )


# The metrics event, the run's event_seq, and synchronous_commit off for this transaction, in one statement.
_ANNOUNCE_POSTGRES = (
    "WITH bumped AS (UPDATE runs SET event_seq = %(seq)s WHERE id = %(run_id)s), "
    "no_fsync AS (SELECT set_config('synchronous_commit', 'off', true)) "
    "INSERT INTO run_events (run_id, seq, kind, data, created_at) "
    "SELECT %(run_id)s, %(seq)s, %(kind)s, %(data)s, %(created_at)s FROM no_fsync"
)


def _announce_postgres(session: Session, *, run: Run, seq: int, data: MetricsAnnouncement) -> None:
    """Append the batch's metrics event, ``seq``, as ``append_event`` would, and let the transaction's commit
    return before its WAL reaches the disk (``synchronous_commit`` off for this transaction only): what SQLite's
    WAL mode with ``synchronous=NORMAL`` does for every commit. A crash of the API or a worker loses nothing; a
    crash of the database server or the machine may lose the last fraction of a second of committed points (never
    a torn or half-applied batch). The fsync was a third of a 1,000-point batch's time (docs/BENCHMARKS.md, §1;
    docs/RELIABILITY.md).

    One statement on the driver's cursor: through the ORM these were a ``SET LOCAL``, then an ``INSERT ...
    RETURNING`` and an ``UPDATE`` at the flush, three round trips and the unit of work (0.5-1 ms of a batch's 4-5).
    """
    params = {"seq": seq, "run_id": run.id, "kind": EventKind.METRICS.value, "data": Json(json_safe(data)),
              "created_at": utcnow()}  # fmt: skip
    with driver_cursor(session) as cursor:
        cursor.execute(_ANNOUNCE_POSTGRES, params)
    appended_in_sql(session, run=run, seq=seq)


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
