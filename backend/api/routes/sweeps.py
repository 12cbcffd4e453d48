"""Sweeps: grid or random searches over a base run spec, one run per combination or draw."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlalchemy import select

from backend.api.deps import CeleryDep, SessionDep, SettingsDep, SweepId
from backend.finite import json_safe
from backend.models import Run, Sweep
from backend.schemas import MAX_OFFSET, SweepPatch
from backend.services import curation, queue
from backend.services import runs as run_service
from backend.services.runs import ArchivedFilter
from backend.services.sweep_scores import objective
from backend.services.sweep_search import MoreRuns, add_more, create_sweep, stop
from backend.services.sweeps import SweepError, SweepIn, results, sweep_page

router = APIRouter(tags=["sweeps"])


def sweep_out(session: SessionDep, sweep: Sweep) -> dict[str, Any]:
    """A sweep as the API shows it: its spec, runs, status counts, best run and results table."""
    rows = results(session, sweep=sweep)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    metric, goal = objective(sweep)
    return {
        "id": sweep.id,
        "name": sweep.name,
        "preset": sweep.preset,
        "notes": sweep.notes or "",
        "archived": bool(sweep.archived),
        "spec": json_safe(sweep.spec),  # rows of older versions may hold NaN or infinity
        "created_at": sweep.created_at,
        "runs": sorted(row["run_id"] for row in rows),
        "status_counts": counts,
        "best_run_id": next((row["run_id"] for row in rows if row["best"]), None),
        "metric": metric,
        "goal": goal,
        "summary_keys": sorted({key for row in rows for key in row["summary"]}),
        "stopped": sweep.stopped_at is not None,
        "results": rows,
    }


def launch_sweep(
    session: SessionDep,
    celery: CeleryDep,
    settings: SettingsDep,
    sweep: SweepIn,
    preset: str | None,
) -> Sweep:
    """Create the sweep's runs (a 422 names the field of a bad one) and queue them."""
    try:
        row, runs = create_sweep(session, sweep=sweep, max_run_gb=settings.max_run_gb, preset=preset)
    except SweepError as exc:
        raise HTTPException(status_code=422, detail=exc.details) from exc
    queue.enqueue(celery, runs)
    return row


@router.post("/sweeps", status_code=status.HTTP_201_CREATED)
def post_sweep(sweep: SweepIn, session: SessionDep, celery: CeleryDep, settings: SettingsDep) -> dict[str, Any]:
    """Launch a sweep: `{"name", "base": <run spec>, "grid": {"<dotted key>": [values, ...]}}` makes one run per
    combination; `"method": "random"` with `n` draws n runs (values from lists, or `{"min", "max", "log",
    "integer"}`); `"method": "tpe"` with `n` runs Optuna's TPE over the same space, each next run proposed from
    the scores of the runs so far (`metric`, default `valid_acc`, and `goal`: `maximize` or `minimize`).
    `parallel` caps how many runs of the sweep are queued or running at once; the next start as runs end."""
    return sweep_out(session, launch_sweep(session, celery, settings, sweep, None))


@router.get("/sweeps")
def list_sweeps(
    session: SessionDep,
    response: Response,
    preset: Annotated[
        str | None, Query(max_length=32, description="only sweeps of this preset (e.g. fig1), or `any` preset")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    archived: Annotated[ArchivedFilter, Query(description="hidden (false), only them (true), or all")] = "false",
) -> list[dict[str, Any]]:
    """Sweeps, newest first, one page at a time, each with its run ids, status counts and best run (the results
    table is in `GET /sweeps/{id}`); archived ones only with `archived=true|all`. The total count is in the
    `X-Total-Count` header."""
    page, total = sweep_page(session, preset=preset, limit=limit, offset=offset, archived=archived)
    response.headers["X-Total-Count"] = str(total)
    return page


@router.get("/sweeps/{sweep_id}")
def get_sweep(sweep_id: SweepId, session: SessionDep) -> dict[str, Any]:
    """A sweep with its runs and a results table (best validation accuracy first, the best run marked)."""
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise HTTPException(status_code=404, detail=f"sweep {sweep_id} not found")
    return sweep_out(session, sweep)


@router.patch("/sweeps/{sweep_id}")
def edit_sweep(sweep_id: SweepId, patch: SweepPatch, session: SessionDep) -> dict[str, Any]:
    """Rename a sweep, write its Markdown notes, or archive it: `"archived": true` hides the sweep and all its
    runs from the lists until restored with `false`. Fields left out stay as they are."""
    try:
        sweep = curation.edit_sweep(session, sweep_id=sweep_id, patch=patch)
    except curation.CurationRefused as refused:
        raise HTTPException(status_code=refused.status_code, detail=refused.detail) from None
    return sweep_out(session, sweep)


@router.delete("/sweeps/{sweep_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_sweep(sweep_id: SweepId, session: SessionDep, settings: SettingsDep) -> Response:
    """Delete a sweep and every run of it, with their metrics, events, logs and files. A sweep with a queued or
    running run is a 409 naming them: cancel the sweep first."""
    try:
        curation.delete_sweep(session, sweep_id=sweep_id, artifacts_root=settings.artifacts_dir)
    except curation.CurationRefused as refused:
        raise HTTPException(status_code=refused.status_code, detail=refused.detail) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sweeps/{sweep_id}/cancel")
def cancel_sweep(sweep_id: SweepId, session: SessionDep) -> dict[str, Any]:
    """Cancel every run of the sweep that has not finished; it launches no more (adding runs starts it again)."""
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise HTTPException(status_code=404, detail=f"sweep {sweep_id} not found")
    stop(session, sweep=sweep)
    run_ids = session.scalars(select(Run.id).where(Run.sweep_id == sweep_id)).all()
    for run_id in run_ids:
        run_service.cancel_run(session, run_id=run_id)
    return sweep_out(session, sweep)


@router.post("/sweeps/{sweep_id}/runs", status_code=status.HTTP_201_CREATED)
def add_sweep_runs(
    sweep_id: SweepId, more: MoreRuns, session: SessionDep, celery: CeleryDep, settings: SettingsDep
) -> dict[str, Any]:
    """Grow a sweep: `{"n": 4}` adds 4 runs to a random or tpe sweep's budget; `{"grid": {"<key>": [values]}}`
    adds values to a grid (or tpe) sweep's key, and so the combinations they make. A cancelled sweep starts again.
    The runs start now, up to the sweep's `parallel`."""
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise HTTPException(status_code=404, detail=f"sweep {sweep_id} not found")
    try:
        add_more(session, celery, sweep=sweep, more=more, max_run_gb=settings.max_run_gb)
    except SweepError as exc:
        session.rollback()
        raise HTTPException(status_code=422, detail=exc.details) from exc
    return sweep_out(session, sweep)
