"""Nothing lost: a worker killed mid-run, the API stopped mid-run, a cancel reaching a running worker."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.utils.datasets import write_mnist
from tests.utils.stack import Stack, running_stack

SLOW_MLP = {
    "name": "slow mlp",
    "dataset": "mnist",
    "model": {"arch": "mlp", "hidden": [256, 256]},
    "optimizer": {"name": "sgd", "lr": 0.05},
    "batch_size": 8,
    "epochs": 30,  # long enough that the run is still training when the test acts, even on a fast machine
    "seed": 3,
    "device": "cpu",
    "n_misclassified": 4,
}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_mnist(tmp_path / "data", n_train=1200, n_test=200)


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


def _run(stack: Stack, run_id: int) -> dict:
    return httpx.get(f"{stack.url}/api/runs/{run_id}").json()


def _event_kinds(stack: Stack, run_id: int) -> list[str]:
    kinds = []
    with httpx.stream("GET", f"{stack.url}/api/runs/{run_id}/events", timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
                if kind == "end":
                    break
                kinds.append(kind)
    return kinds


def _assert_every_point_once(stack: Stack, run_id: int, epochs: int, steps_per_epoch: int) -> None:
    metrics = httpx.get(f"{stack.url}/api/runs/{run_id}/metrics").json()
    for key in ("train_loss", "valid_acc", "test_acc"):
        assert metrics[key]["step"] == list(range(1, epochs + 1)), key
    assert metrics["loss"]["step"] == list(range(1, epochs * steps_per_epoch + 1))


def test_killed_worker_run_resumes_elsewhere(tmp_path: Path, data: Path) -> None:
    env = {"TRAINBOARD_STALE_AFTER_S": "6"}
    with running_stack(tmp_path, data_dir=data, workers=2, extra_env=env) as stack:
        run_id = httpx.post(f"{stack.url}/api/runs", json=SLOW_MLP).json()["id"]
        _wait(lambda: _run(stack, run_id)["epoch"] >= 2, 120, "the run never reached epoch 2")
        first = _run(stack, run_id)
        victim = first["worker"].split("@")[0]
        stack.stop(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        _wait(lambda: _run(stack, run_id)["worker"] not in (None, first["worker"]), 60, "the run was never taken over")
        resumed_after = time.monotonic() - killed_at
        final = stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=240)
        assert final["status"] == "succeeded", final["error"]
        assert final["attempts"] == 2 and final["worker"] != first["worker"]
        assert resumed_after < 60
        _assert_every_point_once(stack, run_id, epochs=SLOW_MLP["epochs"], steps_per_epoch=-(-1080 // 8))
        kinds = _event_kinds(stack, run_id)
        assert "interrupted" in kinds
        print(f"kill -> resumed on another worker: {resumed_after:.1f} s")


def test_api_down_for_15_s_loses_no_point(tmp_path: Path, data: Path) -> None:
    with running_stack(tmp_path, data_dir=data, workers=1) as stack:
        run_id = httpx.post(f"{stack.url}/api/runs", json=SLOW_MLP).json()["id"]
        _wait(lambda: _run(stack, run_id)["epoch"] >= 1, 120, "the run never reached epoch 1")
        stack.stop("api")
        spool = stack.home / "spool" / str(run_id)
        time.sleep(15)
        spooled = sorted(spool.glob("*.jsonl"))
        assert spooled, "while the API is down, the worker keeps the points on its disk"
        assert sum(len(p.read_text().splitlines()) for p in spooled) > 0
        stack.start("api", "api")
        stack.wait_healthy()
        final = stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=240)
        assert final["status"] == "succeeded", final["error"]
        assert final["attempts"] == 1, "the worker kept its run through the outage"
        _assert_every_point_once(stack, run_id, epochs=SLOW_MLP["epochs"], steps_per_epoch=-(-1080 // 8))
        assert not spool.exists(), "the delivered spool is deleted"


def test_cancel_reaches_a_running_worker_within_5_s(tmp_path: Path, data: Path) -> None:
    with running_stack(tmp_path, data_dir=data, workers=1) as stack:
        run_id = httpx.post(f"{stack.url}/api/runs", json={**SLOW_MLP, "epochs": 50}).json()["id"]
        _wait(lambda: _run(stack, run_id)["epoch"] >= 1, 120, "the run never reached epoch 1")
        httpx.post(f"{stack.url}/api/runs/{run_id}/cancel")
        cancelled_at = time.monotonic()
        _wait(lambda: f"run {run_id} stopped: cancelled" in stack.log("worker0"), 10, "the worker kept training")
        assert time.monotonic() - cancelled_at < 5
        run = _run(stack, run_id)
        assert run["status"] == "cancelled"
        metrics = httpx.get(f"{stack.url}/api/runs/{run_id}/metrics", params={"keys": "test_acc"}).json()
        assert len(metrics["test_acc"]["step"]) >= 1, "the metrics so far are kept"
        # The worker is free again: the next run trains.
        quick = {**SLOW_MLP, "model": {"arch": "mlp", "hidden": [16]}, "epochs": 1}
        next_id = httpx.post(f"{stack.url}/api/runs", json=quick).json()["id"]
        assert stack.wait_for_run(next_id, {"succeeded", "failed"}, timeout=120)["status"] == "succeeded"
