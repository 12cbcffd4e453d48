"""A built-in run's log, through the real path: what its worker logs about it (a line an epoch, the traceback of
a failure) is in `GET /api/runs/{id}/logs` by the time the run has ended."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.test_run_end_to_end import TINY_MLP
from tests.utils.datasets import write_mnist
from tests.utils.stack import Stack, running_stack


def _log(stack: Stack, run_id: int) -> list[str]:
    reply = httpx.get(f"{stack.url}/api/runs/{run_id}/logs", params={"limit": 10_000})
    assert reply.status_code == 200, reply.text
    return reply.json()["lines"]  # type: ignore[no-any-return]


def test_a_workers_run_has_its_epoch_lines_and_a_failures_traceback_in_its_log(tmp_path: Path) -> None:
    data = write_mnist(tmp_path / "data", n_train=600, n_test=200)
    with running_stack(tmp_path, data_dir=data) as stack:
        run_id = httpx.post(f"{stack.url}/api/runs", json=TINY_MLP).json()["id"]
        assert stack.wait_for_run(run_id, {"succeeded", "failed"})["status"] == "succeeded"
        lines = _log(stack, run_id)
        epochs = [line for line in lines if "worker.training.run: epoch " in line]
        assert [line.split("epoch ")[1].split()[0] for line in epochs] == ["1/2", "2/2"], lines
        assert "valid_acc=" in epochs[-1] and " INFO " in epochs[-1]
        assert not [line for line in lines if "HTTP Request" in line or "worker.presence" in line], lines

        images = data / "MNIST" / "raw" / "train-images-idx3-ubyte"
        images.write_bytes(images.read_bytes()[:5000])
        failing = httpx.post(f"{stack.url}/api/runs", json={**TINY_MLP, "name": "cut short"}).json()["id"]
        assert stack.wait_for_run(failing, {"succeeded", "failed"})["status"] == "failed"
        text = "\n".join(_log(stack, failing))
        assert f"run {failing} failed:" in text and "Traceback (most recent call last):" in text, text
        assert f"{images}: truncated or corrupt" in text
