"""Metric ingestion (idempotent on run, key, step) and reading series back, downsampled for charts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, Table, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.models import ROLLUP_WIDTH, MetricPoint, MetricRollup, Run
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
            _update_rollups(session, run_id=run_id, rows=new_rows)
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
    conditions: list[ColumnElement[bool]] = [MetricPoint.run_id == run_id, MetricPoint.key == key]
    if start is not None:
        conditions.append(MetricPoint.step >= start)
    if end is not None:
        conditions.append(MetricPoint.step <= end)
    if max_points is not None:
        head = select(MetricPoint.step).where(*conditions).limit(max_points + 1).subquery()
        if (session.scalar(select(func.count()).select_from(head)) or 0) > max_points:
            return _downsampled(session, run_id=run_id, key=key, conditions=conditions, max_points=max_points)
    rows = session.execute(select(MetricPoint.step, MetricPoint.value).where(*conditions).order_by(MetricPoint.step))
    steps: list[int] = []
    values: list[float | None] = []
    for step, value in rows:
        steps.append(step)
        values.append(value)
    return {"step": steps, "value": values}


def _update_rollups(session: Session, *, run_id: int, rows: list[tuple[str, int, float | None]]) -> None:
    """Fold newly stored points into their blocks' min and max (and the steps where those occur)."""
    if not rows:
        return
    blocks: dict[tuple[str, int], dict[str, Any]] = {}
    for key, step, value in rows:
        block = blocks.setdefault(
            (key, step // ROLLUP_WIDTH),
            {"run_id": run_id, "key": key, "bucket": step // ROLLUP_WIDTH, "n": 0, "vmin": None, "vmax": None,
             "step_min": None, "step_max": None},
        )  # fmt: skip
        block["n"] += 1
        if value is None:
            continue
        if block["vmin"] is None or value < block["vmin"]:
            block["vmin"], block["step_min"] = value, step
        if block["vmax"] is None or value > block["vmax"]:
            block["vmax"], block["step_max"] = value, step
    table: Table = MetricRollup.__table__  # type: ignore[assignment]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table)
    new, old = stmt.excluded, table.c
    lower = or_(old.vmin.is_(None), new.vmin < old.vmin)
    higher = or_(old.vmax.is_(None), new.vmax > old.vmax)
    stmt = stmt.on_conflict_do_update(
        index_elements=[old.run_id, old.key, old.bucket],
        set_={
            "n": old.n + new.n,
            "vmin": case((lower, new.vmin), else_=old.vmin),
            "step_min": case((lower, new.step_min), else_=old.step_min),
            "vmax": case((higher, new.vmax), else_=old.vmax),
            "step_max": case((higher, new.step_max), else_=old.step_max),
        },
    )
    session.execute(stmt, list(blocks.values()))


Buckets = dict[int, tuple[float | None, int, float | None, int]]
RANKED_MAX_WIDTH = 256  # measured: ranking wins up to here (5-15x at 10-120 steps a bucket), loses at 500


def _merge(buckets: Buckets, index: int, vmin: float | None, smin: int, vmax: float | None, smax: int) -> None:
    if index not in buckets:
        buckets[index] = (vmin, smin, vmax, smax)
        return
    bmin, bsmin, bmax, bsmax = buckets[index]
    if vmin is not None and (bmin is None or vmin < bmin):
        bmin, bsmin = vmin, smin
    if vmax is not None and (bmax is None or vmax > bmax):
        bmax, bsmax = vmax, smax
    buckets[index] = (bmin, bsmin, bmax, bsmax)


def _downsampled(
    session: Session, *, run_id: int, key: str, conditions: list[ColumnElement[bool]], max_points: int
) -> dict[str, list[int] | list[float | None]]:
    """The lowest and the highest point of each of about max_points / 2 step buckets, each at its own step.

    Wide buckets are assembled from the stored rollups (a million points → a thousand rows); narrow ones,
    and the partial blocks at a zoom's edges, from the points themselves.
    """
    step = MetricPoint.step
    low = session.scalar(select(step).where(*conditions).order_by(step).limit(1))
    high = session.scalar(select(step).where(*conditions).order_by(step.desc()).limit(1))
    if low is None or high is None:
        return {"step": [], "value": []}
    n_buckets = max(1, max_points // 2 - 2)
    width = max(1, math.ceil((high - low + 1) / n_buckets))
    buckets: Buckets = {}
    raw_ranges = [(low, high)]
    if width * 2 >= ROLLUP_WIDTH:
        width = ROLLUP_WIDTH * math.ceil(width / ROLLUP_WIDTH)
        first = math.ceil(low / ROLLUP_WIDTH)
        last = (high + 1) // ROLLUP_WIDTH - 1
        if first <= last:
            raw_ranges = [(low, first * ROLLUP_WIDTH - 1), ((last + 1) * ROLLUP_WIDTH, high)]
            rollups = session.execute(
                select(MetricRollup.bucket, MetricRollup.vmin, MetricRollup.step_min, MetricRollup.vmax,
                       MetricRollup.step_max)
                .where(MetricRollup.run_id == run_id, MetricRollup.key == key, MetricRollup.bucket.between(first, last))
            )  # fmt: skip
            for block, vmin, smin, vmax, smax in rollups:
                start = block * ROLLUP_WIDTH
                _merge(buckets, start // width, vmin, smin if smin is not None else start, vmax,
                       smax if smax is not None else start + ROLLUP_WIDTH - 1)  # fmt: skip
    # Narrow buckets: rank every point in one query. Wider ones (up to a rollup block): a GROUP BY, then two
    # index lookups per bucket, which beats sorting all the points once there are hundreds per bucket.
    raw_extremes = _ranked_extremes if width <= RANKED_MAX_WIDTH else _grouped_extremes
    for range_low, range_high in raw_ranges:
        if range_low <= range_high:
            in_range = [*conditions, step >= range_low, step <= range_high]
            for index, extremes in raw_extremes(session, in_range, width).items():
                _merge(buckets, index, *extremes)
    steps: list[int] = []
    values: list[float | None] = []
    for index in sorted(buckets):
        vmin, smin, vmax, smax = buckets[index]
        pairs = {(smin, vmin), (smax, vmax)} if smin != smax else {(smin, vmax)}
        for point_step, value in sorted(pairs):
            steps.append(point_step)
            values.append(value)
    return {"step": steps, "value": values}


def _ranked_extremes(session: Session, in_range: list[ColumnElement[bool]], width: int) -> Buckets:
    """Per bucket of ``width`` steps: the lowest value and its step, the highest and its step, in one query.

    Window functions rank each bucket's points by value, NULLs last and ties to the earliest step (a bucket of
    NULLs only: its first step, twice), as ``_grouped_extremes`` finds them.
    """
    step, value = MetricPoint.step, MetricPoint.value
    bucket = step // width
    null = value.is_(None)
    ranked = (
        select(
            bucket.label("bucket"),
            step.label("step"),
            value.label("value"),
            func.row_number().over(partition_by=bucket, order_by=(null, value.asc(), step)).label("rmin"),
            func.row_number().over(partition_by=bucket, order_by=(null, value.desc(), step)).label("rmax"),
        )
        .where(*in_range)
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.bucket, ranked.c.step, ranked.c.value, ranked.c.rmin, ranked.c.rmax).where(
            or_(ranked.c.rmin == 1, ranked.c.rmax == 1)
        )
    )
    lows: dict[int, tuple[float | None, int]] = {}
    highs: dict[int, tuple[float | None, int]] = {}
    for index, at, v, rmin, rmax in rows:
        if rmin == 1:
            lows[index] = (v, at)
        if rmax == 1:
            highs[index] = (v, at)
    return {index: (*lows[index], *highs[index]) for index in lows}


def _grouped_extremes(session: Session, in_range: list[ColumnElement[bool]], width: int) -> Buckets:
    """Per bucket of ``width`` steps: min and max by GROUP BY, then the step of each looked up in the index."""
    step, value = MetricPoint.step, MetricPoint.value
    index_of = (step // width).label("bucket")
    grouped = session.execute(
        select(index_of, func.min(value), func.max(value), func.min(step), func.max(step))
        .where(*in_range)
        .group_by("bucket")
    )
    found: Buckets = {}
    for index, vmin, vmax, smin, smax in grouped:
        at_min = session.scalar(select(step).where(*in_range, step.between(smin, smax), value == vmin).limit(1))
        at_max = session.scalar(select(step).where(*in_range, step.between(smin, smax), value == vmax).limit(1))
        found[index] = (vmin, at_min if at_min is not None else smin, vmax, at_max if at_max is not None else smax)
    return found
