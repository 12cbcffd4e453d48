"""Notices runs whose worker died (no heartbeat) and puts them back in the queue to resume elsewhere.

Workers report every 2 s while they train. A running run silent for ``stale_after_s`` is re-queued with an
`interrupted` event; the next worker resumes it from its last epoch checkpoint. After ``MAX_ATTEMPTS`` workers
lost on the same run, it fails with the reason. This, not the broker's visibility timeout, decides.

An external run (a user's own script, ``trainboard.init``) has no worker to replace: its script sends a heartbeat
every 10 s, and any status or metric post counts as one. A running external run silent for ``external_timeout_s``
(``TRAINBOARD_EXTERNAL_TIMEOUT_S``, 180 s) ends ``failed``, saying why: its script died without ``finish()``.

At start-up the API also sends the id of every queued run again (``requeue_waiting_runs``): a run launched while
the broker was down waits in the launching API process's memory (``services/queue.py``), and would be stranded
if that process stopped before the broker came back. A second message for a run is harmless: a worker claims a
run only while it is ``queued`` (under the run's row lock), so the extra message finds it taken and is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from celery import Celery
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from backend.models import Run, RunEvent, utcnow
from backend.services import queue, sweep_search
from backend.services.event_kinds import EventKind
from backend.services.events import append_event, append_status_event, locked_run

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


def reap_stale_runs(
    factory: sessionmaker[Session],
    *,
    celery: Celery,
    stale_after_s: float,
    max_run_gb: float,
    external_timeout_s: float | None = None,
) -> list[int]:
    """Re-queue (or give up on) every running run whose worker went silent, and fail the external runs whose
    script went silent for ``external_timeout_s`` (when given); returns their ids."""
    reaped = _requeue_runs_of_silent_workers(factory, celery=celery, stale_after_s=stale_after_s)
    if external_timeout_s is not None:
        reaped += fail_silent_external_runs(factory, timeout_s=external_timeout_s)
    _continue_sweeps(factory, celery=celery, run_ids=reaped, max_run_gb=max_run_gb)
    return reaped


def _continue_sweeps(factory: sessionmaker[Session], *, celery: Celery, run_ids: list[int], max_run_gb: float) -> None:
    """A run that failed here leaves its place in its sweep (``parallel``, tpe) to the sweep's next run."""
    if not run_ids:
        return
    with factory() as session:
        ended = select(Run.sweep_id).where(Run.id.in_(run_ids), Run.status == "failed", Run.sweep_id.is_not(None))
        for sweep_id in sorted({sweep_id for sweep_id in session.scalars(ended) if sweep_id is not None}):
            sweep_search.launch_next(session, celery, sweep_id=sweep_id, max_run_gb=max_run_gb)


def fail_silent_external_runs(factory: sessionmaker[Session], *, timeout_s: float) -> list[int]:
    """End ``failed`` every running external run that sent nothing (heartbeat, status, metrics) for ``timeout_s``."""
    cutoff = utcnow() - timedelta(seconds=timeout_s)
    # Metric posts append events without touching heartbeat_at: the run's newest event is a sign of life too
    # (one index lookup on (run_id, seq), and only for external runs whose heartbeat is already old).
    last_event_at = (
        select(RunEvent.created_at)
        .where(RunEvent.run_id == Run.id)
        .order_by(RunEvent.seq.desc())
        .limit(1)
        .correlate(Run)
        .scalar_subquery()
    )
    silent = (
        Run.status == "running",
        Run.external.is_(True),
        or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < cutoff),
        func.coalesce(last_event_at, Run.created_at) < cutoff,
    )
    error = (
        f"no heartbeat from the script for {timeout_s:g} s: it probably died without calling finish() "
        "(TRAINBOARD_EXTERNAL_TIMEOUT_S sets how long to wait)"
    )
    failed = []
    with factory() as session:
        for run in _locked_runs_still_matching(session, silent):
            run.status = "failed"
            run.finished_at = utcnow()
            run.error = error
            append_status_event(session, run)
            session.commit()
            failed.append(run.id)
    for run_id in failed:
        logger.warning("external run %s failed: %s", run_id, error)
    return failed


def _requeue_runs_of_silent_workers(
    factory: sessionmaker[Session], *, celery: Celery, stale_after_s: float
) -> list[int]:
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    stale = (Run.status == "running", Run.external.is_(False), Run.heartbeat_at < cutoff)
    reaped, requeued = [], []
    with factory() as session:
        for run in _locked_runs_still_matching(session, stale):
            if _interrupt(session, run):
                requeued.append(run)
            session.commit()
            reaped.append(run.id)
        # Outside the run locks: with the broker down, a send waits for its connect timeout.
        queue.enqueue(celery, requeued)
    return reaped


def _locked_runs_still_matching(session: Session, conditions: tuple[ColumnElement[bool], ...]) -> Iterator[Run]:
    """Each run matching ``conditions``, locked and checked again under the lock (a report may have come in
    since the first read); the caller commits before asking for the next one."""
    for run_id in session.scalars(select(Run.id).where(*conditions)).all():
        with locked_run(session, run_id) as run:
            if run is None or session.scalar(select(Run.id).where(Run.id == run_id, *conditions)) is None:
                session.rollback()
                continue
            yield run


def requeue_waiting_runs(factory: sessionmaker[Session], *, celery: Celery) -> list[int]:
    """Send every queued (non-external) run's id to its queue again, oldest first; returns their ids."""
    with factory() as session:
        waiting = list(
            session.scalars(select(Run).where(Run.status == "queued", Run.external.is_(False)).order_by(Run.id))
        )
    if waiting:
        logger.info("start-up: re-sending %d queued run(s) to the broker", len(waiting))
        queue.enqueue(celery, waiting)
    return [run.id for run in waiting]


def _interrupt(session: Session, run: Run) -> bool:
    lost = run.worker or "a worker"
    append_event(
        session,
        run=run,
        kind=EventKind.INTERRUPTED,
        data={"worker": run.worker, "attempt": run.attempts, "epoch": run.epoch, "at": utcnow().isoformat()},
    )
    if run.attempts >= MAX_ATTEMPTS:
        run.status = "failed"
        run.finished_at = utcnow()
        run.error = f"gave up after {run.attempts} attempts: the worker stopped responding each time (last: {lost})"
        logger.warning("run %s failed: %s", run.id, run.error)
    else:
        run.status = "queued"
        run.worker = None
        run.lease_hash = None  # the lost attempt's lease is stale: its worker, if alive, gets 409 and stops
        logger.warning("run %s lost its worker %s after epoch %s; re-queued", run.id, lost, run.epoch)
    append_status_event(session, run)
    return run.status == "queued"
