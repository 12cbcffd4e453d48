"""Metric ingestion (idempotent on run, key, step) and reading series back, downsampled for charts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from backend.models import ROLLUP_WIDTHS, MetricPoint, MetricRollup, Run
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


SQLITE_ROWS_PER_STATEMENT = 8_000  # 4 parameters a row; SQLite takes 32,766 parameters per statement


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> list[tuple[str, int, float | None]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the rows that were new, as one driver-level statement.

    SQLAlchemy's executemany builds a parameter dict per row; for a 1,000-point batch that was most of the
    request (``bench/profile_ingest.py``: 11.4 -> 6.5 ms on SQLite, 56.8 -> 33.4 ms on Postgres). The statement
    runs on the session's own connection, inside its transaction.
    """
    run_id = rows[0]["run_id"]
    with _driver_cursor(session) as cursor:
        if session.get_bind().dialect.name == "postgresql":
            cursor.execute(
                "INSERT INTO metric_points (run_id, key, step, value) "
                "SELECT %s, * FROM unnest(%s::varchar[], %s::bigint[], %s::float8[]) "
                "ON CONFLICT DO NOTHING RETURNING key, step, value",
                (run_id, [r["key"] for r in rows], [r["step"] for r in rows], [r["value"] for r in rows]),
            )
            return [tuple(r) for r in cursor.fetchall()]
        new: list[tuple[str, int, float | None]] = []
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


@contextlib.contextmanager
def _driver_cursor(session: Session) -> Iterator[Any]:
    """A DB-API cursor on the session's own connection, inside its transaction: for the statements of the ingestion
    path, where SQLAlchemy's per-row parameter handling cost more than the database work."""
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()


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


Extremes = tuple[float | None, int, float | None, int]  # vmin, its step, vmax, its step
Buckets = dict[int, Extremes]
RANKED_MAX_WIDTH = 256  # measured: ranking wins up to here (5-15x at 10-120 steps a bucket), loses at 500


def _fold(old: Extremes, new: Extremes) -> Extremes:
    """The extremes of two sets of points from their own: the lower min and the higher max, the earlier step on a
    tie; NULL values lose to any number, and a set of NULLs only is at its first step (as ``_ranked_extremes``)."""
    vmin, smin, vmax, smax = old
    nmin, nsmin, nmax, nsmax = new
    if nmin is None:
        if vmin is None and nsmin < smin:
            smin = nsmin
    elif vmin is None or nmin < vmin or (nmin == vmin and nsmin < smin):
        vmin, smin = nmin, nsmin
    if nmax is None:
        if vmax is None and nsmax < smax:
            smax = nsmax
    elif vmax is None or nmax > vmax or (nmax == vmax and nsmax < smax):
        vmax, smax = nmax, nsmax
    return vmin, smin, vmax, smax


def _update_rollups(session: Session, *, run_id: int, rows: list[tuple[str, int, float | None]]) -> None:
    """Fold newly stored points into their blocks' min and max (and the steps where those occur), every level.

    The finest level's blocks come from the points, each coarser level's from the finer blocks; one upsert for
    all of them, which folds each block into its stored row the same way (``_fold``).
    """
    if not rows:
        return
    finest = ROLLUP_WIDTHS[0]
    level: dict[tuple[str, int], list[Any]] = {}  # (key, bucket) -> [n, vmin, step_min, vmax, step_max]
    for key, step, value in rows:
        block = level.get((key, step // finest))
        if block is None:
            level[(key, step // finest)] = [1, value, step, value, step]
            continue
        block[0] += 1
        if value is None:
            if block[1] is None and step < block[2]:
                block[2] = step
            if block[3] is None and step < block[4]:
                block[4] = step
            continue
        if block[1] is None or value < block[1] or (value == block[1] and step < block[2]):
            block[1], block[2] = value, step
        if block[3] is None or value > block[3] or (value == block[3] and step < block[4]):
            block[3], block[4] = value, step
    params: list[dict[str, Any]] = []
    width = finest
    for coarser in (*ROLLUP_WIDTHS[1:], None):
        params.extend(
            {"run_id": run_id, "key": key, "width": width, "bucket": bucket, "n": n, "vmin": vmin, "step_min": smin,
             "vmax": vmax, "step_max": smax}
            for (key, bucket), (n, vmin, smin, vmax, smax) in level.items()
        )  # fmt: skip
        if coarser is None:
            break
        parents: dict[tuple[str, int], list[Any]] = {}
        for (key, bucket), (n, vmin, smin, vmax, smax) in level.items():
            parent = parents.get((key, bucket * width // coarser))
            if parent is None:
                parents[(key, bucket * width // coarser)] = [n, vmin, smin, vmax, smax]
            else:
                parent[0] += n
                parent[1:] = _fold((parent[1], parent[2], parent[3], parent[4]), (vmin, smin, vmax, smax))
        level, width = parents, coarser
    _executemany(session, _rollup_upsert(session.get_bind().dialect), params)


_compiled_upserts: dict[tuple[str, str, str], SQLCompiler] = {}


def _rollup_upsert(dialect: Dialect) -> SQLCompiler:
    """The rollup upsert, compiled once per driver (SQLAlchemy's executemany cost more than the rows did)."""
    cache_key = (dialect.name, dialect.driver, dialect.paramstyle)
    if cache_key not in _compiled_upserts:
        _compiled_upserts[cache_key] = _build_rollup_upsert(dialect)
    return _compiled_upserts[cache_key]


def _build_rollup_upsert(dialect: Dialect) -> SQLCompiler:
    table: Table = MetricRollup.__table__  # type: ignore[assignment]
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table)
    new, old = stmt.excluded, table.c
    # _fold in SQL. A NULL comparison is not true, so a NULL new value never replaces a number.
    lower = or_(
        new.vmin < old.vmin,
        and_(new.vmin == old.vmin, new.step_min < old.step_min),
        and_(old.vmin.is_(None), or_(new.vmin.is_not(None), new.step_min < old.step_min)),
    )
    higher = or_(
        new.vmax > old.vmax,
        and_(new.vmax == old.vmax, new.step_max < old.step_max),
        and_(old.vmax.is_(None), or_(new.vmax.is_not(None), new.step_max < old.step_max)),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[old.run_id, old.key, old.width, old.bucket],
        set_={
            "n": old.n + new.n,
            "vmin": case((lower, new.vmin), else_=old.vmin),
            "step_min": case((lower, new.step_min), else_=old.step_min),
            "vmax": case((higher, new.vmax), else_=old.vmax),
            "step_max": case((higher, new.step_max), else_=old.step_max),
        },
    )
    compiled = stmt.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    return compiled


def _executemany(session: Session, compiled: SQLCompiler, params: list[dict[str, Any]]) -> None:
    """Run a compiled statement for every parameter dict on the session's own connection (its transaction)."""
    with _driver_cursor(session) as cursor:
        if compiled.positiontup is not None:  # SQLite's "?" placeholders
            order = compiled.positiontup
            cursor.executemany(compiled.string, [tuple(p[name] for name in order) for p in params])
        else:  # psycopg's %(name)s placeholders
            cursor.executemany(compiled.string, params)


def _merge(buckets: Buckets, index: int, vmin: float | None, smin: int, vmax: float | None, smax: int) -> None:
    found = buckets.get(index)
    buckets[index] = (vmin, smin, vmax, smax) if found is None else _fold(found, (vmin, smin, vmax, smax))


def _grid(low: int, high: int, max_points: int) -> tuple[int, int | None]:
    """The bucket width for a downsampled read of steps low..high, and the rollup level it is read from (if any).

    About max_points / 2 buckets; the widest level of at most twice that width is used, and the width rounded up
    to a multiple of it, so that each of its blocks falls in one bucket.
    """
    n_buckets = max(1, max_points // 2 - 2)
    width = max(1, -(-(high - low + 1) // n_buckets))
    levels = [level for level in ROLLUP_WIDTHS if level <= 2 * width]
    if not levels:
        return width, None
    level = levels[-1]
    return level * -(-width // level), level


def _downsampled(
    session: Session,
    *,
    run_id: int,
    key: str,
    conditions: list[ColumnElement[bool]],
    max_points: int,
    from_rollups: bool = True,
) -> dict[str, list[int] | list[float | None]]:
    """The lowest and the highest point of each of about max_points / 2 step buckets, each at its own step.

    Buckets of 32 steps or more are assembled from the stored rollups: the widest level that fits
    (``_grid``) for the whole blocks inside the range, the finer ones for the partial blocks at a zoom's edges,
    and the points themselves only for what is left (under 64 steps at each edge). ``from_rollups=False``
    reads only the points, on the same bucket grid: the same result (tests/backend/test_downsampling.py).
    """
    step = MetricPoint.step
    low = session.scalar(select(step).where(*conditions).order_by(step).limit(1))
    high = session.scalar(select(step).where(*conditions).order_by(step.desc()).limit(1))
    if low is None or high is None:
        return {"step": [], "value": []}
    width, level = _grid(low, high, max_points)
    buckets: Buckets = {}
    raw_ranges: list[tuple[int, int]] = []
    # Cover low..high with whole blocks, the widest level first; what a level cannot cover goes to the next.
    pending = [(low, high, [w for w in ROLLUP_WIDTHS if level is not None and w <= level and from_rollups])]
    while pending:
        range_low, range_high, levels = pending.pop()
        if range_low > range_high:
            continue
        if not levels:
            raw_ranges.append((range_low, range_high))
            continue
        block_width, finer = levels[-1], levels[:-1]
        first, last = -(-range_low // block_width), (range_high + 1) // block_width - 1
        if first > last:
            pending.append((range_low, range_high, finer))
            continue
        pending.append((range_low, first * block_width - 1, finer))
        pending.append(((last + 1) * block_width, range_high, finer))
        rollups = session.execute(
            select(MetricRollup.bucket, MetricRollup.vmin, MetricRollup.step_min, MetricRollup.vmax,
                   MetricRollup.step_max)
            .where(MetricRollup.run_id == run_id, MetricRollup.key == key, MetricRollup.width == block_width,
                   MetricRollup.bucket.between(first, last))
        )  # fmt: skip
        for block, vmin, smin, vmax, smax in rollups:
            start = block * block_width  # every row has both steps since 0004; the fallback is for safety
            smin, smax = start if smin is None else smin, start if smax is None else smax
            _merge(buckets, start // width, vmin, smin, vmax, smax)
    # The points themselves: ranked in one query while buckets (or the range) are narrow; wider, a GROUP BY then
    # two index lookups per bucket, which beats sorting all the points once there are hundreds per bucket.
    for range_low, range_high in raw_ranges:
        narrow = min(width, range_high - range_low + 1) <= RANKED_MAX_WIDTH
        raw_extremes = _ranked_extremes if narrow else _grouped_extremes
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
        at_min = session.scalar(
            select(step).where(*in_range, step.between(smin, smax), value == vmin).order_by(step).limit(1)
        )
        at_max = session.scalar(
            select(step).where(*in_range, step.between(smin, smax), value == vmax).order_by(step).limit(1)
        )
        found[index] = (vmin, at_min if at_min is not None else smin, vmax, at_max if at_max is not None else smax)
    return found
