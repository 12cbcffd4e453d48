"""Redis restarts (AOF on, as in docker-compose.yml): queued runs survive it, and an API and a worker running
across it reconnect by themselves. Real processes: a private redis-server, `trainboard api` on the real Postgres,
`trainboard worker`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _truncate
from tests.utils.datasets import write_mnist
from tests.utils.leases import external_run
from tests.utils.redis_server import REDIS_SERVER, RedisServer
from tests.utils.services import require_program
from tests.utils.stack import Stack, free_port, running_stack

pytestmark = pytest.mark.postgres

QUICK = {
    "dataset": "mnist",
    "model": {"arch": "mlp", "hidden": [16]},
    "epochs": 2,
    "batch_size": 32,
    "device": "cpu",
    "n_misclassified": 2,
}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require_program(REDIS_SERVER, "these tests stop and start a private Redis (apt-get install redis-server)")
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def services(migrated_postgres: str, redis_server: RedisServer) -> dict[str, str]:
    _truncate(migrated_postgres)
    return {"REDIS_URL": redis_server.url, "DATABASE_URL": migrated_postgres}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_mnist(tmp_path / "data", n_train=400, n_test=100)


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


def _queued_messages(redis_server: RedisServer) -> int:
    client = redis_server.client()
    return sum(int(client.llen(key)) for pattern in ("cpu*", "any*") for key in client.scan_iter(pattern))


def _launch(url: str, **spec: object) -> int:
    reply = httpx.post(f"{url}/api/runs", json={**QUICK, **spec}, timeout=30)
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


def _start_replica(stack: Stack) -> str:
    port = free_port()
    stack.start("api2", "api", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: _healthy(url), 60, f"the second API did not start:\n{stack.log('api2')}")
    return url


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _follow(url: str, run_id: int) -> tuple[threading.Thread, list[tuple[str, dict]]]:
    """Read a run's SSE stream in a thread until `end`; the events land in the returned list."""
    events: list[tuple[str, dict]] = []

    def read() -> None:
        with httpx.stream("GET", f"{url}/api/runs/{run_id}/events", timeout=60) as response:
            kind = ""
            for line in response.iter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    events.append((kind, json.loads(line[5:])))
                    if kind == "end":
                        return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, events


def _streamed_steps(events: list[tuple[str, dict]], key: str) -> list[int]:
    return [step for kind, data in events if kind == "metrics" for step in data.get(key, {}).get("step", [])]


def test_queued_runs_survive_a_redis_restart(
    tmp_path: Path, services: dict[str, str], redis_server: RedisServer, data: Path
) -> None:
    with running_stack(tmp_path, data_dir=data, workers=0, extra_env=services) as stack:
        run_ids = [_launch(stack.url, seed=seed) for seed in (1, 2)]
        assert _queued_messages(redis_server) == 2
        redis_server.restart()
        assert _queued_messages(redis_server) == 2, "the AOF brought the queued run ids back"
        # Launched while Redis is down: stored as queued at once, enqueued by the API when Redis is back.
        redis_server.shutdown()
        run_ids.append(_launch(stack.url, seed=3))
        redis_server.start()
        _wait(lambda: _queued_messages(redis_server) == 3, 30, "the run launched during the outage was not enqueued")
        # Launched while Redis is down, and the API that holds it stops before Redis is back: the next API to
        # start sends every queued run again (the three already in Redis get a second message, skipped later).
        redis_server.shutdown()
        run_ids.append(_launch(stack.url, seed=4))
        stack.stop("api")
        redis_server.start()
        assert _queued_messages(redis_server) == 3
        stack.start("api", "api")
        stack.wait_healthy()
        _wait(lambda: _queued_messages(redis_server) == 7, 30, "the restarted API did not re-send the queued runs")
        stack.start("worker0", "worker", "--device", "cpu", "--name", "worker0@test")
        runs = [stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=120) for run_id in run_ids]
        assert [run["status"] for run in runs] == ["succeeded"] * 4, [run["error"] for run in runs]
        assert [run["attempts"] for run in runs] == [1] * 4, "a second message never trains a run twice"
        _wait(lambda: _queued_messages(redis_server) == 0, 30, "the duplicate messages were not consumed")


def test_api_and_worker_reconnect_after_a_redis_restart(
    tmp_path: Path, services: dict[str, str], redis_server: RedisServer, data: Path
) -> None:
    # Streams re-read the database every 5 s by default, which would deliver without any fan-out: here they wait
    # 10 minutes, so what a replica's stream gets within the test's bounds came through a Redis wake-up.
    env = {**services, "TRAINBOARD_STREAM_POLL_S": "600"}
    with running_stack(tmp_path, data_dir=data, workers=1, extra_env=env) as stack:
        replica = _start_replica(stack)
        client = redis_server.client()
        _wait(lambda: client.execute_command("PUBSUB", "NUMPAT") == 2, 20, "the replicas never subscribed")
        during = _launch(stack.url, seed=1, epochs=10, batch_size=8, model={"arch": "mlp", "hidden": [256, 256]})
        _wait(lambda: httpx.get(f"{stack.url}/api/runs/{during}").json()["epoch"] >= 1, 60, "the run never started")

        redis_server.restart()  # while the worker trains a run it took from Redis
        # Both replicas' notifiers subscribe again by themselves.
        _wait(lambda: client.execute_command("PUBSUB", "NUMPAT") == 2, 30, "the notifiers did not resubscribe")

        # A run launched after the restart is enqueued on the new connection, trained, and streamed live.
        after = _launch(stack.url, seed=2)
        reader, events = _follow(replica, after)
        trained = stack.wait_for_run(during, {"succeeded", "failed"}, timeout=120)
        assert trained["status"] == "succeeded" and trained["attempts"] == 1, trained
        assert httpx.get(f"{stack.url}/api/runs/{during}").json()["epoch"] == 10
        final = stack.wait_for_run(after, {"succeeded", "failed"}, timeout=120)
        assert final["status"] == "succeeded", final["error"]
        reader.join(30)
        assert events and events[-1][0] == "end"
        steps_per_epoch = -(-360 // 32)  # 400 examples less the validation split
        assert _streamed_steps(events, "loss") == list(range(1, 2 * steps_per_epoch + 1)), "every point, once"
        assert _streamed_steps(events, "valid_acc") == [1, 2]
        statuses = [data["status"] for kind, data in events if kind == "status"]
        assert statuses[0] == "queued" and "running" in statuses and statuses[-1] == "succeeded"

        # Fan-out between replicas runs through Redis again: a point posted to one reaches a stream on the other.
        external, lease = external_run(httpx, f"{stack.url}/api")
        reader, events = _follow(replica, external)
        _wait(lambda: bool(events), 10, "the stream on the replica never started")
        points = [{"key": "loss", "step": 1, "value": 0.5}]
        posted = httpx.post(f"{stack.url}/api/runs/{external}/metrics", json={"points": points}, headers=lease)
        assert posted.status_code == 200
        # 15 s: a correctness bound (no re-read comes before 600 s), not a latency figure
        _wait(lambda: _streamed_steps(events, "loss") == [1], 15, "the point never reached the other replica")
        httpx.post(f"{stack.url}/api/runs/{external}/status", json={"status": "succeeded"}, headers=lease)
        reader.join(15)
        assert events[-1][0] == "end", "the run's end reached the other replica through Redis"
