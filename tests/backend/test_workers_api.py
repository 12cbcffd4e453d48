"""Workers as the API hears of them (GET /api/workers, PUT /api/workers/{name}), and what a queued run says about
its place in its queue: how many runs are ahead, and whether any online worker takes it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from backend.models import Worker, utcnow
from tests.utils.leases import claim

MLP = {"name": "tiny", "dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}, "epochs": 1}
START_CUDA = "no online worker takes cuda runs: start one with `trainboard worker --device cuda`"


NO_COMMAND_RUNS = {"cmd-any": (0, 0), "cmd-cpu": (0, 0), "cmd-cuda": (0, 0)}


def beat(client: TestClient, name: str, *, queues: list[str], session: str = "s1", **fields: Any) -> dict[str, Any]:
    body = {"host": "box", "devices": ["cpu"], "queues": queues, "session": session, **fields}
    response = client.put(f"/api/workers/{name}", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def overview(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/workers")
    assert response.status_code == 200, response.text
    return dict(response.json())


def queues(client: TestClient) -> dict[str, tuple[int, int]]:
    """Queue name -> (queued runs, online workers)."""
    return {q["name"]: (q["queued"], q["workers"]) for q in overview(client)["queues"]}


def silence(client: TestClient, name: str, seconds: float) -> None:
    """Make worker ``name``'s last heartbeat ``seconds`` old."""
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        session.execute(
            update(Worker).where(Worker.name == name).values(last_seen=utcnow() - timedelta(seconds=seconds))
        )
        session.commit()


def test_a_worker_registers_and_is_listed_with_its_devices_and_run(client: TestClient) -> None:
    assert overview(client)["workers"] == []
    run = client.post("/api/runs", json=MLP).json()
    beat(client, "gpu-1@box", queues=["any", "cuda"], devices=["cpu", "cuda"], gpus=["NVIDIA H200", "NVIDIA H200"])
    beat(client, "cpu-7@laptop", queues=["any", "cpu"], host="laptop", run_id=run["id"])
    body = overview(client)
    assert [w["name"] for w in body["workers"]] == ["cpu-7@laptop", "gpu-1@box"]
    cpu, gpu = body["workers"]
    assert (cpu["host"], cpu["devices"], cpu["gpus"], cpu["run_id"], cpu["online"]) == (
        "laptop",
        ["cpu"],
        [],
        run["id"],
        True,
    )
    assert (gpu["devices"], gpu["gpus"], gpu["queues"], gpu["run_id"]) == (
        ["cpu", "cuda"],
        ["NVIDIA H200", "NVIDIA H200"],
        ["any", "cuda"],
        None,
    )
    assert body["online"] == 2 and body["offline_after_s"] == client.app.state.settings.stale_after_s  # type: ignore[attr-defined]
    assert queues(client) == {"any": (1, 2), "cpu": (0, 1), "cuda": (0, 1), **NO_COMMAND_RUNS}


def test_a_silent_worker_goes_offline_and_a_day_later_off_the_list(client: TestClient) -> None:
    first = beat(client, "w1", queues=["any", "cpu"])
    beat(client, "w1", queues=["any", "cpu"])
    assert overview(client)["workers"][0]["started_at"] == first["started_at"], "same process: same start"
    stale_after_s = client.app.state.settings.stale_after_s  # type: ignore[attr-defined]
    silence(client, "w1", stale_after_s + 1)
    body = overview(client)
    assert [(w["name"], w["online"]) for w in body["workers"]] == [("w1", False)]
    assert body["online"] == 0 and queues(client)["cpu"] == (0, 0)

    restarted = beat(client, "w1", queues=["any", "cpu"], session="s2")
    assert restarted["online"] is True and restarted["started_at"] > first["started_at"], "a new process"

    silence(client, "w1", 25 * 3600)
    assert overview(client)["workers"] == [], "not listed after a day"
    beat(client, "w2", queues=["any"])
    silence(client, "w1", 0)  # would bring it back, had the heartbeat of w2 not deleted it
    assert [w["name"] for w in overview(client)["workers"]] == ["w2"]


def test_a_worker_that_says_it_stops_is_offline_at_once(client: TestClient) -> None:
    beat(client, "w1", queues=["any", "cpu"])
    stopped = beat(client, "w1", queues=["any", "cpu"], stopping=True)
    assert stopped["online"] is False
    assert overview(client)["online"] == 0


def test_queue_lengths_count_the_queued_runs_of_each_queue(client: TestClient) -> None:
    ids = [client.post("/api/runs", json={**MLP, "device": device}).json()["id"] for device in ("cuda", "cuda", "cpu")]
    client.post("/api/runs", json=MLP)
    assert queues(client) == {"any": (1, 0), "cpu": (1, 0), "cuda": (2, 0), **NO_COMMAND_RUNS}
    assert overview(client)["queued"] == 4
    client.post(f"/api/runs/{ids[0]}/cancel")
    claim(client, ids[2], "w1")
    assert queues(client) == {"any": (1, 0), "cpu": (0, 0), "cuda": (1, 0), **NO_COMMAND_RUNS}
    assert overview(client)["queued"] == 2


def test_a_queued_run_says_how_many_runs_are_ahead_and_whether_a_worker_takes_it(client: TestClient) -> None:
    first, second, third = (client.post("/api/runs", json={**MLP, "device": "cuda"}).json() for _ in range(3))
    assert first["status_detail"] == START_CUDA
    assert (third["runs_ahead"], third["queue_workers"]) == (2, 0)
    assert third["status_detail"] == f"2 runs ahead · {START_CUDA}"
    beat(client, "cpu-1", queues=["any", "cpu"])
    assert client.get(f"/api/runs/{third['id']}").json()["status_detail"] == f"2 runs ahead · {START_CUDA}"

    beat(client, "gpu-1", queues=["any", "cuda"], devices=["cpu", "cuda"])
    assert (
        client.get(f"/api/runs/{third['id']}").json()["status_detail"]
        == "2 runs ahead · waiting for a GPU (cuda) worker"
    )
    client.post(f"/api/runs/{first['id']}/cancel")
    listed = {run["id"]: run for run in client.get("/api/runs").json()}
    assert listed[third["id"]]["status_detail"] == "1 run ahead · waiting for a GPU (cuda) worker"
    assert listed[second["id"]]["status_detail"] == "waiting for a GPU (cuda) worker"
    assert listed[first["id"]]["runs_ahead"] is None, "only queued runs have a place"

    any_run = client.post("/api/runs", json=MLP).json()
    assert (any_run["runs_ahead"], any_run["status_detail"]) == (0, "waiting for a worker")
    silence(client, "gpu-1", 3600)
    silence(client, "cpu-1", 3600)
    assert client.get(f"/api/runs/{any_run['id']}").json()["status_detail"] == (
        "no worker is online: start one with `trainboard worker`"
    )


def test_a_bad_heartbeat_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.put(
        "/api/workers/w1", json={"host": "box", "devices": ["cpu"], "queues": ["gpu"], "session": "s"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "queues", 0]
    response = client.put("/api/workers/w1", json={"devices": ["cpu"], "queues": ["any"], "session": "s"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "host"]
    assert overview(client)["workers"] == []
