"""What the per-run event log holds: each kind of event and the shape of its data, as stored and as sent on
the run's SSE stream (``GET /api/runs/{id}/events``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NotRequired, TypedDict


class EventKind(StrEnum):
    """What a stored event says; the SSE frame's ``event:`` name, which frontend/js/live.js listens for."""

    STATUS = "status"  # the run's state changed (StatusEventData)
    METRICS = "metrics"  # new points (MetricsEventData)
    INTERRUPTED = "interrupted"  # the run's worker stopped responding (InterruptedEventData)
    WARNING = "warning"  # something the user should know that does not stop the run (WarningEventData)
    LOG = "log"  # new lines of the run's log (LogEventData)
    EDITED = "edited"  # a user renamed, retagged, annotated, archived or restored the run (EditedEventData)


class StatusEventData(TypedDict):
    status: str
    epoch: int
    progress: float
    summary: dict[str, Any] | None
    error: str | None
    stop_requested: str | None
    worker: str | None
    held_gpus: list[str] | None
    attempts: int
    started_at: str | None
    finished_at: str | None
    status_detail: str  # RunOut.status_detail: the run page shows it as it comes


class SeriesData(TypedDict):
    step: list[int]
    value: list[float | None]


MetricsEventData = dict[str, SeriesData]  # per metric key, its new points in step order: what the stream sends


class SeriesSpan(TypedDict):
    first: int  # the lowest step of the key's new points
    last: int  # the highest
    n: int  # how many there are


# What a ``metrics`` event stores since revision 0013: per key, the span of its new points, which ``metric_points``
# holds with the event's seq. Events stored before hold MetricsEventData itself; the stream sends both alike.
MetricsAnnouncement = dict[str, SeriesSpan]


class InterruptedEventData(TypedDict):
    worker: str | None
    attempt: int
    epoch: int
    at: str


class WarningEventData(TypedDict):
    message: str
    artifact: str
    size: int | None


class LogEventData(TypedDict):
    first_line: int  # the number of the first line (``GET /runs/{id}/logs?offset=first_line`` reads them too)
    lines: list[str]  # consecutive lines, only those that were new
    refused: NotRequired[int]  # present once the log is at its limit: how many lines it refused so far


class EditedEventData(TypedDict):
    name: str
    tags: list[str]
    notes: str
    archived: bool


EventData = (
    StatusEventData
    | MetricsEventData
    | MetricsAnnouncement
    | InterruptedEventData
    | WarningEventData
    | LogEventData
    | EditedEventData
)
