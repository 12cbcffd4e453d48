"""A run's status in words: the same text in the API's runs and in the live status events the run page shows."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.models import RunEvent
from backend.status_detail import status_in_words

# Moved from tests/browser/test_view_helpers.py when the browser's copy of these rules went away.
CASES = [
    ({"status": "queued", "queue": "cuda"}, "waiting for a GPU (cuda) worker"),
    ({"status": "queued", "queue": "cpu"}, "waiting for a cpu worker"),
    ({"status": "queued", "queue": "any"}, "waiting for a worker"),
    (
        {"status": "queued", "queue": "cmd-cuda-2gpus", "queue_workers": 0},
        "needs a worker that runs commands on 2 GPUs: none online has that many; start one on a machine with "
        "enough: `trainboard worker --code DIR --device cuda --gpus 0,1`",
    ),
    (
        {"status": "queued", "queue": "cmd-cuda-4gpus", "queue_workers": 1, "runs_ahead": 1},
        "1 run ahead · waiting for 4 free GPUs on a worker that runs commands",
    ),
    ({"status": "running", "stop_requested": "median rule"}, "finishing early: median rule"),
    ({"status": "succeeded", "stop_requested": "median rule"}, "stopped early: median rule"),
    ({"status": "running", "external": True}, "tracked by your script"),
    ({"status": "running", "worker": "w1"}, "running on w1"),
    ({"status": "running"}, "running on a worker"),
    ({"status": "failed"}, "failed"),
]


@pytest.mark.parametrize(("run", "words"), CASES)
def test_status_in_words(run: dict[str, Any], words: str) -> None:
    fields = {"queue": "any", "external": False, "worker": None, "stop_requested": None} | run
    assert status_in_words(**fields) == words


def test_status_events_carry_the_runs_status_detail(client: TestClient) -> None:
    run = client.post("/api/runs", json={"name": "script", "external": True}).json()
    lease = {"X-Trainboard-Lease": run["lease"]}
    client.post(f"/api/runs/{run['id']}/status", json={"status": "failed", "error": "boom"}, headers=lease)
    # With a cuda worker online and no run ahead, the run's place in its queue adds nothing to the event's words.
    beat = {"host": "box", "devices": ["cpu", "cuda"], "queues": ["any", "cuda"], "session": "s"}
    client.put("/api/workers/gpu-1", json=beat)
    client.post("/api/runs", json={"name": "gpu", "dataset": "mnist", "model": {"arch": "mlp"}, "device": "cuda"})
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        events = session.scalars(select(RunEvent).where(RunEvent.kind == "status").order_by(RunEvent.id)).all()
        details = [(event.run_id, event.data["status_detail"]) for event in events]
    gpu = client.get("/api/runs", params={"q": "gpu"}).json()[0]
    assert details == [
        (run["id"], "tracked by your script"),
        (run["id"], "failed"),
        (gpu["id"], "waiting for a GPU (cuda) worker"),
    ]
    assert client.get(f"/api/runs/{run['id']}").json()["status_detail"] == "failed"
    assert gpu["status_detail"] == details[-1][1]
