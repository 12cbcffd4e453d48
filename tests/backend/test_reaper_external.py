"""The reaper ends an external run whose script went silent, and only that one (SQLite and Postgres)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from backend.models import Run, RunEvent, utcnow
from backend.services.reaper import reap_stale_runs

TIMEOUT_S = 180.0
SCRIPT = {"name": "my script", "external": True}
MLP = {"name": "worker run", "dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, "epochs": 1}


def _age(client: TestClient, run_id: int, seconds: float) -> None:
    """Make the run and its events look ``seconds`` old, as if nothing had been heard from it since."""
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    then = utcnow() - timedelta(seconds=seconds)
    with factory() as session:
        session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=then, created_at=then))
        session.execute(update(RunEvent).where(RunEvent.run_id == run_id).values(created_at=then))
        session.commit()


def _reap(client: TestClient, *, external_timeout_s: float = TIMEOUT_S) -> list[int]:
    state = client.app.state  # type: ignore[attr-defined]
    return reap_stale_runs(
        state.sessionmaker,
        celery=state.celery,
        stale_after_s=20.0,
        max_run_gb=state.settings.max_run_gb,
        external_timeout_s=external_timeout_s,
    )


def _status_events(client: TestClient, run_id: int) -> list[dict[str, Any]]:
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory() as session:
        rows = session.scalars(
            select(RunEvent.data).where(RunEvent.run_id == run_id, RunEvent.kind == "status").order_by(RunEvent.seq)
        )
        return list(rows)


def _lease(run: dict[str, Any]) -> dict[str, str]:
    return {"X-Trainboard-Lease": run["lease"]} if run.get("lease") else {}


def test_a_silent_external_run_fails_with_the_reason_and_a_live_one_does_not(client: TestClient) -> None:
    dead = client.post("/api/runs", json={**SCRIPT, "name": "died"}).json()
    alive = client.post("/api/runs", json={**SCRIPT, "name": "alive"}).json()
    _age(client, dead["id"], TIMEOUT_S + 5)
    _age(client, alive["id"], TIMEOUT_S - 30)

    assert _reap(client) == [dead["id"]]

    failed = client.get(f"/api/runs/{dead['id']}").json()
    assert failed["status"] == "failed"
    assert failed["finished_at"] is not None
    assert "no heartbeat from the script for 180 s" in failed["error"]
    assert "finish()" in failed["error"]
    last = _status_events(client, dead["id"])[-1]  # what the dashboard's live stream shows
    assert last["status"] == "failed" and "no heartbeat" in last["error"]
    assert client.get(f"/api/runs/{alive['id']}").json()["status"] == "running"
    assert _reap(client) == []  # a failed run is left alone


def test_a_heartbeat_or_a_metric_post_keeps_an_external_run_alive(client: TestClient) -> None:
    beating = client.post("/api/runs", json={**SCRIPT, "name": "beating"}).json()
    logging_ = client.post("/api/runs", json={**SCRIPT, "name": "logging"}).json()
    for run in (beating, logging_):
        _age(client, run["id"], TIMEOUT_S + 5)

    # What TrackedRun sends every 10 s: a status report with no fields.
    assert client.post(f"/api/runs/{beating['id']}/status", json={}, headers=_lease(beating)).status_code == 200
    points = {"points": [{"key": "loss", "step": 1, "value": 0.5}]}
    assert client.post(f"/api/runs/{logging_['id']}/metrics", json=points, headers=_lease(logging_)).status_code == 200

    assert _reap(client) == []
    for run in (beating, logging_):
        assert client.get(f"/api/runs/{run['id']}").json()["status"] == "running"


def test_a_worker_run_is_requeued_not_failed(client: TestClient) -> None:
    run = client.post("/api/runs", json=MLP).json()
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with factory() as session:  # a worker took it, then died long ago
        session.execute(update(Run).where(Run.id == run["id"]).values(status="running", worker="w1", attempts=1))
        session.commit()
    _age(client, run["id"], TIMEOUT_S + 5)

    assert _reap(client, external_timeout_s=1.0) == [run["id"]]

    requeued = client.get(f"/api/runs/{run['id']}").json()
    assert requeued["status"] == "queued" and requeued["error"] is None
