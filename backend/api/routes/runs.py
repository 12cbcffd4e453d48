"""Runs: launch, list, inspect, cancel, and the status reports workers send."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from backend.api.deps import CeleryDep, NotifierDep, RunId, SessionDep, get_run_or_404
from backend.schemas import RunOut, StatusUpdate
from backend.services import queue, runs
from trainboard.spec import RunSpec

router = APIRouter(prefix="/runs", tags=["runs"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RunOut)
def create_run(spec: RunSpec, session: SessionDep, celery: CeleryDep, notifier: NotifierDep) -> RunOut:
    """Launch a run. It is stored, then queued for a worker; with `"external": true` no worker runs it and
    your own script posts its metrics."""
    (run,) = runs.add_runs(session, [runs.new_run(spec=spec)])
    queue.enqueue(celery, [run])
    notifier.publish(run.id)
    return RunOut.model_validate(run)


@router.get("", response_model=list[RunOut])
def list_runs(
    session: SessionDep,
    response: Response,
    status_: Annotated[str | None, Query(alias="status", max_length=100, description="comma-separated")] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    sweep_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    q: Annotated[str | None, Query(max_length=200, description="free text: name, tag, architecture, id")] = None,
    sort: runs.SortKey = "id",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[RunOut]:
    """List runs, newest first, one page at a time. The total count is in the `X-Total-Count` header."""
    page, total = runs.list_runs(
        session,
        status=status_,
        tag=tag,
        sweep_id=sweep_id,
        q=q,
        sort=sort,
        descending=order == "desc",
        limit=limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(total)
    return [RunOut.model_validate(run) for run in page]


@router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: RunId, session: SessionDep) -> RunOut:
    """A run: its spec, status, epoch, summary, error and the worker that ran it."""
    return RunOut.model_validate(get_run_or_404(session, run_id))


@router.post("/{run_id}/cancel", response_model=RunOut)
def cancel_run(run_id: RunId, session: SessionDep, notifier: NotifierDep) -> RunOut:
    """Cancel a run. A queued run never starts; a running one stops within seconds and keeps its metrics."""
    run = runs.cancel_run(session, run_id=run_id)
    if run is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    notifier.publish(run_id)
    return RunOut.model_validate(run)


@router.post("/{run_id}/status", response_model=RunOut)
def report_status(run_id: RunId, update: StatusUpdate, session: SessionDep, notifier: NotifierDep) -> RunOut:
    """Workers (or your script, for an external run) report progress, the outcome and the summary here.
    A finished or cancelled run stays as it is; the reply tells the caller its current status."""
    run = runs.update_status(session, run_id=run_id, update=update)
    if run is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    notifier.publish(run_id)
    return RunOut.model_validate(run)
