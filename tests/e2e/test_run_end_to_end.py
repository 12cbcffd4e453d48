"""A run through the real path: API process → Celery broker → worker process → metrics back in the API.

On the embedded default (SQLite database, SQLite broker) and on the real Redis + Postgres.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import REDIS_TEST_URL
from tests.utils.datasets import write_mnist
from tests.utils.services import require_redis
from tests.utils.sse import sse_events
from tests.utils.stack import Stack, running_stack

TINY_MLP = {
    "name": "tiny mlp",
    "dataset": "mnist",
    "model": {"arch": "mlp", "hidden": [32]},
    "init": "glorot",
    "optimizer": {"name": "sgd", "lr": 0.1},
    "batch_size": 32,
    "epochs": 2,
    "seed": 1,
    "device": "cpu",
}


def _events(stack: Stack, run_id: int, last_event_id: int = 0) -> list[tuple[int, str, dict]]:
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id else {}
    with httpx.stream("GET", f"{stack.url}/api/runs/{run_id}/events", headers=headers, timeout=30) as response:
        return list(sse_events(response.iter_lines()))


def _check_trained_run(stack: Stack) -> int:
    created = httpx.post(f"{stack.url}/api/runs", json=TINY_MLP)
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    run = stack.wait_for_run(run_id, {"succeeded", "failed"})
    assert run["status"] == "succeeded", run["error"]
    assert run["worker"] and run["worker"].startswith("worker0@")
    assert set(run["summary"]) >= {
        "n_params",
        "best_epoch",
        "best_valid_acc",
        "test_acc_at_best",
        "gen_gap",
        "duration_s",
    }
    assert run["summary"]["n_params"] == 784 * 32 + 32 + 32 * 10 + 10
    assert run["epoch"] == 2

    metrics = httpx.get(f"{stack.url}/api/runs/{run_id}/metrics").json()
    for key in ("train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss", "test_acc"):
        assert metrics[key]["step"] == [1, 2], key
    steps_per_epoch = -(-540 // 32)  # 600 training images, 10 % held out for validation
    assert metrics["loss"]["step"] == list(range(1, 2 * steps_per_epoch + 1))
    assert len(metrics["param_norm"]["step"]) == 2 * steps_per_epoch
    assert metrics["test_acc"]["value"][-1] > 0.5, "the tiny task is learnable"

    events = _events(stack, run_id)
    assert [e[0] for e in events] == sorted({e[0] for e in events})
    replayed = sorted(
        s for _, kind, data in events if kind == "metrics" for s in data.get("test_acc", {}).get("step", [])
    )
    assert replayed == [1, 2]
    assert events[-1][2]["status"] == "succeeded"
    assert _events(stack, run_id, last_event_id=events[2][0]) == events[3:]
    return int(run_id)


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return write_mnist(tmp_path / "data", n_train=600, n_test=200)


def test_run_on_embedded_broker_and_sqlite(tmp_path: Path, tiny_data: Path) -> None:
    # a sample of the worker's machine every 0.2 s: a run of a few seconds has several
    with running_stack(tmp_path, data_dir=tiny_data, extra_env={"TRAINBOARD_SYSTEM_METRICS_EVERY_S": "0.2"}) as stack:
        run_id = _check_trained_run(stack)
        system = httpx.get(
            f"{stack.url}/api/runs/{run_id}/metrics", params={"keys": "system/cpu_percent,system/ram_gb"}
        )
        cpu, ram = system.json()["system/cpu_percent"], system.json()["system/ram_gb"]
        assert len(cpu["step"]) >= 2 and cpu["step"] == sorted(set(cpu["step"])), "seconds since the run was created"
        assert all(0 <= v <= 100 * os.cpu_count() for v in cpu["value"]) and all(v > 0 for v in ram["value"])
        assert (stack.home / "broker.sqlite").exists()
        assert httpx.get(f"{stack.url}/api/health").json()["database"] == "sqlite"


@pytest.fixture
def clean_redis() -> Iterator[str]:
    require_redis(REDIS_TEST_URL)  # skipped when nothing listens (failed in CI); any other error is raised
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()


@pytest.mark.redis
@pytest.mark.postgres
def test_run_on_redis_and_postgres(tmp_path: Path, tiny_data: Path, clean_redis: str, migrated_postgres: str) -> None:
    from tests.conftest import _truncate

    _truncate(migrated_postgres)
    env = {"REDIS_URL": clean_redis, "DATABASE_URL": migrated_postgres}
    with running_stack(tmp_path, data_dir=tiny_data, extra_env=env) as stack:
        _check_trained_run(stack)
        health = httpx.get(f"{stack.url}/api/health").json()
        assert (health["database"], health["broker"]) == ("postgresql", "redis")
        assert not (stack.home / "broker.sqlite").exists()


def test_failing_run_ends_failed_and_worker_survives(tmp_path: Path) -> None:
    # All four MNIST files are there (so nothing is downloaded, online or not), but one is cut short: the run
    # fails with a message naming the file.
    data = write_mnist(tmp_path / "data", n_train=600, n_test=200)
    images = data / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    with running_stack(tmp_path, data_dir=data) as stack:
        run_id = httpx.post(f"{stack.url}/api/runs", json=TINY_MLP).json()["id"]
        run = stack.wait_for_run(run_id, {"succeeded", "failed"})
        assert run["status"] == "failed"
        assert f"{images}: truncated or corrupt" in run["error"], run["error"]
        write_mnist(data, n_train=600, n_test=200)
        second = httpx.post(f"{stack.url}/api/runs", json=TINY_MLP).json()["id"]
        assert stack.wait_for_run(second, {"succeeded", "failed"})["status"] == "succeeded"
