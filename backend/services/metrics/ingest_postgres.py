"""Postgres's side of ``ingest.add_points``: a batch in one call of ``trainboard_add_points`` (revision 0015) when
none of its points can be stored already, as nearly always; otherwise, statement by statement, the points whose
step is new packed into blocks by binary COPY, and the batch's event."""

from __future__ import annotations

import json
import logging
from typing import Any, NamedTuple

import psycopg
from psycopg.types.json import Json
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.orm import Session

from backend.finite import json_safe
from backend.models import BLOCK_STEPS, Run, utcnow, window_of
from backend.schemas import Arrays, Points
from backend.services import leases
from backend.services.event_kinds import EventKind, MetricsAnnouncement
from backend.services.events import appended_in_sql
from backend.services.metrics.driver_sql import driver_cursor
from backend.services.metrics.pg_arrays import FLOAT8, INT4, INT8, binary_array, packed, packed_texts, packing
from backend.services.metrics.rollups import ranges_by_block, rollup_columns, rollup_rows

logger = logging.getLogger(__name__)


class Called(NamedTuple):
    """What ``trainboard_add_points`` did: ``outcome`` is 'refused' or 'overlap' (nothing stored) or 'stored' or
    'stored, check' (stored; the run's sweep may stop it early), with the run's status and stop request when
    stored."""

    outcome: str
    status: str | None
    stop_requested: str | None


CALL = "SELECT * FROM trainboard_add_points(%s, %s, %b, %b, %b, %b, %b, %b, %b, %b" + ", %b" * 8 + ", %s, %s)"


def add_points_in_one_call(
    session: Session, *, run_id: int, points: Points, lease: str, announced: MetricsAnnouncement
) -> Called:
    """Store ``points`` (every key with at least one point, steps ascending) and their event, announcing
    ``announced``, in one round trip that is its own transaction: the session, which must not have begun one,
    runs it on a connection in autocommit mode (no ``BEGIN``, no ``COMMIT``: two round trips of four); the caller
    ends the session's transaction, which only gives the connection back.

    The server stores them only when no stored block of their series overlaps their steps, so every point is new
    and the rollups computed here from all of them are the right ones; otherwise it stores nothing.
    """
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    with driver_cursor(session) as cursor:
        packing(cursor).execute(CALL, call_params(run_id=run_id, points=points, lease=lease, announced=announced))
        return Called(*cursor.fetchone())


async def add_points_in_one_call_from(
    pool: AsyncConnectionPool[Any], *, run_id: int, points: Points, lease: str, announced: MetricsAnnouncement
) -> Called | None:
    """``add_points_in_one_call`` on a connection of ``pool``, awaited on the event loop; None when no answer came
    (no connection within ``db.INGEST_WAIT_S``, or the connection was lost on the way): the batch may or may not be
    stored, which the statements find out (a retry stores only the points that are new)."""
    try:
        async with pool.connection() as connection:
            cursor = packing(connection.cursor())
            await cursor.execute(CALL, call_params(run_id=run_id, points=points, lease=lease, announced=announced))
            return Called(*await cursor.fetchone())  # type: ignore[misc]
    except PoolTimeout:  # every connection busy (a peak: the thread takes it), or the server away (it fails too)
        logger.info("no ingestion connection free, storing the batch by statements")
    except psycopg.OperationalError as error:  # PoolTimeout's parent
        logger.warning("the ingestion's connection failed, storing the batch by statements: %s", error)
    return None


def call_params(*, run_id: int, points: Points, lease: str, announced: MetricsAnnouncement) -> tuple[Any, ...]:
    """``CALL``'s parameters: the run, its lease's digest, the statuses that take no more points, the keys, the
    blocks, every point's step and value, the rollups, and the event."""
    keys = list(points)
    # Per block: its key's place in keys, the first step of its window, and the places of its first and last point
    # in steps and values (1-based, as Postgres counts).
    places: list[int] = []
    windows: list[int] = []
    firsts: list[int] = []
    lasts: list[int] = []
    steps: list[int] = []
    values: list[float | None] = []
    for place, (key_steps, key_values) in enumerate(points.values(), 1):
        for lo, hi in ranges_by_block(key_steps, BLOCK_STEPS):
            places.append(place)
            windows.append(window_of(key_steps[lo]))
            firsts.append(len(steps) + lo + 1)
            lasts.append(len(steps) + hi)
        steps += key_steps
        values += key_values
    return (
        run_id, leases.digest(lease), packed_texts(sorted(leases.ENDED_BY_ITS_ATTEMPT)), packed_texts(keys),
        packed(INT4, places), packed(INT8, windows), packed(INT4, firsts), packed(INT4, lasts),
        packed(INT8, steps), packed(FLOAT8, values), *rollup_columns(rollup_rows(points), keys),
        EventKind.METRICS.value, json.dumps(announced),
    )  # fmt: skip


def insert_blocks(cursor: Any, seq: int, series: dict[int, Arrays]) -> dict[int, Arrays]:
    """Leave out the points whose step the series (by id) already stores (a retry), then pack the rest into one
    block per series and window of ``BLOCK_STEPS`` steps, written with binary COPY; the points stored, in the
    same shape. Each block records ``seq``, the event that announces it.

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
        # The arrays go as bytes already in Postgres's binary form: a binary COPY's field is the column type's
        # binary form, whatever dumper made it.
        copy.set_types(["int4", "int4", "int8", "int8", "bytea", "bytea"])
        for series_id, lo, hi in blocks:
            steps, values = series[series_id][0][lo:hi], series[series_id][1][lo:hi]
            if stored:
                kept = [(s, v) for s, v in zip(steps, values, strict=True) if (series_id, s) not in stored]
                if not kept:
                    continue
                steps, values = (list(column) for column in zip(*kept, strict=True))
            copy.write_row(
                (series_id, seq, steps[0], steps[-1], binary_array(INT8, steps), binary_array(FLOAT8, values))
            )
            new_steps, new_values = new.setdefault(series_id, ([], []))
            new_steps += steps
            new_values += values
    return new


# The metrics event, the run's event_seq, and synchronous_commit off for this transaction, in one statement.
_ANNOUNCE = (
    "WITH bumped AS (UPDATE runs SET event_seq = %(seq)s WHERE id = %(run_id)s), "
    "no_fsync AS (SELECT set_config('synchronous_commit', 'off', true)) "
    "INSERT INTO run_events (run_id, seq, kind, data, created_at) "
    "SELECT %(run_id)s, %(seq)s, %(kind)s, %(data)s, %(created_at)s FROM no_fsync"
)


def announce(session: Session, *, run: Run, seq: int, data: MetricsAnnouncement) -> None:
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
        cursor.execute(_ANNOUNCE, params)
    appended_in_sql(session, run=run, seq=seq)
