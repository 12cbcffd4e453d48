"""Run lifecycle: create, list, claim, report status, cancel."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Run, utcnow
from backend.schemas import EXTERNAL_RUN_NAME, TERMINAL, CommandRunIn, ExternalRunIn, StatusUpdate
from backend.services import leases, run_query
from backend.services.events import append_status_event, locked_run, status_event_data
from backend.services.leases import WriteRefused
from backend.services.run_query_sql import sort_columns
from trainboard.queue import queue_for_device
from trainboard.spec import RunSpec

logger = logging.getLogger(__name__)

SORTABLE = {
    "id": Run.id,
    "name": Run.name,
    "status": Run.status,
    "created_at": Run.created_at,
    "epoch": Run.epoch,
    "dataset": Run.dataset,
    "arch": Run.arch,
    "batch_size": Run.batch_size,
    "lr": Run.lr,
    "best_valid_acc": Run.best_valid_acc,
    "test_acc_at_best": Run.test_acc_at_best,
    "duration_s": Run.duration_s,
}

ArchivedFilter = Literal["false", "true", "all"]  # the runs table's default hides archived runs


def new_run(*, spec: RunSpec, sweep_id: int | None = None) -> Run:
    """A Run row for ``spec`` (not yet added to a session)."""
    spec_json = spec.model_dump(mode="json")
    return _fresh_run(
        tags=spec.tags,
        started=spec.external,  # a script's run runs from the start; a worker's waits for a claim
        name=spec.display_name(),
        spec=spec_json,
        config=spec_json,  # a built-in run's config is its spec
        queue=queue_for_device(spec.device),
        external=spec.external,
        sweep_id=sweep_id,
        dataset=spec.dataset,
        arch=spec.model.arch,
        batch_size=spec.batch_size,
        lr=spec.optimizer.lr,
    )


def new_external_run(request: ExternalRunIn) -> Run:
    """A Run row for a script's own run (not yet added to a session): any config, and no spec of the built-in loop.

    Its ``spec`` holds only what a spec and such a run share (name, tags, external), so readers of ``spec`` find
    the run's name and tags there; the columns copied from a spec for the runs table stay empty.
    """
    return _fresh_run(
        tags=request.tags,
        started=True,
        name=request.name or EXTERNAL_RUN_NAME,
        spec={"name": request.name, "tags": list(request.tags), "external": True},
        config=request.config,
        queue=queue_for_device("auto"),
        external=True,
    )


def _fresh_run(*, tags: Sequence[str], started: bool, **fields: Any) -> Run:
    """A Run row no attempt has touched yet: no epoch, no progress, no event. ``started``: it runs from now (a
    script's run), else it is queued for a worker."""
    now = utcnow()
    return Run(
        **fields,
        status="running" if started else "queued",
        tags=tags_column(tags),
        epoch=0,
        progress=0.0,
        attempts=0,
        event_seq=0,
        created_at=now,
        started_at=now if started else None,
    )


def tags_column(tags: Sequence[str]) -> str:
    """The run's tags as the ``tags`` column stores them: ",a,b," (a tag filter is a LIKE on ",tag,")."""
    return "".join(f",{tag}" for tag in tags) + ("," if tags else "")


def new_command_run(request: CommandRunIn, *, sweep_id: int | None = None) -> Run:
    """A Run row for a command run (not yet added to a session), queued for a worker that runs commands.

    Its ``spec`` holds the request as sent (so Clone finds everything there); ``config`` is what the placeholders
    are filled from, and what ``trainboard.init()`` in the command reads."""
    return _fresh_run(
        tags=request.tags,
        started=False,
        name=request.name or " ".join(request.command)[:200],
        spec=request.model_dump(mode="json"),
        config=request.config,
        command=list(request.command),
        gpus=request.gpus,
        queue=queue_for_device("cuda" if request.gpus else request.device, command=True, gpus=request.gpus or 0),
        external=False,
        sweep_id=sweep_id,
    )


def add_runs(session: Session, runs: list[Run]) -> list[Run]:
    """Insert runs and their first status event, and commit: only committed runs are ever enqueued."""
    session.add_all(runs)
    session.flush()
    for run in runs:
        append_status_event(session, run)
    session.commit()
    return runs


def list_runs(
    session: Session,
    *,
    status: str | None = None,
    tag: str | None = None,
    sweep_id: int | None = None,
    q: str | None = None,
    sort: str = "id",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    archived: ArchivedFilter = "false",
) -> tuple[list[Run], int]:
    """One page of runs matching the filters and the query ``q`` (services/run_query.py), and how many match in
    all; archived runs only when asked for. ``sort``: a column of SORTABLE or a config or summary key
    ("config.optimizer.lr"); QueryError if bad."""
    stmt = select(Run)
    if archived != "all":
        stmt = stmt.where(Run.archived.is_(archived == "true"))
    if status:
        stmt = stmt.where(Run.status.in_(status.split(",")))
    if tag:
        stmt = stmt.where(Run.tags.contains(f",{tag},", autoescape=True))
    if sweep_id is not None:
        stmt = stmt.where(Run.sweep_id == sweep_id)
    if q:
        stmt = stmt.where(run_query.condition(q, dialect=session.get_bind().dialect.name))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ordering = sort_columns(sort, descending=descending, dialect=session.get_bind().dialect.name, sortable=SORTABLE)
    stmt = stmt.order_by(*ordering).limit(limit).offset(offset)
    return list(session.scalars(stmt)), total


def claim_run(session: Session, *, run_id: int, worker: str, gpus: list[str] | None = None) -> tuple[Run, str] | None:
    """Start an attempt of a queued run on ``worker``; returns the run and the attempt's lease (None: no run).

    An external run created without a lease (by a sweep) is claimed once by the script that trains it."""
    with locked_run(session, run_id) as run:
        if run is None:
            return None
        if not (run.status == "queued" or (run.external and run.status == "running" and run.lease_hash is None)):
            session.rollback()
            raise WriteRefused(409, f"run {run_id} is {_status_words(run)}: only a queued run can be claimed")
        now = utcnow()
        lease = leases.issue(run)
        if run.status == "queued":
            run.status = "running"
            run.attempts += 1
            run.started_at = run.started_at or now
        run.worker = worker
        run.held_gpus = list(gpus) if gpus else None
        run.heartbeat_at = now
        append_status_event(session, run)
        session.commit()
        return run, lease


def update_status(session: Session, *, run_id: int, update: StatusUpdate, lease: str | None) -> Run | None:
    """Apply the report of the attempt holding ``lease`` (WriteRefused otherwise). A finished or cancelled run
    stays so; the caller learns it from the reply. A cancelled run still takes its attempt's last word on how far
    it got (epoch, progress, summary so far): the cancel reached the worker mid-epoch, before it could say."""
    with locked_run(session, run_id) as run:
        if run is None:
            return None
        try:
            leases.check(run, lease)
            _check_transition(run, update)
            _check_config(run, update)
        except WriteRefused:
            session.rollback()
            raise
        if run.status == "cancelled":
            update = update.model_copy(update={"status": None, "error": None})
        elif run.status in TERMINAL:
            session.rollback()
            return run
        changed = _apply(run, update)
        if changed:
            append_status_event(session, run)
        session.commit()
        return run


def _check_transition(run: Run, update: StatusUpdate) -> None:
    """Only a claim starts an attempt and only the reaper re-queues: a report moves a run to a final state."""
    if update.status == "running":
        raise WriteRefused(
            409, f"run {run.id}: 'running' is set by claiming the run (POST /api/runs/{run.id}/claim), not reported"
        )
    if update.status == "queued":
        raise WriteRefused(
            409,
            f"run {run.id}: a run goes back to the queue only when its worker stops responding; "
            "report 'succeeded', 'failed' or 'cancelled', or leave status out",
        )


def _check_config(run: Run, update: StatusUpdate) -> None:
    """Only a script's own run (external, or a command run's script) takes a new config: a built-in run's config
    is the spec its worker trains."""
    if update.config is not None and not run.external and run.command is None:
        raise WriteRefused(
            409, f"run {run.id} is a built-in run: its config is its spec, which does not change; leave out 'config'"
        )


def _status_words(run: Run) -> str:
    if run.status == "running":
        return f"running (attempt {run.attempts} on {run.worker or 'a script'})"
    return run.status


def _apply(run: Run, update: StatusUpdate) -> bool:
    now = utcnow()
    before = status_event_data(run)
    run.heartbeat_at = now
    if update.epoch is not None:
        run.epoch = update.epoch
    if update.progress is not None:
        run.progress = update.progress
    if update.error is not None:
        run.error = update.error
    if update.summary is not None:
        _set_summary(run, update.summary)
    if update.config is not None:
        run.config = update.config
    if update.status is not None and update.status != run.status:
        if update.status in TERMINAL:
            run.finished_at = now
            if update.status == "succeeded":
                run.progress = 1.0
        run.status = update.status
    return status_event_data(run) != before


def _set_summary(run: Run, summary: dict[str, Any]) -> None:
    run.summary = summary

    def number(key: str) -> float | None:
        value = summary.get(key)
        return float(value) if isinstance(value, int | float) else None

    run.best_valid_acc = number("best_valid_acc")
    run.test_acc_at_best = number("test_acc_at_best")
    run.duration_s = number("duration_s")


def cancel_run(session: Session, *, run_id: int) -> Run | None:
    """Mark a run cancelled; a worker running it stops at its next check, a queued one is skipped."""
    with locked_run(session, run_id) as run:
        if run is None:
            return None
        if run.status in TERMINAL:
            session.rollback()
            return run
        run.status = "cancelled"
        run.finished_at = utcnow()
        append_status_event(session, run)
        session.commit()
        return run
