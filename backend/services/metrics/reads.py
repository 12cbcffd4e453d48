"""Series read back for charts: in step order, and longer than ``max_points`` downsampled to each bucket's min and
max, each at its own step (spikes survive), assembled from the rollups wherever whole blocks fit."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from backend.models import BLOCK_STEPS, ROLLUP_WIDTHS, MetricBlock, MetricPoint, MetricRollup, MetricSeries, window_of
from backend.services.metrics.rollups import Extremes, merge

Buckets = dict[int, Extremes]
Series = dict[str, list[int] | list[float | None]]
RANKED_MAX_WIDTH = 256  # measured: ranking wins up to here (5-15x at 10-120 steps a bucket), loses at 500


def metric_keys(session: Session, *, run_id: int) -> list[str]:
    """The run's keys, from the widest rollup level (a few rows a key, as ``keys.key_stats`` reads them) rather
    than a scan of every stored point."""
    rollup = MetricRollup
    stmt = (
        select(rollup.key)
        .where(rollup.run_id == run_id, rollup.width == ROLLUP_WIDTHS[-1])
        .distinct()
        .order_by(rollup.key)
    )
    return list(session.scalars(stmt))


def series_id_of(session: Session, *, run_id: int, key: str) -> int | None:
    """The id of the run's series of ``key``; None if the run never logged it."""
    return session.scalar(select(MetricSeries.id).where(MetricSeries.run_id == run_id, MetricSeries.key == key))


def step_range(session: Session, low: int | None, high: int | None) -> list[ColumnElement[bool]]:
    """Conditions on points for low <= step <= high (None: no bound). On Postgres also on the point's block
    (``MetricBlock``: its first step lies in the window of ``low`` or after, and not after ``high``), so that only
    the blocks in range are unnested."""
    postgres = session.get_bind().dialect.name == "postgresql"
    conditions: list[ColumnElement[bool]] = []
    if low is not None:
        conditions.append(MetricPoint.step >= low)
        if postgres:
            conditions.append(MetricPoint.block_first >= window_of(low))
    if high is not None:
        conditions.append(MetricPoint.step <= high)
        if postgres:
            conditions.append(MetricPoint.block_first <= high)
    return conditions


def step_bounds(session: Session, *, series_id: int, start: int | None, end: int | None) -> tuple[int, int] | None:
    """The lowest and the highest step the series stores within start..end; None if it stores none there."""
    if session.get_bind().dialect.name == "postgresql":
        return _block_bounds(session, series_id=series_id, start=start, end=end)
    conditions = [MetricPoint.series_id == series_id, *step_range(session, start, end)]
    step = MetricPoint.step
    low = session.scalar(select(step).where(*conditions).order_by(step).limit(1))
    high = session.scalar(select(step).where(*conditions).order_by(step.desc()).limit(1))
    return None if low is None or high is None else (low, high)


def _block_bounds(session: Session, *, series_id: int, start: int | None, end: int | None) -> tuple[int, int] | None:
    """``step_bounds`` on Postgres, unnesting at most a window's blocks at each end: a block's first and last steps
    are stored steps, and all of a block's steps lie in its first step's window."""
    block, step = MetricBlock, MetricPoint.step
    in_series, of_series = block.series_id == series_id, MetricPoint.series_id == series_id
    if start is None:
        low = session.scalar(select(func.min(block.first_step)).where(in_series))
    else:
        window = window_of(start)
        in_window = step_range(
            session, start, window + BLOCK_STEPS - 1 if end is None else min(window + BLOCK_STEPS - 1, end)
        )
        low = session.scalar(select(func.min(step)).where(of_series, *in_window))
        if low is None:  # none in start's window: the first step of the first block after it
            later = [in_series, block.first_step >= window + BLOCK_STEPS]
            low = session.scalar(
                select(func.min(block.first_step)).where(*later, *([] if end is None else [block.first_step <= end]))
            )
    if low is None or (end is not None and low > end):
        return None
    if end is not None:
        window = window_of(end)
        high = session.scalar(select(func.max(step)).where(of_series, *step_range(session, max(window, low), end)))
        if high is not None:
            return low, high
        top = session.scalar(select(func.max(block.first_step)).where(in_series, block.first_step < window))
    else:
        top = session.scalar(select(func.max(block.first_step)).where(in_series))
    assert top is not None  # the block holding ``low`` is one
    in_top_window = [in_series, block.first_step >= window_of(top), block.first_step <= top]
    high = session.scalar(select(func.max(block.last_step)).where(*in_top_window))
    assert high is not None
    return low, high


def points_of_runs(run_ids: list[int], key: str, *, upto: int | None = None) -> Select[int, int, float | None]:
    """A SELECT of (run id, step, value) of ``key``'s points of every run in ``run_ids`` (steps up to ``upto``)."""
    stmt = (
        select(MetricSeries.run_id, MetricPoint.step, MetricPoint.value)
        .join(MetricSeries, MetricPoint.series_id == MetricSeries.id)
        .where(MetricSeries.run_id.in_(run_ids), MetricSeries.key == key)
    )
    return stmt if upto is None else stmt.where(MetricPoint.step <= upto)


def read_series(
    session: Session,
    *,
    run_id: int,
    key: str,
    max_points: int | None = None,
    start: int | None = None,
    end: int | None = None,
) -> Series:
    """A series in step order; longer than ``max_points``, it keeps each bucket's min and max (spikes survive)."""
    series_id = series_id_of(session, run_id=run_id, key=key)
    if series_id is None:
        return {"step": [], "value": []}
    conditions = [MetricPoint.series_id == series_id, *step_range(session, start, end)]
    if max_points is not None:
        head = select(MetricPoint.step).where(*conditions).limit(max_points + 1).subquery()
        if (session.scalar(select(func.count()).select_from(head)) or 0) > max_points:
            return _downsampled(
                session, run_id=run_id, key=key, series_id=series_id, start=start, end=end, max_points=max_points
            )
    rows = session.execute(select(MetricPoint.step, MetricPoint.value).where(*conditions).order_by(MetricPoint.step))
    steps: list[int] = []
    values: list[float | None] = []
    for step, value in rows:
        steps.append(step)
        values.append(value)
    return {"step": steps, "value": values}


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
    series_id: int,
    start: int | None,
    end: int | None,
    max_points: int,
    from_rollups: bool = True,
) -> Series:
    """The lowest and the highest point of each of about max_points / 2 step buckets, each at its own step.

    Buckets of 32 steps or more are assembled from the stored rollups: the widest level that fits
    (``_grid``) for the whole blocks inside the range, the finer ones for the partial blocks at a zoom's edges,
    and the points themselves only for what is left (under 64 steps at each edge). ``from_rollups=False``
    reads only the points, on the same bucket grid: the same result (tests/backend/test_downsampling.py).
    """
    bounds = step_bounds(session, series_id=series_id, start=start, end=end)
    if bounds is None:
        return {"step": [], "value": []}
    low, high = bounds
    width, level = _grid(low, high, max_points)
    levels = [w for w in ROLLUP_WIDTHS if level is not None and w <= level and from_rollups]
    buckets, raw_ranges = _from_rollups(session, run_id=run_id, key=key, low=low, high=high, width=width, levels=levels)
    # The points themselves: ranked in one query while buckets (or the range) are narrow; wider, a GROUP BY then
    # two index lookups per bucket, which beats sorting all the points once there are hundreds per bucket.
    for range_low, range_high in raw_ranges:
        narrow = min(width, range_high - range_low + 1) <= RANKED_MAX_WIDTH
        raw_extremes = _ranked_extremes if narrow else _grouped_extremes
        in_range = [MetricPoint.series_id == series_id, *step_range(session, range_low, range_high)]
        for index, extremes in raw_extremes(session, in_range, width).items():
            merge(buckets, index, extremes)
    return _min_max_series(buckets)


def _from_rollups(
    session: Session, *, run_id: int, key: str, low: int, high: int, width: int, levels: list[int]
) -> tuple[Buckets, list[tuple[int, int]]]:
    """The buckets of ``width`` steps from the stored blocks that cover steps low..high, the widest of ``levels``
    first (what a level cannot cover goes to the next finer one), and the step ranges no level covers.
    """
    buckets: Buckets = {}
    raw_ranges: list[tuple[int, int]] = []
    pending = [(low, high, levels)]
    while pending:
        range_low, range_high, left = pending.pop()
        if range_low > range_high:
            continue
        if not left:
            raw_ranges.append((range_low, range_high))
            continue
        block_width, finer = left[-1], left[:-1]
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
            merge(buckets, start // width, (vmin, smin, vmax, smax))
    return buckets, raw_ranges


def _min_max_series(buckets: Buckets) -> Series:
    """Each bucket's min and max points in step order (one point when both are at the same step)."""
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
        in_bucket = [*in_range, *step_range(session, smin, smax)]
        at_min = session.scalar(select(step).where(*in_bucket, value == vmin).order_by(step).limit(1))
        at_max = session.scalar(select(step).where(*in_bucket, value == vmax).order_by(step).limit(1))
        found[index] = (vmin, at_min if at_min is not None else smin, vmax, at_max if at_max is not None else smax)
    return found
