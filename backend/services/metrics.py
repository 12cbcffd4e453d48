"""Metric ingestion (idempotent on run, key, step) and reading series back, downsampled for charts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.models import MetricPoint, Run
from backend.schemas import PointIn
from backend.services import early_termination
from backend.services.events import append_event, locked_run, status_event_data


def add_points(session: Session, *, run_id: int, points: Sequence[PointIn]) -> tuple[Run | None, int]:
    """Store new points; a point already stored for (key, step) is left as it was (retries are safe).

    Returns the run and how many points were new. The new ones become one live event.
    """
    with locked_run(session, run_id) as run:
        if run is None:
            return None, 0
        latest = {(p.key, p.step): p.value for p in points}  # within one batch, the last value wins
        rows = [{"run_id": run_id, "key": k, "step": s, "value": v} for (k, s), v in latest.items()]
        new_rows: list[tuple[str, int, float | None]] = []
        if rows:
            new_rows.extend(_insert_ignoring_duplicates(session, rows))
        if new_rows:
            new_rows.sort(key=lambda r: (r[0], r[1]))
            data = {
                key: {"step": [r[1] for r in group_rows], "value": [r[2] for r in group_rows]}
                for key, group in groupby(new_rows, key=lambda r: r[0])
                for group_rows in [list(group)]
            }
            append_event(session, run=run, kind="metrics", data=data)
            new_epochs = [step for key, step, _ in new_rows if key == early_termination.METRIC]
            reason = early_termination.check(session, run=run, epochs=new_epochs)
            if reason:
                run.stop_requested = reason
                append_event(session, run=run, kind="status", data=status_event_data(run))
        session.commit()
        return run, len(new_rows)


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> list[tuple[str, int, float | None]]:
    table: Table = MetricPoint.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).on_conflict_do_nothing().returning(table.c.key, table.c.step, table.c.value)
    return [(r.key, r.step, r.value) for r in session.execute(stmt, rows)]


def metric_keys(session: Session, *, run_id: int) -> list[str]:
    stmt = select(MetricPoint.key).where(MetricPoint.run_id == run_id).distinct().order_by(MetricPoint.key)
    return list(session.scalars(stmt))


def read_series(
    session: Session,
    *,
    run_id: int,
    key: str,
    max_points: int | None = None,
    start: int | None = None,
    end: int | None = None,
) -> dict[str, list[int] | list[float | None]]:
    """A series in step order; longer than ``max_points``, it keeps each bucket's min and max (spikes survive)."""
    conditions = [MetricPoint.run_id == run_id, MetricPoint.key == key]
    if start is not None:
        conditions.append(MetricPoint.step >= start)
    if end is not None:
        conditions.append(MetricPoint.step <= end)
    if max_points is not None:
        count = session.scalar(select(func.count()).where(*conditions)) or 0
        if count > max_points:
            return _downsampled(session, conditions, max_points)
    rows = session.execute(select(MetricPoint.step, MetricPoint.value).where(*conditions).order_by(MetricPoint.step))
    steps: list[int] = []
    values: list[float | None] = []
    for step, value in rows:
        steps.append(step)
        values.append(value)
    return {"step": steps, "value": values}


def _downsampled(session: Session, conditions: list, max_points: int) -> dict[str, list[int] | list[float | None]]:  # type: ignore[type-arg]
    """Split the step range into max_points // 2 buckets; keep the lowest and the highest point of each.

    Aggregation runs in the database, so a million points never travel to Python.
    """
    low, high = session.execute(select(func.min(MetricPoint.step), func.max(MetricPoint.step)).where(*conditions)).one()
    n_buckets = max(1, max_points // 2)
    width = max(1, math.ceil((high - low + 1) / n_buckets))
    bucket = (MetricPoint.step - low) // width
    stmt = (
        select(
            bucket.label("bucket"),
            func.min(MetricPoint.value),
            func.max(MetricPoint.value),
            func.min(MetricPoint.step),
            func.max(MetricPoint.step),
        )
        .where(*conditions)
        .group_by("bucket")
        .order_by("bucket")
    )
    steps: list[int] = []
    values: list[float | None] = []
    for _, vmin, vmax, smin, smax in session.execute(stmt):
        # Plot the lower value at the bucket's first step and the higher at its last: at chart resolution
        # the order inside a bucket is invisible, while dropping either extreme would hide a spike.
        if smin == smax or vmin == vmax:
            steps.append(smin)
            values.append(vmax)
        else:
            steps.extend((smin, smax))
            values.extend((vmin, vmax))
    return {"step": steps, "value": values}
