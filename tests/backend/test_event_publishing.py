"""Appending an event wakes the run's live streams by itself: once per commit per run, never for a rollback."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from backend.db import make_engine, make_sessionmaker
from backend.models import RunEvent
from backend.services import leases
from backend.services.event_kinds import EventKind, WarningEventData
from backend.services.events import append_event, append_status_event, locked_run, publish_after_commit
from backend.services.metrics import add_points
from backend.services.runs import add_runs, new_run
from tests.utils.leases import external_run
from trainboard.settings import Settings
from trainboard.spec import RunSpec


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[int] = []

    def publish(self, run_id: int) -> None:
        self.published.append(run_id)


def _warning(message: str) -> WarningEventData:
    return {"message": message, "artifact": "model.pt", "size": None}


def test_commit_publishes_each_run_once_and_rollback_publishes_nothing(settings: Settings) -> None:
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_sessionmaker(engine)
    publisher = RecordingPublisher()
    publish_after_commit(factory, publisher)
    try:
        with factory() as session:
            first, second = add_runs(session, [new_run(spec=RunSpec(name="a")), new_run(spec=RunSpec(name="b"))])
            assert sorted(publisher.published) == [first.id, second.id]  # each run's first status event
            publisher.published.clear()

            with locked_run(session, second.id) as run:
                assert run is not None
                append_event(session, run=run, kind=EventKind.WARNING, data=_warning("never stored"))
                session.rollback()
            assert publisher.published == []

            with locked_run(session, first.id) as run:
                assert run is not None
                append_event(session, run=run, kind=EventKind.WARNING, data=_warning("one"))
                append_event(session, run=run, kind=EventKind.WARNING, data=_warning("two"))
                session.commit()
            assert publisher.published == [first.id]  # two events, one commit: one wake-up; not the rolled-back run

            session.commit()  # a commit without new events wakes no one
            assert publisher.published == [first.id]
    finally:
        engine.dispose()


def test_routes_wake_streams_only_for_new_events(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's own sessions publish through its notifier (on Postgres, the batch stored by the one call on the
    event loop, through its ``publish_from_loop``); a retried metrics batch (nothing new) wakes no one."""
    run_id, lease = external_run(client, name="m")
    client.headers.update(lease)
    published: list[int] = []

    async def publish_from_loop(run_id: int) -> None:
        published.append(run_id)

    notifier = client.app.state.notifier  # type: ignore[attr-defined]
    monkeypatch.setattr(notifier, "publish", published.append)
    monkeypatch.setattr(notifier, "publish_from_loop", publish_from_loop)
    batch = {"points": [{"key": "loss", "step": 1, "value": 0.5}]}
    assert client.post(f"/api/runs/{run_id}/metrics", json=batch).json()["accepted"] == 1
    assert client.post(f"/api/runs/{run_id}/metrics", json=batch).json()["accepted"] == 0
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 200
    assert published == [run_id, run_id]


def test_a_batch_of_points_is_one_event_committed_without_waiting_for_the_disk(settings: Settings) -> None:
    """The metrics event (written in SQL on Postgres, by the ORM on SQLite) takes the run's next seq, the status
    event after it the one after, each wakes the run's streams at commit, and a batch's transaction commits
    without waiting for the WAL's fsync on Postgres (its durability is SQLite's synchronous=NORMAL).

    On Postgres the first batch is stored by one call, its own transaction (its commit is checked in
    test_ingest_postgres.py); the last one, half stored before, statement by statement in the session's."""
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_sessionmaker(engine)
    publisher = RecordingPublisher()
    publish_after_commit(factory, publisher)
    postgres = engine.dialect.name == "postgresql"
    at_commit: list[str] = []
    try:
        with factory() as session:
            run = new_run(spec=RunSpec(external=True))
            token = leases.issue(run)
            (run,) = add_runs(session, [run])
            first_seq = run.event_seq
            publisher.published.clear()

            @event.listens_for(session, "before_commit")
            def _setting(session: Session) -> None:
                if postgres:
                    at_commit.append(session.execute(text("SHOW synchronous_commit")).scalar_one())

            points = {"loss": ([1, 2, 3], [1.0, 1 / 2, 1 / 3])}
            stored = add_points(session, run_id=run.id, points=points, lease=token)
            assert stored is not None and stored.accepted == 3
            assert publisher.published == [run.id]
            with locked_run(session, run.id) as locked:
                assert locked is not None and locked.event_seq == first_seq + 1
                append_status_event(session, locked)
                session.commit()
            assert publisher.published == [run.id, run.id]
            half_stored = {"loss": ([3, 4], [1 / 3, 1 / 4])}
            stored = add_points(session, run_id=run.id, points=half_stored, lease=token)
            assert stored is not None and stored.accepted == 1
            assert publisher.published == [run.id, run.id, run.id]

        with factory() as session:
            rows = session.execute(
                select(RunEvent.seq, RunEvent.kind, RunEvent.data)
                .where(RunEvent.run_id == run.id)
                .order_by(RunEvent.seq)
            ).all()
        assert [(seq, kind) for seq, kind, _ in rows[-3:]] == [
            (first_seq + 1, "metrics"),
            (first_seq + 2, "status"),
            (first_seq + 3, "metrics"),
        ]
        assert rows[-3].data == {"loss": {"first": 1, "last": 3, "n": 3}}
        assert rows[-1].data == {"loss": {"first": 4, "last": 4, "n": 1}}
        # Postgres: the call's session (after the call committed itself), the status event, the call that declined
        # the half-stored batch, then the statements that stored it.
        assert at_commit == (["on", "on", "on", "off"] if postgres else [])
    finally:
        engine.dispose()
