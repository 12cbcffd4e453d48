"""Runs: launch, list, inspect, edit, delete, cancel, and the status reports workers send."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Response, status
from sqlalchemy.orm import Session

from backend.api.deps import CeleryDep, LeaseHeader, RunId, SessionDep, SettingsDep, get_run_or_404
from backend.api.run_request import parse_run_request, request_body_schema
from backend.models import Run
from backend.schemas import MAX_OFFSET, TERMINAL, ClaimIn, CommandRunIn, ExternalRunIn, RunOut, RunPatch, StatusUpdate
from backend.services import curation, leases, queue, runs, sweep_search, workers
from backend.services.run_query_sql import KEYS, QueryError
from trainboard.estimate import RunTooLarge, check_fits
from trainboard.settings import Settings
from trainboard.spec import RunSpec

router = APIRouter(prefix="/runs", tags=["runs"])

QUERY_HELP = (
    "free text (name, tag, architecture, id), or a query: `key OP value` terms (OP: = != < <= > >= ~ :) joined by "
    "and, or, not and parentheses, e.g. `config.optimizer.lr >= 0.01 and summary.best_valid_acc > 0.9 and tag:fig5`;"
    " keys: config.<dotted key>, summary.<dotted key>, " + ", ".join(KEYS)
)
SORT_HELP = "a column (" + ", ".join(runs.SORTABLE) + ") or a config or summary key (`config.lr`); runs lacking it last"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RunOut,
    openapi_extra=request_body_schema(RunSpec, ExternalRunIn, CommandRunIn),
)
def create_run(
    body: Annotated[dict[str, Any], Body()], session: SessionDep, celery: CeleryDep, settings: SettingsDep
) -> RunOut:
    """Launch a run. A run spec is stored, then queued for a worker. With `"external": true` no worker runs it
    and your own script posts its metrics, sending the reply's `lease` in `X-Trainboard-Lease`; such a run is
    either `{"external": true, "name", "tags", "config": {...any JSON mapping...}}` (what `trainboard.init`
    sends) or a full run spec. A spec whose estimated memory is over `TRAINBOARD_MAX_RUN_GB` is a 422 naming
    the field to change. A command run, `{"name", "command": [...], "config": {...}, "device", "gpus", "tags"}`,
    is your own command, run by a worker started with `trainboard worker --code DIR`: each `{dotted.key}` of the
    command is filled from `config` (a missing one is a 422 naming it), and the reply's `argv` is the filled
    command."""
    request = parse_run_request(body)
    if isinstance(request, ExternalRunIn):
        run = runs.new_external_run(request)
    elif isinstance(request, CommandRunIn):
        run = runs.new_command_run(request)
    else:
        _check_fits(request, max_gb=settings.max_run_gb)
        run = runs.new_run(spec=request)
    lease = leases.issue(run) if run.external else None
    runs.add_runs(session, [run])
    queue.enqueue(celery, [run])
    return _with_places(session, settings, [run])[0].model_copy(update={"lease": lease})


def _check_fits(spec: RunSpec, *, max_gb: float) -> None:
    """A 422 naming the field for a spec no worker could hold; an external run's size is its script's business."""
    if spec.external:
        return
    try:
        check_fits(spec, max_gb=max_gb)
    except RunTooLarge as exc:
        detail = [{"loc": ["body", *exc.field], "msg": exc.msg, "type": "value_error"}]
        raise HTTPException(status_code=422, detail=detail) from None


@router.get("", response_model=list[RunOut])
def list_runs(
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    status_: Annotated[str | None, Query(alias="status", max_length=100, description="comma-separated")] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    sweep_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    q: Annotated[str | None, Query(max_length=2000, description=QUERY_HELP)] = None,
    sort: Annotated[str, Query(max_length=200, description=SORT_HELP)] = "id",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    archived: Annotated[runs.ArchivedFilter, Query(description="hidden (false), only them (true), or all")] = "false",
) -> list[RunOut]:
    """List runs, newest first, one page at a time; archived runs only with `archived=true` (only them) or
    `archived=all`. The total count is in the `X-Total-Count` header. A bad `q` or `sort` is a 422 whose message
    names the position (characters from 0) and what was expected there."""
    try:
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
            archived=archived,
        )
    except QueryError as bad:
        where = {"position": bad.position}
        detail = [{"loc": ["query", bad.param], "msg": str(bad), "type": "value_error", "ctx": where}]
        raise HTTPException(status_code=422, detail=detail) from None
    response.headers["X-Total-Count"] = str(total)
    return _with_places(session, settings, page)


@router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: RunId, session: SessionDep, settings: SettingsDep) -> RunOut:
    """A run: its spec, status, epoch, summary, error and the worker that ran it; while queued, how many runs
    are ahead of it and how many online workers take its queue (`status_detail` says both in words)."""
    return _with_places(session, settings, [get_run_or_404(session, run_id)])[0]


def _with_places(session: Session, settings: Settings, page: list[Run]) -> list[RunOut]:
    """The runs as the API shows them, each queued one with its place in its queue."""
    places = workers.queue_places(session, page, offline_after_s=settings.stale_after_s)
    out = [RunOut.model_validate(run) for run in page]
    return [run.model_copy(update=asdict(places[run.id])) if run.id in places else run for run in out]


@router.patch("/{run_id}", response_model=RunOut)
def edit_run(run_id: RunId, patch: RunPatch, session: SessionDep, settings: SettingsDep) -> RunOut:
    """Rename a run, replace its tags, write its Markdown notes, or archive it (`"archived": true` hides it from
    the runs table until restored with `false`). Fields left out stay as they are; a bad one is a 422 naming it.
    An open run page hears of the change on the live stream (an `edited` event)."""
    try:
        run = curation.edit_run(session, run_id=run_id, patch=patch)
    except curation.CurationRefused as refused:
        raise HTTPException(status_code=refused.status_code, detail=refused.detail) from None
    return _with_places(session, settings, [run])[0]


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_run(run_id: RunId, session: SessionDep, settings: SettingsDep) -> Response:
    """Delete a finished run for good: its metrics, events, log and artifact files go and their space is freed.
    A queued or running run is a 409: cancel it first."""
    try:
        curation.delete_run(session, run_id=run_id, artifacts_root=settings.artifacts_dir)
    except curation.CurationRefused as refused:
        raise HTTPException(status_code=refused.status_code, detail=refused.detail) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{run_id}/cancel", response_model=RunOut)
def cancel_run(run_id: RunId, session: SessionDep, celery: CeleryDep, settings: SettingsDep) -> RunOut:
    """Cancel a run. A queued run never starts; a running one stops within seconds and keeps its metrics.
    A run of a sweep with `parallel` (or tpe) leaves its place to the sweep's next run."""
    run = runs.cancel_run(session, run_id=run_id)
    if run is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    return _after_report(session, celery, run, max_run_gb=settings.max_run_gb)


def _after_report(session: Session, celery: CeleryDep, run: Run, *, max_run_gb: float) -> RunOut:
    """The reply; a run that has ended lets its sweep launch its next runs."""
    out = RunOut.model_validate(run)
    if out.status in TERMINAL:
        sweep_search.launch_next(session, celery, sweep_id=run.sweep_id, max_run_gb=max_run_gb)
    return out


@router.post("/{run_id}/claim", response_model=RunOut)
def claim_run(run_id: RunId, claim: ClaimIn, session: SessionDep) -> RunOut:
    """A worker takes a queued run: it becomes `running` on that worker, and the reply's `lease` (shown only
    here) must come with every status, metric and artifact write of this attempt, in `X-Trainboard-Lease`.
    A run that is not queued is a 409 naming its status."""
    try:
        claimed = runs.claim_run(session, run_id=run_id, worker=claim.worker, gpus=claim.gpus)
    except leases.WriteRefused as refused:
        raise HTTPException(status_code=refused.status_code, detail=refused.detail) from None
    if claimed is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    run, lease = claimed
    return RunOut.model_validate(run).model_copy(update={"lease": lease})


@router.post("/{run_id}/status", response_model=RunOut)
def report_status(
    run_id: RunId,
    update: StatusUpdate,
    session: SessionDep,
    celery: CeleryDep,
    settings: SettingsDep,
    lease: LeaseHeader = None,
) -> RunOut:
    """The attempt holding the run's lease (a worker, or your script for an external run) reports progress,
    the outcome and the summary here. Without the lease: 403; with a stale one (the run was re-queued and
    claimed again): 409, and the caller must stop. `running` comes only from a claim; a finished or cancelled
    run stays as it is, and the reply tells the caller its current status. An external run's script sends its
    whole `config` here when it changes (so only the attempt holding the lease can change it); a built-in run's
    config is its spec: sending one is a 409."""
    try:
        run = runs.update_status(session, run_id=run_id, update=update, lease=lease)
    except leases.WriteRefused as refused:
        raise HTTPException(status_code=refused.status_code, detail=refused.detail) from None
    if run is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    return _after_report(session, celery, run, max_run_gb=settings.max_run_gb)
