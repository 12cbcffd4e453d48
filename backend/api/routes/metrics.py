"""Metric points in (idempotent batches) and out (series, downsampled to the chart's width)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from backend.api.deps import NotifierDep, RunId, SessionDep, get_run_or_404
from backend.schemas import PointsAccepted, PointsIn, Series
from backend.services import metrics

router = APIRouter(prefix="/runs/{run_id}/metrics", tags=["metrics"])


@router.post("", response_model=PointsAccepted)
def post_metrics(run_id: RunId, batch: PointsIn, session: SessionDep, notifier: NotifierDep) -> PointsAccepted:
    """Add a batch of points `{"points": [{"key", "step", "value"}, ...]}`. A point already stored for the
    same (key, step) is kept, so a retried batch never duplicates anything. The reply carries the run's
    status: a worker stops when it reads `cancelled`."""
    run, accepted = metrics.add_points(session, run_id=run_id, points=batch.points)
    if run is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    if accepted:
        notifier.publish(run_id)
    return PointsAccepted(
        accepted=accepted,
        duplicates=len(batch.points) - accepted,
        status=run.status,  # type: ignore[arg-type]
        stop_requested=run.stop_requested,
    )


@router.get("", response_model=dict[str, Series])
def get_metrics(
    run_id: RunId,
    session: SessionDep,
    keys: Annotated[str | None, Query(max_length=2000, description="comma-separated; all keys when absent")] = None,
    max_points: Annotated[int | None, Query(ge=2, le=1_000_000)] = None,
    start: Annotated[int | None, Query(ge=0, le=2**62, description="first step (zoom)")] = None,
    end: Annotated[int | None, Query(ge=0, le=2**62, description="last step (zoom)")] = None,
) -> dict[str, Series]:
    """Series as `{"<key>": {"step": [...], "value": [...]}}`. With `max_points`, a longer series comes back as
    the min and max of each of `max_points / 2` step buckets, so spikes survive; `start`/`end` zoom in."""
    get_run_or_404(session, run_id)
    wanted = [k for k in keys.split(",") if k] if keys else metrics.metric_keys(session, run_id=run_id)
    return {
        key: Series.model_validate(
            metrics.read_series(session, run_id=run_id, key=key, max_points=max_points, start=start, end=end)
        )
        for key in wanted
    }
