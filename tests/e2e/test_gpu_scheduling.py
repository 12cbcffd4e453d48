"""GPU scheduling on a real `trainboard worker --gpus …` (the hardware query faked: tests/utils/fake_gpus.py): one-GPU
command runs side by side, each on its own GPU; a run asking for two waits for two free ones; no GPU ever holds two
runs; the run shows which GPUs it holds; a run asking for more GPUs than the worker has fails saying so. And a real
multi-process run: `torchrun --standalone --nproc-per-node 2` with the gloo backend on CPU, tracked from rank 0,
cancelled as one process group."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.utils.stack import REPO, Stack, running_stack

HOLD_SCRIPT = """
import os, sys, time
import trainboard

run = trainboard.init()
start = time.time()
print(f"start {start:.3f} gpus={os.environ['CUDA_VISIBLE_DEVICES']}", flush=True)
time.sleep(run.config["hold"])
print(f"end {time.time():.3f}", flush=True)
"""

DDP_SCRIPT = """
import os, time
from pathlib import Path
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
Path(os.environ["PIDS"], f"rank{rank}").write_text(str(os.getpid()))
# one write per line: with PYTHONUNBUFFERED print() writes the text and its newline apart, and two ranks share the pipe
os.write(1, f"rank {rank} of {world}\\n".encode())
torch.manual_seed(0)
model = DistributedDataParallel(torch.nn.Linear(4, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
run = None
if rank == 0:
    import trainboard
    run = trainboard.init()
    run.summary["allreduce"] = total.item()
for step in range(int(os.environ.get("STEPS", "5"))):
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(rank * 1000 + step))
    loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()  # DDP averages the gradients of both ranks over gloo
    optimizer.step()
    if run is not None:
        run.log({"train/loss": loss.item(), "world_size": world}, step=step)
    time.sleep(float(os.environ.get("SLEEP", "0")))
dist.destroy_process_group()
"""


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    code = tmp_path_factory.mktemp("code")
    (code / "hold.py").write_text(HOLD_SCRIPT)
    (code / "ddp.py").write_text(DDP_SCRIPT)
    return code


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, code_dir: Path) -> Iterator[Stack]:
    env = {"PYTHONPATH": str(REPO), "TRAINBOARD_STALE_AFTER_S": "6"}
    with running_stack(tmp_path_factory.mktemp("stack"), workers=0, extra_env=env) as live:
        # torch's indices 0..2 are the driver's GPUs 4,5,6 here: a command sees the driver's ids
        fake = {"FAKE_GPUS": "3", "CUDA_VISIBLE_DEVICES": "4,5,6"}
        args = ["worker", "--device", "cuda", "--gpus", "0,2", "--code", str(code_dir), "--name", "gpu@test"]
        live.start("gpu", *args, env=fake, program=[str(REPO / "tests/utils/fake_gpus.py")])
        live.wait_ready("gpu")
        yield live


def launch(stack: Stack, command: list[str], **fields: Any) -> int:
    body = {"name": "gpu", "command": command, **fields}
    reply = httpx.post(f"{stack.url}/api/runs", json=body, timeout=10)
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


def hold(stack: Stack, gpus: int, seconds: float) -> int:
    return launch(stack, [sys.executable, "hold.py"], config={"hold": seconds}, device="cuda", gpus=gpus)


def span(stack: Stack, run_id: int) -> tuple[float, float, str]:
    """(start, end, CUDA_VISIBLE_DEVICES) as the command printed them."""
    lines = httpx.get(f"{stack.url}/api/runs/{run_id}/logs", timeout=10).json()["lines"]
    start = next(line for line in lines if line.startswith("start "))
    end = next(line for line in lines if line.startswith("end "))
    return float(start.split()[1]), float(end.split()[1]), start.split("gpus=")[1]


def worker_row(stack: Stack) -> dict[str, Any]:
    workers = httpx.get(f"{stack.url}/api/workers", timeout=10).json()["workers"]
    return workers[0] if workers else {"gpus": [], "run_ids": []}


def test_the_worker_says_which_gpus_it_schedules(stack: Stack) -> None:
    deadline = time.monotonic() + 15
    while worker_row(stack)["gpus"] != ["0: Fake GPU 0", "2: Fake GPU 2"] and time.monotonic() < deadline:
        time.sleep(0.3)
    assert worker_row(stack)["gpus"] == ["0: Fake GPU 0", "2: Fake GPU 2"]
    assert worker_row(stack)["name"] == "gpu@test"


def test_one_gpu_runs_share_the_worker_never_a_gpu_and_a_two_gpu_run_waits_for_two(stack: Stack) -> None:
    first, second, third = (hold(stack, 1, 4.0) for _ in range(3))
    # The two-GPU run waits in a queue of its own, which the worker may read before the one-GPU queue: it goes in
    # once the first two hold both GPUs, so it has to wait for two to be free.
    for run_id in (first, second):
        stack.wait_for_run(run_id, {"running"}, timeout=60)
    pair = hold(stack, 2, 1.0)
    runs = {
        run_id: stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=90)
        for run_id in (first, second, third, pair)
    }
    assert all(run["status"] == "succeeded" for run in runs.values()), runs
    spans = {run_id: span(stack, run_id) for run_id in runs}

    # the first two ran at once, one on each GPU; the third waited for a free one
    assert {spans[first][2], spans[second][2]} == {"4", "6"}
    assert spans[second][0] < spans[first][1] and spans[first][0] < spans[second][1]
    assert spans[third][0] >= min(spans[first][1], spans[second][1]) - 0.5
    assert spans[pair][2] == "4,6", "the two-GPU run holds both"
    assert runs[pair]["held_gpus"] == ["0", "2"] and runs[first]["held_gpus"] in (["0"], ["2"])
    # never two runs on one GPU at the same time
    for a in runs:
        for b in runs:
            shared = set(spans[a][2].split(",")) & set(spans[b][2].split(","))
            if a < b and shared:
                assert spans[a][1] <= spans[b][0] + 0.5 or spans[b][1] <= spans[a][0] + 0.5, (a, b, spans)


def test_while_two_runs_run_the_workers_page_lists_both(stack: Stack) -> None:
    first, second = hold(stack, 1, 3.0), hold(stack, 1, 3.0)
    deadline = time.monotonic() + 30
    seen: list[int] = []
    while sorted(seen) != [first, second] and time.monotonic() < deadline:
        time.sleep(0.3)
        seen = worker_row(stack)["run_ids"]
    assert sorted(seen) == [first, second]
    for run_id in (first, second):
        stack.wait_for_run(run_id, {"succeeded"}, timeout=60)


def test_a_run_asking_for_more_gpus_than_the_worker_has_waits_for_a_bigger_one(stack: Stack, code_dir: Path) -> None:
    run_id = hold(stack, 3, 0.1)
    time.sleep(3)  # gpu@test, with 2 GPUs, is idle all this while: it never takes the run
    waiting = httpx.get(f"{stack.url}/api/runs/{run_id}", timeout=10).json()
    assert waiting["status"] == "queued" and waiting["queue"] == "cmd-cuda-3gpus", waiting
    assert "needs a worker that runs commands on 3 GPUs" in waiting["status_detail"]
    big = {"FAKE_GPUS": "3", "CUDA_VISIBLE_DEVICES": "0,1,2"}
    args = ["worker", "--device", "cuda", "--gpus", "all", "--code", str(code_dir), "--name", "big@test"]
    stack.start("big", *args, env=big, program=[str(REPO / "tests/utils/fake_gpus.py")])
    try:
        run = stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=60)
    finally:
        stack.stop("big")
    assert run["status"] == "succeeded", run["error"]
    assert run["worker"] == "big@test" and run["held_gpus"] == ["0", "1", "2"]
    assert span(stack, run_id)[2] == "0,1,2"


def torchrun(stack: Stack, code_dir: Path, pids: Path, **env: str) -> int:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "ddp.py"]
    # the script's knobs come through its config: `env` wraps the command with them
    wrapped = ["env", f"PIDS={pids}", *(f"{key}={value}" for key, value in env.items()), *command]
    return launch(stack, wrapped, config={}, device="auto")  # any worker: this one listens on cmd-any


def test_torchrun_with_two_gloo_processes_trains_and_reports_from_rank_0(
    stack: Stack, code_dir: Path, tmp_path: Path
) -> None:
    run_id = torchrun(stack, code_dir, tmp_path)
    run = stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=120)
    assert run["status"] == "succeeded", run
    lines = httpx.get(f"{stack.url}/api/runs/{run_id}/logs", timeout=10).json()["lines"]
    assert "rank 0 of 2" in lines and "rank 1 of 2" in lines, "both processes' output is in the run's log"
    assert run["summary"]["allreduce"] == 3.0, "the two ranks all-reduced 1 + 2 over gloo"
    points = httpx.get(f"{stack.url}/api/runs/{run_id}/metrics", params={"keys": "train/loss,world_size"}).json()
    assert points["train/loss"]["step"] == [0, 1, 2, 3, 4], "rank 0 logged each step once"
    assert set(points["world_size"]["value"]) == {2}


def test_cancelling_a_torchrun_run_stops_every_process_of_it(stack: Stack, code_dir: Path, tmp_path: Path) -> None:
    run_id = torchrun(stack, code_dir, tmp_path, STEPS="100000", SLEEP="0.1")
    deadline = time.monotonic() + 90
    while len(list(tmp_path.glob("rank*"))) < 2:
        assert time.monotonic() < deadline, "both ranks started"
        time.sleep(0.3)
    pids = [int(path.read_text()) for path in tmp_path.glob("rank*")]
    assert httpx.post(f"{stack.url}/api/runs/{run_id}/cancel", timeout=10).status_code == 200
    run = stack.wait_for_run(run_id, {"cancelled"}, timeout=30)
    assert run["status"] == "cancelled"
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids), "no rank outlives the cancel"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by its parent) is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
