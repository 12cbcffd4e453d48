"""Only the attempt that claimed a run writes to it: leases, and the status transitions a report may make.

On SQLite and on the real Postgres. A worker presumed dead whose run was re-queued and claimed again holds a stale
lease: every write it tries is a 409, and its reporter stops training.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.models import RunEvent
from backend.services.reaper import reap_stale_runs
from tests.utils.leases import LEASE_HEADER, claim, external_run
from trainboard.client import Client
from worker.reporter import ApiReporter
from worker.training.callbacks import Point

MLP = {"name": "leased", "dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, "epochs": 3, "device": "cpu"}
POINT = {"points": [{"key": "loss", "step": 1, "value": 0.5}]}
OCTET = {"Content-Type": "application/octet-stream"}


def _queued(client: TestClient) -> int:
    return int(client.post("/api/runs", json=MLP).json()["id"])


def _requeue_as_the_reaper_does(client: TestClient) -> None:
    """The worker went silent: the API's reaper puts its run back in the queue."""
    state = client.app.state  # type: ignore[attr-defined]
    time.sleep(0.01)  # the heartbeat is now strictly in the past
    assert reap_stale_runs(
        state.sessionmaker, celery=state.celery, max_run_gb=state.settings.max_run_gb, stale_after_s=0
    )


def _loss_steps(client: TestClient, run_id: int) -> list[int]:
    return client.get(f"/api/runs/{run_id}/metrics", params={"keys": "loss"}).json().get("loss", {}).get("step", [])


def test_a_claim_starts_an_attempt_and_only_it_shows_the_lease(client: TestClient) -> None:
    run_id = _queued(client)
    reply = client.post(f"/api/runs/{run_id}/claim", json={"worker": "cpu@box"})
    assert reply.status_code == 200, reply.text
    run = reply.json()
    assert run["status"] == "running" and run["worker"] == "cpu@box" and run["attempts"] == 1
    assert run["started_at"] and len(run["lease"]) >= 40
    assert client.get(f"/api/runs/{run_id}").json()["lease"] is None
    assert all(r["lease"] is None for r in client.get("/api/runs").json())
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        events = session.scalars(select(RunEvent.data).where(RunEvent.run_id == run_id)).all()
    assert len(events) == 2 and run["lease"] not in str(events), "the live stream never carries it"

    again = client.post(f"/api/runs/{run_id}/claim", json={"worker": "gpu@other"})
    assert again.status_code == 409
    assert "running" in again.json()["detail"] and "cpu@box" in again.json()["detail"]
    assert client.get(f"/api/runs/{run_id}").json()["worker"] == "cpu@box", "the second claim changed nothing"


def test_writes_need_the_lease_403_without_409_when_wrong(client: TestClient) -> None:
    run_id = _queued(client)
    lease = claim(client, run_id)
    for path, body in ((f"/api/runs/{run_id}/status", {"progress": 0.5}), (f"/api/runs/{run_id}/metrics", POINT)):
        missing = client.post(path, json=body)
        assert missing.status_code == 403 and LEASE_HEADER in missing.json()["detail"], missing.text
        wrong = client.post(path, json=body, headers={LEASE_HEADER: "not-the-lease"})
        assert wrong.status_code == 409 and "lease" in wrong.json()["detail"], wrong.text
        assert client.post(path, json=body, headers=lease).status_code == 200
    assert client.get(f"/api/runs/{run_id}").json()["progress"] == 0.5
    assert _loss_steps(client, run_id) == [1]


def test_a_stale_lease_is_409_for_every_write_after_a_requeue_and_a_new_claim(client: TestClient) -> None:
    run_id = _queued(client)
    old = claim(client, run_id, worker="worker-a@test")
    _requeue_as_the_reaper_does(client)
    queued = client.post(f"/api/runs/{run_id}/metrics", json=POINT, headers=old)
    assert queued.status_code == 409 and "re-queued" in queued.json()["detail"]
    new = claim(client, run_id, worker="worker-b@test")

    status = client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=old)
    assert status.status_code == 409 and "worker-b@test" in status.json()["detail"], status.text
    metrics = client.post(f"/api/runs/{run_id}/metrics", json=POINT, headers=old)
    assert metrics.status_code == 409 and "stale" in metrics.json()["detail"], metrics.text
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "running" and run["worker"] == "worker-b@test" and run["attempts"] == 2
    assert _loss_steps(client, run_id) == []

    assert client.post(f"/api/runs/{run_id}/metrics", json=POINT, headers=new).status_code == 200
    assert client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=new).status_code == 200


def test_a_stale_lease_cannot_replace_the_checkpoint_and_finished_artifacts_are_write_once(
    client: TestClient,
) -> None:
    run_id = _queued(client)
    old = claim(client, run_id, worker="worker-a@test")
    path = f"/api/runs/{run_id}/artifacts/checkpoint_last.pt"
    assert client.put(path, content=b"epoch 1", headers=OCTET).status_code == 403
    assert client.put(path, content=b"epoch 1", headers={**OCTET, **old}).status_code == 201
    _requeue_as_the_reaper_does(client)
    new = claim(client, run_id, worker="worker-b@test")
    stale = client.put(path, content=b"poisoned", headers={**OCTET, **old})
    assert stale.status_code == 409, stale.text
    assert client.get(path).content == b"epoch 1", "the resuming worker loads what its predecessor saved"

    assert client.put(path, content=b"epoch 2", headers={**OCTET, **new}).status_code == 201
    client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=new)
    again = client.put(path, content=b"rewritten", headers={**OCTET, **new})
    assert again.status_code == 409 and "write-once" in again.json()["detail"]
    assert client.get(path).content == b"epoch 2"


def test_the_old_workers_reporter_stops_once_its_run_is_taken_over(
    client: TestClient, worker_client: Client, tmp_path: Path
) -> None:
    run_id = _queued(client)
    worker_client.lease = worker_client.claim(run_id, "worker-a@test")["lease"]
    reporter = ApiReporter(worker_client, run_id, worker_name="worker-a@test", spool_dir=tmp_path / str(run_id))
    try:
        reporter.on_points([Point("loss", 1, 0.5)])
        deadline = time.monotonic() + 10
        while _loss_steps(client, run_id) != [1]:
            assert time.monotonic() < deadline, "the lease holder's points arrive"
            time.sleep(0.05)
        assert not reporter.should_abort()

        _requeue_as_the_reaper_does(client)
        claim(client, run_id, worker="worker-b@test")
        reporter.on_points([Point("loss", 2, 0.4)])
        reporter.on_epoch_end(1, {})
        deadline = time.monotonic() + 10
        while not reporter.should_abort():
            assert time.monotonic() < deadline, "the reporter stops training when its lease is stale"
            time.sleep(0.05)
        assert reporter.abort_reason is not None and reporter.abort_reason.startswith("taken over")
    finally:
        reporter.close()
    assert _loss_steps(client, run_id) == [1], "nothing of the stale attempt was stored"
    assert client.get(f"/api/runs/{run_id}").json()["worker"] == "worker-b@test"


@pytest.mark.parametrize("final", ["succeeded", "failed", "cancelled"])
def test_nothing_leaves_a_final_state(client: TestClient, final: str) -> None:
    run_id = _queued(client)
    lease = claim(client, run_id)
    if final == "cancelled":
        assert client.post(f"/api/runs/{run_id}/cancel").json()["status"] == "cancelled"
    else:
        assert client.post(f"/api/runs/{run_id}/status", json={"status": final}, headers=lease).status_code == 200
    for status in ("queued", "running"):
        reply = client.post(f"/api/runs/{run_id}/status", json={"status": status}, headers=lease)
        assert reply.status_code == 409, reply.text
    other = "failed" if final != "failed" else "succeeded"
    assert client.post(f"/api/runs/{run_id}/status", json={"status": other}, headers=lease).json()["status"] == final
    refused = client.post(f"/api/runs/{run_id}/claim", json={"worker": "w"})
    assert refused.status_code == 409 and final in refused.json()["detail"]
    assert client.get(f"/api/runs/{run_id}").json()["status"] == final


def test_a_cancelled_run_keeps_its_attempts_last_word_on_how_far_it_got(client: TestClient) -> None:
    """Cancel lands mid-epoch: the worker's final report (epoch 3, the summary so far) is kept on the cancelled
    run, so its page and row say how far it got instead of the heartbeat before; a stale lease still cannot."""
    run_id = _queued(client)
    lease = claim(client, run_id)
    client.post(f"/api/runs/{run_id}/status", json={"epoch": 2, "progress": 0.2}, headers=lease)
    assert client.post(f"/api/runs/{run_id}/cancel").json()["status"] == "cancelled"
    summary = {"best_epoch": 3, "best_valid_acc": 0.91, "test_acc_at_best": 0.9, "n_params": 1234}
    reply = client.post(
        f"/api/runs/{run_id}/status",
        json={"status": "cancelled", "epoch": 3, "progress": 0.3, "summary": summary, "error": "x"},
        headers=lease,
    )
    assert reply.status_code == 200 and reply.json()["status"] == "cancelled"
    run = client.get(f"/api/runs/{run_id}").json()
    assert (run["status"], run["epoch"], run["progress"], run["summary"], run["error"]) == (
        "cancelled", 3, 0.3, summary, None
    )  # fmt: skip
    row = next(r for r in client.get("/api/runs").json() if r["id"] == run_id)
    assert row["summary"]["best_valid_acc"] == 0.91
    stale = client.post(f"/api/runs/{run_id}/status", json={"epoch": 9}, headers={LEASE_HEADER: "not-the-lease"})
    assert stale.status_code == 409
    assert client.get(f"/api/runs/{run_id}").json()["epoch"] == 3


def test_running_comes_only_from_a_claim(client: TestClient) -> None:
    run_id = _queued(client)
    lease = claim(client, run_id)
    reply = client.post(f"/api/runs/{run_id}/status", json={"status": "running", "worker": "w"}, headers=lease)
    assert reply.status_code == 409 and "claim" in reply.json()["detail"]
    queued_again = client.post(f"/api/runs/{run_id}/status", json={"status": "queued"}, headers=lease)
    assert queued_again.status_code == 409 and "queue" in queued_again.json()["detail"]
    assert client.get(f"/api/runs/{run_id}").json()["attempts"] == 1
    never_claimed = _queued(client)
    assert client.post(f"/api/runs/{never_claimed}/status", json={"status": "running"}).status_code == 403
    assert client.get(f"/api/runs/{never_claimed}").json()["status"] == "queued"


def test_an_external_runs_lease_is_in_its_create_reply_and_its_points_end_with_it(client: TestClient) -> None:
    run_id, lease = external_run(client, name="script")
    assert client.get(f"/api/runs/{run_id}").json()["lease"] is None
    assert client.post(f"/api/runs/{run_id}/metrics", json=POINT).status_code == 403
    assert client.post(f"/api/runs/{run_id}/metrics", json=POINT, headers=lease).status_code == 200
    assert client.post(f"/api/runs/{run_id}/claim", json={"worker": "thief"}).status_code == 409
    client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=lease)
    late = client.post(
        f"/api/runs/{run_id}/metrics", json={"points": [{"key": "loss", "step": 9, "value": 1}]}, headers=lease
    )
    assert late.status_code == 409 and "finished" in late.json()["detail"]


def test_a_sweeps_external_run_is_claimed_once_by_its_script(client: TestClient) -> None:
    base = {"external": True, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}}
    sweep = client.post("/api/sweeps", json={"name": "scripted", "base": base, "grid": {"seed": [1]}}).json()
    run_id = sweep["runs"][0]
    lease = claim(client, run_id, worker="my-script")
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "running"
    assert client.post(f"/api/runs/{run_id}/claim", json={"worker": "thief"}).status_code == 409
    assert client.post(f"/api/runs/{run_id}/metrics", json=POINT, headers=lease).status_code == 200
