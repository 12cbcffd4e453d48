"""A batch of points in: inserted once each (a retried batch is harmless), folded into the rollups, announced as
one live event, and checked against the run's sweep rule for early termination."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from sqlalchemy.orm import Session

from backend.models import Run
from backend.schemas import PointIn
from backend.services import early_termination, leases
from backend.services.event_kinds import EventKind, MetricsEventData
from backend.services.events import append_event, append_status_event, locked_run
from backend.services.metrics.driver_sql import driver_cursor
from backend.services.metrics.rollups import update_rollups

NewRow = tuple[str, int, float | None]  # key, step, value of a point that was not stored before
SQLITE_ROWS_PER_STATEMENT = 8_000  # 4 parameters a row; SQLite takes 32,766 parameters per statement


def add_points(
    session: Session, *, run_id: int, points: Sequence[PointIn], lease: str | None
) -> tuple[Run | None, int]:
    """Store new points of the attempt holding ``lease`` (``leases.WriteRefused`` otherwise); a point already
    stored for (key, step) is left as it was (retries are safe).

    Returns the run and how many points were new. The new ones become one live event. The lease is checked
    under the run's lock, so a re-queue cannot slip in between the check and the insert.
    """
    with locked_run(session, run_id) as run:
        if run is None:
            return None, 0
        leases.check_points(run, lease)
        latest = {(p.key, p.step): p.value for p in points}  # within one batch, the last value wins
        rows = [{"run_id": run_id, "key": k, "step": s, "value": v} for (k, s), v in latest.items()]
        new_rows: list[NewRow] = []
        if rows:
            new_rows.extend(insert_ignoring_duplicates(session, rows))
            update_rollups(session, run_id=run_id, rows=new_rows)
        if new_rows:
            append_event(session, run=run, kind=EventKind.METRICS, data=_series_by_key(new_rows))
            _check_early_termination(session, run=run, new_rows=new_rows)
        session.commit()
        return run, len(new_rows)


def insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> list[NewRow]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the rows that were new, as one driver-level statement.

    SQLAlchemy's executemany builds a parameter dict per row; for a 1,000-point batch that was most of the
    request (``bench/profile_ingest.py``; the figures are in docs/BENCHMARKS.md, §1). The statement
    runs on the session's own connection, inside its transaction.
    """
    run_id = rows[0]["run_id"]
    with driver_cursor(session) as cursor:
        if session.get_bind().dialect.name == "postgresql":
            cursor.execute(
                "INSERT INTO metric_points (run_id, key, step, value) "
                "SELECT %s, * FROM unnest(%s::varchar[], %s::bigint[], %s::float8[]) "
                "ON CONFLICT DO NOTHING RETURNING key, step, value",
                (run_id, [r["key"] for r in rows], [r["step"] for r in rows], [r["value"] for r in rows]),
            )
            return [tuple(r) for r in cursor.fetchall()]
        new: list[NewRow] = []
        for start in range(0, len(rows), SQLITE_ROWS_PER_STATEMENT):
            chunk = rows[start : start + SQLITE_ROWS_PER_STATEMENT]
            params: list[Any] = []
            for r in chunk:
                params += (run_id, r["key"], r["step"], r["value"])
            cursor.execute(
                "INSERT INTO metric_points (run_id, key, step, value) VALUES "
                + ",".join(["(?,?,?,?)"] * len(chunk))
                + " ON CONFLICT DO NOTHING RETURNING key, step, value",
                params,
            )
            new += [tuple(r) for r in cursor.fetchall()]
        return new


def _series_by_key(new_rows: list[NewRow]) -> MetricsEventData:
    """The live event's data: per key, the new points' steps and values in step order."""
    new_rows.sort(key=lambda r: (r[0], r[1]))
    return {
        key: {"step": [r[1] for r in group_rows], "value": [r[2] for r in group_rows]}
        for key, group in groupby(new_rows, key=lambda r: r[0])
        for group_rows in [list(group)]
    }


def _check_early_termination(session: Session, *, run: Run, new_rows: list[NewRow]) -> None:
    """A new epoch of the sweep's metric may end the run early: it finishes its epoch and succeeds."""
    reason = early_termination.check(session, run=run, new_points=[(key, step) for key, step, _ in new_rows])
    if reason:
        run.finish_requested = reason
        append_status_event(session, run)
