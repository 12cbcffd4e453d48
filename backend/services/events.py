"""The per-run event log that live streams replay: status changes and batches of new metric points.

Appending an event also wakes the run's live streams, by itself, once the transaction commits
(``publish_after_commit``): no caller has to remember a ``notifier.publish``, and a rolled-back event wakes no one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from backend.finite import json_safe
from backend.models import Run, RunEvent
from backend.services.event_kinds import EventData, EventKind, StatusEventData
from backend.status_detail import status_in_words

# SQLite allows one writer at a time and takes its lock only at the first write, so two threads could both
# read the same event_seq; this lock serialises the read-increment-write. Postgres uses SELECT ... FOR UPDATE.
_sqlite_write_lock = threading.Lock()


# session.info key: the ids of the runs that got events in the session's open transaction.
_UNPUBLISHED = "trainboard_unpublished_runs"


class Publisher(Protocol):
    """What wakes a run's streams (``backend.services.notifier.Notifier``)."""

    def publish(self, run_id: int) -> None: ...


def publish_after_commit(factory: sessionmaker[Session], publisher: Publisher) -> None:
    """Make every session of ``factory`` publish each run that got events, once per commit; a rollback
    forgets them (its events were never stored, so there is nothing to read)."""

    @event.listens_for(factory, "after_commit")
    def _publish(session: Session) -> None:
        for run_id in sorted(session.info.pop(_UNPUBLISHED, ())):
            publisher.publish(run_id)

    @event.listens_for(factory, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_UNPUBLISHED, None)


@contextmanager
def locked_run(session: Session, run_id: int) -> Iterator[Run | None]:
    """Yield the run row locked against concurrent event appends until the caller commits."""
    if session.get_bind().dialect.name == "sqlite":
        with _sqlite_write_lock:
            yield session.get(Run, run_id)
    else:
        yield session.get(Run, run_id, with_for_update=True, populate_existing=True)


def append_event(session: Session, *, run: Run, kind: EventKind, data: EventData) -> RunEvent:
    """Add the next event of ``run`` (the run must be held by ``locked_run``); NaN and infinities become null,
    since Postgres refuses them in a json column and a browser refuses them in an event."""
    run.event_seq += 1
    row = RunEvent(run_id=run.id, seq=run.event_seq, kind=kind.value, data=json_safe(data))
    session.add(row)
    wake_at_commit(session, run.id)
    return row


def appended_in_sql(session: Session, *, run: Run, seq: int) -> None:
    """Record that the caller wrote ``run``'s next event, ``seq``, by a statement of its own in the session's
    transaction (the event's row and the run's ``event_seq``, as ``append_event`` would at the flush): the run
    object agrees with the database, and the run's streams wake once the transaction commits."""
    assert seq == run.event_seq + 1
    set_committed_value(run, "event_seq", seq)
    wake_at_commit(session, run.id)


def wake_at_commit(session: Session, run_id: int) -> None:
    """The run's streams wake once the session's transaction commits (``publish_after_commit``)."""
    session.info.setdefault(_UNPUBLISHED, set()).add(run_id)


def append_status_event(session: Session, run: Run) -> RunEvent:
    """Add a ``status`` event with the run's state as it is now (the run must be held by ``locked_run``)."""
    return append_event(session, run=run, kind=EventKind.STATUS, data=status_event_data(run))


def status_event_data(run: Run) -> StatusEventData:
    return {
        "status": run.status,
        "epoch": run.epoch,
        "progress": run.progress,
        "summary": run.summary,
        "error": run.error,
        "stop_requested": run.finish_requested,
        "worker": run.worker,
        "held_gpus": run.held_gpus,
        "attempts": run.attempts,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "status_detail": status_in_words(
            status=run.status,
            queue=run.queue,
            external=run.external,
            worker=run.worker,
            stop_requested=run.finish_requested,
        ),
    }


def events_after(session: Session, *, run_id: int, after_seq: int, limit: int = 500) -> list[RunEvent]:
    stmt = (
        select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.seq > after_seq).order_by(RunEvent.seq).limit(limit)
    )
    return list(session.scalars(stmt))
