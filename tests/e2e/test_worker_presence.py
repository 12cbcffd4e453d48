"""A real `trainboard worker` process on the API's Workers page: it registers once ready, names the run it is
executing while it runs, and is offline as soon as it shuts down cleanly. On the embedded broker and on Redis."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import REDIS_TEST_URL
from tests.utils.datasets import write_mnist
from tests.utils.services import require_redis
from tests.utils.stack import Stack, running_stack

TINY_MLP = {
    "name": "tiny mlp",
    "dataset": "mnist",
    "model": {"arch": "mlp", "hidden": [32]},
    "batch_size": 32,
    "epochs": 2,
    "seed": 1,
    "device": "cpu",
}


def _worker(stack: Stack, name: str) -> dict[str, Any] | None:
    listed = httpx.get(f"{stack.url}/api/workers", timeout=5).json()
    return next((w for w in listed["workers"] if w["name"] == name), None)


def _wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise TimeoutError(f"{what} after {timeout} s")


def _check_presence(stack: Stack) -> None:
    worker = _wait_for("worker0@test not registered", lambda: _worker(stack, "worker0@test"))
    assert worker["online"] is True
    assert (worker["host"], worker["queues"], worker["run_id"]) == (socket.gethostname(), ["any", "cpu"], None)
    assert "cpu" in worker["devices"]
    cpu_queue = next(q for q in httpx.get(f"{stack.url}/api/workers").json()["queues"] if q["name"] == "cpu")
    assert cpu_queue == {"name": "cpu", "queued": 0, "workers": 1}

    run_id = httpx.post(f"{stack.url}/api/runs", json=TINY_MLP).json()["id"]
    seen = _wait_for(
        "the worker never said it executes the run",
        lambda: (w := _worker(stack, "worker0@test")) and w["run_id"] == run_id and w,
    )
    assert seen["online"] is True
    assert stack.wait_for_run(run_id, {"succeeded", "failed"})["status"] == "succeeded"
    _wait_for("the worker still names a finished run", lambda: _worker(stack, "worker0@test")["run_id"] is None)  # type: ignore[index]

    stack.stop("worker0")  # SIGTERM: Celery's warm shutdown, well within stale_after_s
    assert _worker(stack, "worker0@test")["online"] is False  # type: ignore[index]


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return write_mnist(tmp_path / "data", n_train=300, n_test=100)


def test_worker_registers_on_the_embedded_broker(tmp_path: Path, tiny_data: Path) -> None:
    with running_stack(tmp_path, data_dir=tiny_data) as stack:
        _check_presence(stack)


@pytest.fixture
def clean_redis() -> Iterator[str]:
    require_redis(REDIS_TEST_URL)
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()


@pytest.mark.redis
def test_worker_registers_on_redis(tmp_path: Path, tiny_data: Path, clean_redis: str) -> None:
    with running_stack(tmp_path, data_dir=tiny_data, extra_env={"REDIS_URL": clean_redis}) as stack:
        _check_presence(stack)
