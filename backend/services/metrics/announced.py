"""The points of ``metrics`` events, read back for the live stream: an event stores only the span of steps of each
key's new points (``ingest.announcement``), and ``metric_points`` holds them once, with the event's seq."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from backend.models import MetricPoint, MetricSeries, RunEvent
from backend.services.event_kinds import EventKind, MetricsEventData, SeriesData
from backend.services.metrics.reads import step_range

KEYS_PER_STATEMENT = 100  # one SELECT per key, UNION ALL'd; SQLite allows 500 terms in a compound SELECT


def is_announcement(data: dict[str, Any]) -> bool:
    """Whether a ``metrics`` event's data names spans (since revision 0013) rather than carrying the points."""
    return any(isinstance(span, dict) and "first" in span for span in data.values())


def event_data(session: Session, *, run_id: int, events: Sequence[RunEvent]) -> list[dict[str, Any]]:
    """Each event's data as the stream sends it: announcements replaced by the points they announce, per key in
    step order (one statement for the whole batch of events, each key read by its primary-key range)."""
    announcements = {e.seq: e.data for e in events if e.kind == EventKind.METRICS.value and is_announcement(e.data)}
    if not announcements:
        return [e.data for e in events]
    points = _points(session, run_id=run_id, announcements=announcements)
    return [points[e.seq] if e.seq in announcements else e.data for e in events]


def _points(session: Session, *, run_id: int, announcements: dict[int, dict[str, Any]]) -> dict[int, MetricsEventData]:
    ranges: dict[str, tuple[int, int, int, int]] = {}  # per key: lowest and highest step, first and last seq
    for seq, spans in announcements.items():
        for key, span in spans.items():
            low, high, first_seq, last_seq = ranges.get(key, (span["first"], span["last"], seq, seq))
            ranges[key] = (min(low, span["first"]), max(high, span["last"]), min(first_seq, seq), max(last_seq, seq))
    ids = dict(
        session.execute(
            select(MetricSeries.id, MetricSeries.key).where(
                MetricSeries.run_id == run_id, MetricSeries.key.in_(sorted(ranges))
            )
        ).all()
    )
    found: dict[int, MetricsEventData] = {seq: {} for seq in announcements}
    series = sorted(ids)
    for start in range(0, len(series), KEYS_PER_STATEMENT):
        selects = []
        for series_id in series[start : start + KEYS_PER_STATEMENT]:
            low, high, first_seq, last_seq = ranges[ids[series_id]]
            selects.append(
                select(MetricPoint.series_id, MetricPoint.seq, MetricPoint.step, MetricPoint.value).where(
                    MetricPoint.series_id == series_id,
                    *step_range(session, low, high),
                    MetricPoint.seq.between(first_seq, last_seq),
                )
            )
        statement = union_all(*selects) if len(selects) > 1 else selects[0]
        for series_id, seq, step, value in session.execute(statement):
            if seq in found:
                series_points = found[seq].setdefault(ids[series_id], {"step": [], "value": []})
                series_points["step"].append(step)
                series_points["value"].append(value)
    return {seq: {key: _in_step_order(by_key[key]) for key in sorted(by_key)} for seq, by_key in found.items()}


def _in_step_order(points: SeriesData) -> SeriesData:
    steps, values = points["step"], points["value"]
    if all(a < b for a, b in zip(steps, steps[1:], strict=False)):
        return points
    order = sorted(range(len(steps)), key=steps.__getitem__)
    return {"step": [steps[i] for i in order], "value": [values[i] for i in order]}
