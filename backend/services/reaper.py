"""Notices runs whose worker died (no heartbeat) and puts them back in the queue to resume elsewhere.

Workers report every 2 s while they train. A running run silent for ``stale_after_s`` is re-queued with an
`interrupted` event; the next worker resumes it from its last epoch checkpoint. After ``MAX_ATTEMPTS`` workers
lost on the same run, it fails with the reason. This, not the broker's visibility timeout, decides.

At start-up the API also sends the id of every queued run again (``requeue_waiting_runs``): a run launched while
the broker was down waits in the launching API process's memory (``services/queue.py``), and would be stranded
if that process stopped before the broker came back. A second message for a run is harmless: a worker claims a
run only while it is ``queued`` (under the run's row lock), so the extra message finds it taken and is skipped.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.models import Run, utcnow
from backend.services import queue
from backend.services.events import append_event, locked_run, status_event_data
from backend.services.notifier import Notifier

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


def reap_stale_runs(
    factory: sessionmaker[Session], *, celery: Celery, notifier: Notifier, stale_after_s: float
) -> list[int]:
    """Re-queue (or give up on) every running run whose worker went silent; returns their ids."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    stale = (Run.status == "running", Run.external.is_(False), Run.heartbeat_at < cutoff)
    reaped = []
    with factory() as session:
        for run_id in session.scalars(select(Run.id).where(*stale)).all():
            with locked_run(session, run_id) as run:
                still_stale = session.scalar(select(Run.id).where(Run.id == run_id, *stale))
                if run is None or still_stale is None:
                    session.rollback()
                    continue
                requeued = _interrupt(session, run)
                session.commit()
            if requeued:
                queue.enqueue(celery, [run])
            notifier.publish(run_id)
            reaped.append(run_id)
    return reaped


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
        kind="interrupted",
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
        logger.warning("run %s lost its worker %s after epoch %s; re-queued", run.id, lost, run.epoch)
    append_event(session, run=run, kind="status", data=status_event_data(run))
    return run.status == "queued"
