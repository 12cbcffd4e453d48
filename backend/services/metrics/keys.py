"""A run's logged keys, each with its point count and its last point, from the rollups: a handful of rows per key
however long the series (the count is the sum of the widest level's block counts, the last point one index
lookup), so a run of millions of points answers in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from backend.models import ROLLUP_WIDTHS, MetricBlock, MetricPoint, MetricRollup, MetricSeries, window_of


@dataclass(frozen=True, order=True)
class KeyStats:
    key: str
    count: int
    last_step: int
    last_value: float | None


def key_stats(session: Session, *, run_id: int) -> list[KeyStats]:
    """Every key the run logged, sorted by code point: how many points it holds and its point at the highest step.

    A retried batch's duplicates were never stored, so they are not counted; NaN and infinities were stored as NULL.
    """
    rollup = MetricRollup
    counts = session.execute(
        select(rollup.key, func.sum(rollup.n))
        .where(rollup.run_id == run_id, rollup.width == ROLLUP_WIDTHS[-1])
        .group_by(rollup.key)
    )
    last = _last_points(session, run_id=run_id)
    # Sorted here, by code point: a database's collation would order "train/b" and "train_a" its own way.
    return sorted(KeyStats(key, int(count), *last[key]) for key, count in counts if key in last)


def _last_points(session: Session, *, run_id: int) -> dict[str, tuple[int, float | None]]:
    """Each series' point at its highest step: one backward step in the primary key's index per key. On Postgres,
    the block ending highest among those in the window of the series' last block (a block's steps all lie in its
    first step's window, in step order, so its last value is the point)."""
    series = MetricSeries
    if session.get_bind().dialect.name == "postgresql":
        block, top = MetricBlock, aliased(MetricBlock)
        top_first = (
            select(func.max(top.first_step)).where(top.series_id == series.id).correlate(series).scalar_subquery()
        )
        highest = (
            select(block.last_step, block.vals[func.cardinality(block.vals)].label("value"))
            .where(block.series_id == series.id, block.first_step >= window_of(top_first))
            .order_by(block.last_step.desc())
            .limit(1)
            .lateral()
        )
        rows = session.execute(select(series.key, highest.c.last_step, highest.c.value).where(series.run_id == run_id))
    else:
        point, later = MetricPoint, aliased(MetricPoint)
        last_step = select(func.max(later.step)).where(later.series_id == series.id).scalar_subquery()
        rows = session.execute(
            select(series.key, point.step, point.value)
            .join(point, and_(point.series_id == series.id, point.step == last_step))
            .where(series.run_id == run_id)
        )
    return {key: (step, value) for key, step, value in rows}
