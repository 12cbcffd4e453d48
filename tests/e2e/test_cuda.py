"""The CUDA paths on a real GPU (skipped on a machine where torch sees none: run this on the device machine with
`pytest tests/e2e/test_cuda.py`): a `trainboard worker --device cuda --gpus all --code DIR` trains a built-in run on
the GPU it holds, runs a command run that sees exactly the GPU it holds, and reports NVML's system/gpu0 metrics."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.utils.datasets import write_mnist
from tests.utils.stack import REPO, Stack, running_stack

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on the device machine)")

ON_GPU = """
import os, torch, trainboard
run = trainboard.init()
assert torch.cuda.device_count() == 1, "the command sees only the GPU its run holds"
x = torch.randn(2048, 2048, device="cuda")
for step in range(5):
    run.log({"matmul_norm": (x @ x).norm().item()}, step=step)
run.summary["device"] = torch.cuda.get_device_name(0)
print("visible", os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("cuda")
    code = tmp / "code"
    code.mkdir()
    (code / "on_gpu.py").write_text(ON_GPU)
    data = write_mnist(tmp / "data", n_train=600, n_test=200)
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {"PYTHONPATH": pythonpath, "TRAINBOARD_SYSTEM_METRICS_EVERY_S": "1"}
    with running_stack(tmp, data_dir=data, workers=0, extra_env=env) as live:
        live.start("gpu", "worker", "--device", "cuda", "--gpus", "all", "--code", str(code), "--name", "cuda@test")
        live.wait_ready("gpu")
        yield live


def test_a_built_in_run_trains_on_the_gpu_it_holds(stack: Stack) -> None:
    spec = {"dataset": "mnist", "model": {"arch": "cnn"}, "epochs": 2, "batch_size": 64, "device": "cuda"}
    run_id = httpx.post(f"{stack.url}/api/runs", json=spec, timeout=10).json()["id"]
    run = stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=300)
    assert run["status"] == "succeeded", run["error"]
    assert run["held_gpus"] == ["0"] and run["summary"]["best_valid_acc"] is not None
    names = {row["key"] for row in httpx.get(f"{stack.url}/api/runs/{run_id}/keys", timeout=10).json()}
    assert "system/gpu0/mem_gb" in names, "NVML's GPU metrics are sampled while it trains"


def test_a_command_run_sees_the_gpu_it_holds(stack: Stack) -> None:
    body = {"name": "on gpu", "command": [sys.executable, "on_gpu.py"], "config": {}, "device": "cuda", "gpus": 1}
    run_id = httpx.post(f"{stack.url}/api/runs", json=body, timeout=10).json()["id"]
    run = stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=300)
    assert run["status"] == "succeeded", run["error"]
    assert run["held_gpus"] == ["0"] and run["summary"]["device"]
    points = httpx.get(f"{stack.url}/api/runs/{run_id}/metrics", params={"keys": "matmul_norm"}, timeout=10).json()
    assert points["matmul_norm"]["step"] == [0, 1, 2, 3, 4]
