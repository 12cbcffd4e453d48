"""A resumed run's epoch and progress on the dashboard never fall back while its new worker loads the checkpoint:
the reporter's heartbeats leave them alone until training says where the run resumes."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from backend.services.reaper import reap_stale_runs
from tests.utils.leases import LEASE_HEADER
from trainboard.client import Client
from worker.reporter import HEARTBEAT_EVERY_S, ApiReporter
from worker.training.callbacks import Point, TrainStart

MLP = {"name": "resumed", "dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, "epochs": 5, "device": "cpu"}
STEPS_PER_EPOCH = 10


def _progress(client: TestClient, run_id: int) -> tuple[int, float]:
    run = client.get(f"/api/runs/{run_id}").json()
    return run["epoch"], run["progress"]


def _watch(client: TestClient, run_id: int, seconds: float) -> list[tuple[int, float]]:
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(_progress(client, run_id))
        time.sleep(0.05)
    return seen


def test_a_resumed_run_keeps_its_epoch_and_progress_until_training_resumes(
    client: TestClient, worker_client: Client, tmp_path: Path
) -> None:
    run_id = int(client.post("/api/runs", json=MLP).json()["id"])
    first = client.post(f"/api/runs/{run_id}/claim", json={"worker": "dead@test"}).json()["lease"]
    reported = client.post(
        f"/api/runs/{run_id}/status", json={"epoch": 3, "progress": 0.6}, headers={LEASE_HEADER: first}
    )
    assert reported.status_code == 200, reported.text
    state = client.app.state  # type: ignore[attr-defined]
    time.sleep(0.01)
    assert reap_stale_runs(
        state.sessionmaker, celery=state.celery, max_run_gb=state.settings.max_run_gb, stale_after_s=0
    )  # the first worker died
    worker_client.lease = worker_client.claim(run_id, "next@test")["lease"]

    reporter = ApiReporter(worker_client, run_id, worker_name="next@test", spool_dir=tmp_path / str(run_id))
    try:
        # The checkpoint loads: heartbeats go (the run is alive), but nothing is known yet of where it resumes.
        loading = _watch(client, run_id, HEARTBEAT_EVERY_S + 0.5)
        assert client.get(f"/api/runs/{run_id}").json()["worker"] == "next@test"
        assert min(loading) == (3, 0.6), f"the run fell back while its checkpoint loaded: {sorted(set(loading))}"

        reporter.on_train_start(
            TrainStart(n_params=1, epochs=5, steps_per_epoch=STEPS_PER_EPOCH, start_epoch=4, device="cpu")
        )
        reporter.on_points([Point("loss", 3 * STEPS_PER_EPOCH + 5, 0.5)])  # half-way through epoch 4
        training = _watch(client, run_id, HEARTBEAT_EVERY_S + 0.5)
        assert min(training) >= (3, 0.6), sorted(set(training))
        assert training[-1] == (3, 0.7), "once training runs, its heartbeats report where it is"
    finally:
        reporter.close()


def test_the_summary_so_far_reaches_the_run_after_each_epoch(
    client: TestClient, worker_client: Client, tmp_path: Path
) -> None:
    """The Summary card and the runs table show the best epoch while the run trains, within a second of the
    epoch's end, not only once the run finishes."""
    run_id = int(client.post("/api/runs", json=MLP).json()["id"])
    worker_client.lease = worker_client.claim(run_id, "w@test")["lease"]
    reporter = ApiReporter(worker_client, run_id, worker_name="w@test", spool_dir=tmp_path / str(run_id))
    try:
        reporter.on_train_start(
            TrainStart(n_params=1, epochs=5, steps_per_epoch=STEPS_PER_EPOCH, start_epoch=1, device="cpu")
        )
        time.sleep(HEARTBEAT_EVERY_S + 0.2)  # the first heartbeat went: the next is not due for a while
        so_far = {"n_params": 1, "duration_s": 1.5, "best_epoch": 1, "best_valid_acc": 0.875, "test_acc_at_best": 0.86}
        reporter.on_epoch_end(1, {"valid_acc": 0.875})
        reporter.on_summary(so_far)
        deadline = time.monotonic() + 1.0
        while client.get(f"/api/runs/{run_id}").json()["summary"] != so_far and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.get(f"/api/runs/{run_id}").json()["summary"] == so_far
        row = next(r for r in client.get("/api/runs").json() if r["id"] == run_id)
        assert row["summary"]["best_valid_acc"] == 0.875 and row["status"] == "running"
        assert reporter.summary == so_far
    finally:
        reporter.close()
