"""Metric points in (idempotent batches) and out (series, downsampled to the chart's width)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from backend.api.deps import LeaseHeader, RunId, SessionDep, get_run_or_404
from backend.api.run_request import request_body_schema, validated_json
from backend.schemas import PointsAccepted, PointsIn, Series
from backend.services import leases, metrics

router = APIRouter(prefix="/runs/{run_id}/metrics", tags=["metrics"])


async def points_body(request: Request) -> PointsIn:
    """The batch, parsed from the raw body by pydantic's JSON parser (the hot path of every script and worker)."""
    return validated_json(PointsIn, await request.body())


@router.post("", response_model=PointsAccepted, openapi_extra=request_body_schema(PointsIn))
async def post_metrics(
    run_id: RunId,
    batch: Annotated[PointsIn, Depends(points_body)],
    session: SessionDep,
    request: Request,
    lease: LeaseHeader = None,
) -> PointsAccepted:
    """Add a batch of points, `{"points": [{"key", "step", "value"}, ...]}` or per key as arrays (the shape the
    GET returns, a tenth of the parse), `{"series": {"<key>": {"step": [...], "value": [...]}}}`, or both (at most
    10,000 points in all), sending the run's lease in `X-Trainboard-Lease` (403 without it; 409 when stale: the
    run was re-queued and claimed again, or this attempt already reported its outcome). A point already stored
    for the same (key, step) is kept, so a retried batch never duplicates anything. The reply carries the run's
    status: a worker stops when it reads `cancelled`."""
    state = request.app.state
    try:
        stored = await metrics.add_points_from_loop(
            state.ingest_pool, session, run_id=run_id, points=batch.latest(), lease=lease,
            wake=state.notifier.publish_from_loop,
        )  # fmt: skip
    except leases.WriteRefused as refused:
        raise HTTPException(status_code=refused.status_code, detail=refused.detail) from None
    if stored is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    return PointsAccepted(
        accepted=stored.accepted,
        duplicates=batch.count - stored.accepted,
        status=stored.status,  # type: ignore[arg-type]
        stop_requested=stored.stop_requested,
    )


MAX_KEYS_PER_READ = 64
DEFAULT_MAX_POINTS = 10_000


def _distinct_keys(keys: str) -> list[str]:
    """The requested keys once each, in order; more than MAX_KEYS_PER_READ is a 422 (each key costs a query)."""
    wanted = list(dict.fromkeys(k for k in keys.split(",") if k))
    if len(wanted) > MAX_KEYS_PER_READ:
        msg = f"at most {MAX_KEYS_PER_READ} distinct keys per request, got {len(wanted)}"
        raise HTTPException(status_code=422, detail=[{"loc": ["query", "keys"], "msg": msg, "type": "value_error"}])
    return wanted


@router.get("", response_model=dict[str, Series])
def get_metrics(
    run_id: RunId,
    session: SessionDep,
    keys: Annotated[
        str | None,
        Query(max_length=MAX_KEYS_PER_READ * 65, description="comma-separated, at most 64; all keys when absent"),
    ] = None,
    max_points: Annotated[
        int | None, Query(ge=2, le=1_000_000, description=f"per key; {DEFAULT_MAX_POINTS:,} when absent")
    ] = None,
    start: Annotated[int | None, Query(ge=0, le=2**62, description="first step (zoom)")] = None,
    end: Annotated[int | None, Query(ge=0, le=2**62, description="last step (zoom)")] = None,
) -> dict[str, Series]:
    """Series as `{"<key>": {"step": [...], "value": [...]}}`. A series longer than `max_points` comes back as
    the min and max of each of `max_points / 2` step buckets, so spikes survive; `start`/`end` zoom in.

    `max_points` is 10,000 when absent, so one request never returns more than 10,000 points a key: a series of
    a million points comes back downsampled, one of up to 10,000 exactly as stored. To read every point of a
    longer series, read it in windows of at most 10,000 steps (`start`, `end = start + 9999`). A key named twice
    is read once; at most 64 distinct keys per request. A value JSON cannot carry (NaN, infinity) reads as null."""
    wanted = _distinct_keys(keys) if keys else None
    get_run_or_404(session, run_id)
    if wanted is None:
        wanted = metrics.metric_keys(session, run_id=run_id)
    points = max_points if max_points is not None else DEFAULT_MAX_POINTS
    return {
        key: Series.model_validate(
            metrics.read_series(session, run_id=run_id, key=key, max_points=points, start=start, end=end)
        )
        for key in wanted
    }
