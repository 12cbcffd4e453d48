"""PyTorch's own MNIST example with trainboard's few lines (examples/pytorch_mnist.py), run as a stranger runs it:
its argparse options are the run's config, its losses are charted, what it prints is in the run's log."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.utils.datasets import write_mnist
from tests.utils.stack import REPO, Stack, api_only_stack

EXAMPLE = REPO / "examples" / "pytorch_mnist.py"


stack = api_only_stack("example")


def test_the_pytorch_mnist_example_is_tracked_with_its_options_losses_and_output(stack: Stack, tmp_path: Path) -> None:
    write_mnist(tmp_path / "data", n_train=320, n_test=100)  # the example reads ../data, as in its repository
    (tmp_path / "work").mkdir()
    env = {**os.environ, "TRAINBOARD_API_URL": stack.url, "TRAINBOARD_SYSTEM_METRICS": "0"}
    args = ["--epochs", "2", "--batch-size", "32", "--test-batch-size", "50", "--log-interval", "5", "--no-accel"]
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), *args], cwd=tmp_path / "work", env=env, capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Train Epoch: 2 [0/320 (0%)]" in done.stdout, "the terminal still shows what it prints"

    api = httpx.Client(base_url=f"{stack.url}/api", timeout=30)
    run = next(r for r in api.get("/runs").json() if r["name"] == "pytorch mnist example")
    assert run["status"] == "succeeded"
    assert run["config"]["batch_size"] == 32 and run["config"]["epochs"] == 2 and run["config"]["lr"] == 1.0
    keys = {k["key"]: k["count"] for k in api.get(f"/runs/{run['id']}/keys").json()}
    batches = math.ceil(320 / 32)
    assert keys == {"train/loss": 2 * batches, "lr": 2 * batches, "test/loss": 2, "test/acc": 2}
    lr = api.get(f"/runs/{run['id']}/metrics", params={"keys": "lr"}).json()["lr"]["value"]
    assert lr[0] == 1.0 and lr[-1] == pytest.approx(0.7), "StepLR's decay, as the script saw it"
    lines = api.get(f"/runs/{run['id']}/logs").json()["lines"]
    assert "Train Epoch: 1 [0/320 (0%)]\tLoss: " in lines[0] and any(line.startswith("Test set:") for line in lines)
