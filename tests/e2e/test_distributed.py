"""The compose topology as processes on loopback: API replicas and workers sharing Postgres and Redis."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import REDIS_TEST_URL, _truncate
from tests.utils.datasets import write_mnist
from tests.utils.leases import external_run
from tests.utils.services import require_redis
from tests.utils.stack import Stack, free_port, running_stack

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def shared_services(migrated_postgres: str) -> Iterator[dict[str, str]]:
    require_redis(REDIS_TEST_URL)  # skipped when nothing listens (failed in CI); any other error is raised
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    _truncate(migrated_postgres)
    yield {"REDIS_URL": REDIS_TEST_URL, "DATABASE_URL": migrated_postgres}
    client.flushdb()


def _second_api(stack: Stack) -> str:
    port = free_port()
    stack.start("api2", "api", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(stack.log("api2"))


def test_sse_on_one_replica_sees_metrics_posted_to_another(tmp_path: Path, shared_services: dict[str, str]) -> None:
    # Streams re-read the database every TRAINBOARD_STREAM_POLL_S anyway: set far beyond the test, only Redis's
    # fan-out can bring the event across.
    env = {**shared_services, "TRAINBOARD_STREAM_POLL_S": "600"}
    with running_stack(tmp_path, workers=0, extra_env=env) as stack:
        replica_b = _second_api(stack)
        run_id, lease = external_run(httpx, f"{stack.url}/api")
        received: list[tuple[float, dict]] = []
        connected = threading.Event()

        def listen() -> None:
            with httpx.stream("GET", f"{stack.url}/api/runs/{run_id}/events", timeout=30) as response:
                kind = ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                        connected.set()
                    elif line.startswith("data:") and kind == "metrics":
                        received.append((time.monotonic(), json.loads(line[5:])))
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert connected.wait(10)
        time.sleep(0.5)  # the stream has replayed the history and now waits for news
        points = [{"key": "loss", "step": 1, "value": 0.25}]
        posted = httpx.post(f"{replica_b}/api/runs/{run_id}/metrics", json={"points": points}, headers=lease)
        assert posted.status_code == 200
        # A correctness bound, not a speed one (speed is bench/'s job): the event arrives, long before a re-read.
        listener.join(60)
        assert received, "the event posted to replica B never reached the stream on replica A within 60 s"
        _, data = received[0]
        assert data["loss"] == {"step": [1], "value": [0.25]}


def test_two_workers_share_a_sweep(tmp_path: Path, shared_services: dict[str, str]) -> None:
    data = write_mnist(tmp_path / "data", n_train=400, n_test=100)
    base = {
        "dataset": "mnist",
        "model": {"arch": "mlp", "hidden": [16]},
        "epochs": 2,
        "batch_size": 32,
        "device": "cpu",
    }
    with running_stack(tmp_path, data_dir=data, workers=2, extra_env=shared_services) as stack:
        stack.wait_ready("worker0", "worker1")  # else the first worker up may take all four runs
        sweep = httpx.post(
            f"{stack.url}/api/sweeps", json={"name": "shared", "base": base, "grid": {"seed": [1, 2, 3, 4]}}
        ).json()
        assert len(sweep["runs"]) == 4
        runs = [stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=240) for run_id in sweep["runs"]]
        assert all(run["status"] == "succeeded" for run in runs), [run["error"] for run in runs]
        workers = {run["worker"].split("@")[0] for run in runs}
        assert workers == {"worker0", "worker1"}, f"runs went to {workers}"
        results = httpx.get(f"{stack.url}/api/sweeps/{sweep['id']}").json()["results"]
        assert sum(row["best"] for row in results) == 1
