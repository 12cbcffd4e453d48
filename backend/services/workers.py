"""Workers as the API hears of them, and what a queued run waits on.

Each worker sends a heartbeat every few seconds (``worker/presence.py``), which upserts its row here. A worker
silent for ``offline_after_s`` (the settings' ``stale_after_s``, the silence after which the reaper re-queues a
run) or one that said it is stopping is offline; one silent for ``FORGET_AFTER`` is deleted at the next heartbeat
of any worker, and never listed meanwhile. Queue lengths are counted in the runs table, so they read the same
whatever the broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.models import Run, Worker, utcnow
from backend.schemas import QueueOut, WorkerHeartbeat, WorkerOut, WorkersOut
from trainboard.queue import QUEUES, queue_gpus

FORGET_AFTER = timedelta(days=1)


def record_heartbeat(session: Session, *, name: str, beat: WorkerHeartbeat, offline_after_s: float) -> WorkerOut:
    """Register worker ``name`` or refresh it (a new ``session`` means it restarted); forget long-silent workers."""
    now = utcnow()
    try:
        worker = _apply_heartbeat(session, name=name, beat=beat, now=now)
    except IntegrityError:  # the same new name from two processes at once: the second one updates the row
        session.rollback()
        worker = _apply_heartbeat(session, name=name, beat=beat, now=now)
    return _out(worker, now=now, offline_after_s=offline_after_s)


def _apply_heartbeat(session: Session, *, name: str, beat: WorkerHeartbeat, now: datetime) -> Worker:
    session.execute(delete(Worker).where(Worker.last_seen < now - FORGET_AFTER))
    worker = session.get(Worker, name)
    if worker is None:
        worker = Worker(name=name, session=beat.session, started_at=now)
        session.add(worker)
    elif worker.session != beat.session:
        worker.session, worker.started_at = beat.session, now
    worker.host, worker.devices, worker.gpus = beat.host, list(beat.devices), list(beat.gpus)
    run_ids = list(beat.run_ids) or ([beat.run_id] if beat.run_id is not None else [])
    worker.queues, worker.run_id, worker.run_ids = list(beat.queues), run_ids[0] if run_ids else None, run_ids
    worker.last_seen = now
    worker.stopped_at = now if beat.stopping else None
    session.commit()
    return worker


def workers_overview(session: Session, *, offline_after_s: float) -> WorkersOut:
    """Every worker heard from within ``FORGET_AFTER`` (online first) and each queue's length and online workers."""
    now = utcnow()
    rows = session.scalars(select(Worker).where(Worker.last_seen >= now - FORGET_AFTER).order_by(Worker.name))
    workers = sorted((_out(w, now=now, offline_after_s=offline_after_s) for w in rows), key=lambda w: not w.online)
    queued = queue_lengths(session)
    # The queues of multi-GPU command runs are listed where an online worker takes one or a run waits in one.
    taken = {q for w in workers if w.online for q in w.queues}
    by_gpus = sorted({q for q in [*taken, *queued] if queue_gpus(q)}, key=queue_gpus)
    queues = [
        QueueOut(name=q, queued=queued.get(q, 0), workers=sum(w.online and q in w.queues for w in workers))
        for q in [*QUEUES, *by_gpus]
    ]
    return WorkersOut(
        workers=workers,
        queues=queues,
        online=sum(w.online for w in workers),
        queued=sum(q.queued for q in queues),
        offline_after_s=offline_after_s,
    )


def queue_lengths(session: Session) -> dict[str, int]:
    """Queued runs per queue (queues with none are absent)."""
    stmt = select(Run.queue, func.count()).where(Run.status == "queued").group_by(Run.queue)
    return {queue: count for queue, count in session.execute(stmt).all()}


@dataclass(frozen=True)
class QueuePlace:
    """Where a queued run stands: queued runs before it in its queue, online workers that take the queue."""

    runs_ahead: int
    queue_workers: int


def queue_places(session: Session, runs: Iterable[Run], *, offline_after_s: float) -> dict[int, QueuePlace]:
    """The place of each queued run of ``runs``, by id; two queries whatever the number of runs."""
    queued = {run.id: run.queue for run in runs if run.status == "queued"}
    if not queued:
        return {}
    order = func.row_number().over(partition_by=Run.queue, order_by=Run.id) - 1
    waiting = select(Run.id, order.label("ahead")).where(Run.status == "queued").subquery()
    ahead = dict(session.execute(select(waiting.c.id, waiting.c.ahead).where(waiting.c.id.in_(queued))).all())
    takers = _online_workers_per_queue(session, offline_after_s=offline_after_s)
    return {
        run_id: QueuePlace(runs_ahead=int(ahead.get(run_id, 0)), queue_workers=takers.get(queue, 0))
        for run_id, queue in queued.items()
    }


def _online_workers_per_queue(session: Session, *, offline_after_s: float) -> dict[str, int]:
    cutoff = utcnow() - timedelta(seconds=offline_after_s)
    counts: dict[str, int] = {}
    for queues in session.scalars(select(Worker.queues).where(Worker.last_seen >= cutoff, Worker.stopped_at.is_(None))):
        for queue in queues:
            counts[queue] = counts.get(queue, 0) + 1
    return counts


def _out(worker: Worker, *, now: datetime, offline_after_s: float) -> WorkerOut:
    last_seen = _aware(worker.last_seen)
    online = worker.stopped_at is None and now - last_seen <= timedelta(seconds=offline_after_s)
    return WorkerOut(
        name=worker.name,
        host=worker.host,
        devices=worker.devices,
        gpus=worker.gpus,
        queues=worker.queues,
        run_id=worker.run_id,
        run_ids=worker.run_ids if worker.run_ids is not None else [r for r in [worker.run_id] if r is not None],
        started_at=_aware(worker.started_at),
        last_seen=last_seen,
        online=online,
    )


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time stored here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
