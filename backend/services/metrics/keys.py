"""A run's logged keys, each with its point count and its last point, from the rollups: a handful of rows per key
however long the series (the count is the sum of the widest level's block counts, the last point one index
lookup), so a run of millions of points answers in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from backend.models import ROLLUP_WIDTHS, MetricPoint, MetricRollup, MetricSeries


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
    rollup, series, point, later = MetricRollup, MetricSeries, MetricPoint, aliased(MetricPoint)
    counts = (
        select(rollup.key.label("key"), func.sum(rollup.n).label("count"))
        .where(rollup.run_id == run_id, rollup.width == ROLLUP_WIDTHS[-1])
        .group_by(rollup.key)
        .subquery()
    )
    # One backward step in the primary key's index per key, on SQLite and Postgres alike.
    last_step = select(func.max(later.step)).where(later.series_id == series.id).correlate(series).scalar_subquery()
    rows = session.execute(
        select(counts.c.key, counts.c.count, point.step, point.value)
        .join(series, and_(series.run_id == run_id, series.key == counts.c.key))
        .join(point, and_(point.series_id == series.id, point.step == last_step))
    )
    # Sorted here, by code point: a database's collation would order "train/b" and "train_a" its own way.
    return sorted(KeyStats(key, int(count), step, value) for key, count, step, value in rows)
