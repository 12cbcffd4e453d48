"""Nothing lost: a worker killed mid-run, the API stopped mid-run, a cancel reaching a running worker."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import httpx
import pytest
import torch

from tests.utils.datasets import write_mnist
from tests.utils.stack import Stack, running_stack
from worker.reporter import CHECKPOINT_ARTIFACT
from worker.training.run import EPOCH_KEYS

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
STEPS_PER_EPOCH = -(-1080 // 8)  # 1,200 images, 120 held out for validation


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


def _events(stack: Stack, run_id: int) -> list[tuple[str, dict]]:
    """Every event of a finished run, in order, up to its end."""
    events = []
    with httpx.stream("GET", f"{stack.url}/api/runs/{run_id}/events", timeout=30) as response:
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                if kind == "end":
                    break
                events.append((kind, json.loads(line[5:])))
    return events


def _assert_every_point_once(stack: Stack, run_id: int, epochs: int, steps_per_epoch: int) -> None:
    metrics = httpx.get(f"{stack.url}/api/runs/{run_id}/metrics").json()
    for key in ("train_loss", "valid_acc", "test_acc"):
        assert metrics[key]["step"] == list(range(1, epochs + 1)), key
    assert metrics["loss"]["step"] == list(range(1, epochs * steps_per_epoch + 1))


def _has_checkpoint(stack: Stack, run_id: int) -> bool:
    artifacts = httpx.get(f"{stack.url}/api/runs/{run_id}/artifacts").json()
    return CHECKPOINT_ARTIFACT in {artifact["name"] for artifact in artifacts}


def _checkpoint_epoch(stack: Stack, run_id: int, tmp_path: Path) -> int:
    """The epoch of the checkpoint the API holds: the one a worker on another machine resumes from."""
    from worker.training import checkpoint

    path = tmp_path / "checkpoint_on_the_api.pt"
    path.write_bytes(httpx.get(f"{stack.url}/api/runs/{run_id}/artifacts/{CHECKPOINT_ARTIFACT}").content)
    return int(checkpoint.load(path, device=torch.device("cpu"))["epoch"])


def _points_before_attempt(events: list[tuple[str, dict]], attempt: int) -> set[tuple[str, int]]:
    """The (key, step) points stored before attempt ``attempt`` claimed the run: what earlier attempts delivered."""
    stored: set[tuple[str, int]] = set()
    for kind, data in events:
        if kind == "status" and data["attempts"] == attempt:
            return stored
        if kind == "metrics":
            stored |= {
                (key, step) for key, series in data.items() if isinstance(series, dict) for step in series["step"]
            }
    raise AssertionError(f"no attempt {attempt} in the run's events")


def _epochs_trained(log: str) -> list[int]:
    return [int(epoch) for epoch in re.findall(r"\bepoch (\d+)/\d+ ", log)]


# Each wait has its own limit, so a slow machine fails with the test's message; together (60 + 60 + 90 + 60 + 240 s)
# they stay under the test's pytest timeout.
@pytest.mark.timeout(560)
def test_killed_worker_run_resumes_elsewhere(tmp_path: Path, data: Path) -> None:
    env = {"TRAINBOARD_STALE_AFTER_S": "6"}
    # Each worker on a home of its own, as on two machines: the second must fetch the checkpoint from the API.
    with running_stack(tmp_path, data_dir=data, workers=2, extra_env=env, worker_homes=True) as stack:  # 60 s
        stack.wait_ready("worker0", "worker1")  # 60 s
        run_id = httpx.post(f"{stack.url}/api/runs", json=SLOW_MLP).json()["id"]
        _wait(
            lambda: _run(stack, run_id)["epoch"] >= 3 and _has_checkpoint(stack, run_id),
            90,
            "the run never reached epoch 3 with a checkpoint on the API",
        )
        first = _run(stack, run_id)
        victim = first["worker"].split("@")[0]
        taker = ({"worker0", "worker1"} - {victim}).pop()
        stack.stop(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        resume_from = _checkpoint_epoch(stack, run_id, tmp_path)  # the dead worker uploads nothing more
        assert resume_from >= 1
        _wait(lambda: _run(stack, run_id)["worker"] not in (None, first["worker"]), 60, "the run was never taken over")
        resumed_after = time.monotonic() - killed_at
        final = stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=240)
        assert final["status"] == "succeeded", final["error"]
        assert final["attempts"] == 2 and final["worker"] == f"{taker}@test"
        _assert_every_point_once(stack, run_id, epochs=SLOW_MLP["epochs"], steps_per_epoch=STEPS_PER_EPOCH)

        # A resume, not a restart: the second worker trained from the epoch after the API's checkpoint...
        trained = _epochs_trained(stack.log(taker))
        assert trained, stack.log(taker)[-4000:]
        assert trained[0] == resume_from + 1, (
            f"the second worker started at epoch {trained[0]}, not after the checkpoint's epoch {resume_from}: "
            "it retrained the run instead of resuming it"
        )
        assert trained == list(range(resume_from + 1, SLOW_MLP["epochs"] + 1))
        # ...and re-sent, of what the first worker had delivered, only the restored per-epoch history and what came
        # after that checkpoint: the per-step points up to the checkpoint are not recomputed.
        events = _events(stack, run_id)
        delivered = _points_before_attempt(events, 2)
        up_to_checkpoint = {
            (key, step) for key, step in delivered if key not in EPOCH_KEYS and step <= resume_from * STEPS_PER_EPOCH
        }
        assert up_to_checkpoint, "the first worker delivered per-step points before its checkpoint"
        resent = re.findall(rf"run {run_id}: (\d+) points sent were already stored", stack.log(taker))
        assert resent, stack.log(taker)[-4000:]
        assert int(resent[-1]) == len(delivered) - len(up_to_checkpoint), (
            f"the second worker re-sent {resent[-1]} points the API had; resuming after epoch {resume_from} re-sends "
            f"{len(delivered) - len(up_to_checkpoint)} (of {len(delivered)} delivered)"
        )
        assert "interrupted" in {kind for kind, _ in events}
        print(f"kill -> resumed on another worker: {resumed_after:.1f} s, from epoch {resume_from + 1}")


@pytest.mark.timeout(560)  # the waits: 60 + 120 + 15 + 60 + 240 s
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
        _assert_every_point_once(stack, run_id, epochs=SLOW_MLP["epochs"], steps_per_epoch=STEPS_PER_EPOCH)
        assert not spool.exists(), "the delivered spool is deleted"


@pytest.mark.timeout(400)  # the waits: 60 + 120 + 30 + 120 s
def test_cancel_reaches_a_running_worker(tmp_path: Path, data: Path) -> None:
    with running_stack(tmp_path, data_dir=data, workers=1) as stack:
        run_id = httpx.post(f"{stack.url}/api/runs", json={**SLOW_MLP, "epochs": 50}).json()["id"]
        _wait(lambda: _run(stack, run_id)["epoch"] >= 1, 120, "the run never reached epoch 1")
        httpx.post(f"{stack.url}/api/runs/{run_id}/cancel")
        # The worker learns it from its next metrics reply or heartbeat (every 0.5 to 2 s). The bound checks that
        # it stops, long before the run would have ended, not how fast: speed is measured in bench/, never here.
        _wait(lambda: f"run {run_id} stopped: cancelled" in stack.log("worker0"), 30, "the worker kept training")
        run = _run(stack, run_id)
        assert run["status"] == "cancelled"
        metrics = httpx.get(f"{stack.url}/api/runs/{run_id}/metrics", params={"keys": "test_acc,valid_acc"}).json()
        assert len(metrics["test_acc"]["step"]) >= 1, "the metrics so far are kept"
        # The page and the row agree with the charts: the epochs it finished, and the best of them so far.
        _wait(lambda: _run(stack, run_id)["epoch"] == len(metrics["valid_acc"]["step"]), 10, "epoch lags the charts")
        run = _run(stack, run_id)
        valid = dict(zip(metrics["valid_acc"]["step"], metrics["valid_acc"]["value"], strict=True))
        assert run["summary"]["best_valid_acc"] == max(valid.values())
        assert run["progress"] >= run["epoch"] / run["spec"]["epochs"], "the bar is not behind the epochs done"
        assert run["summary"]["best_epoch"] == min(e for e, v in valid.items() if v == max(valid.values()))
        # The worker is free again: the next run trains.
        quick = {**SLOW_MLP, "model": {"arch": "mlp", "hidden": [16]}, "epochs": 1}
        next_id = httpx.post(f"{stack.url}/api/runs", json=quick).json()["id"]
        assert stack.wait_for_run(next_id, {"succeeded", "failed"}, timeout=120)["status"] == "succeeded"
