"""Command runs end to end, on real processes (`trainboard api` and `trainboard worker --code DIR`), with named tokens
on: a small script using `trainboard.init()` runs with only its run's lease, its points and printed lines arrive; exit 1
fails with stderr's tail; Cancel reaches the script as SIGTERM; a worker without --code never takes one; a worker
killed with kill -9 hands the run to another, whose attempt restores the checkpoint the script saved."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.utils.stack import REPO, Stack, running_stack

SECRETS = {"alice": ("user", "alice-secret-0123456789"), "box": ("worker", "worker-secret-0123456789")}
USER = {"Authorization": f"Bearer {SECRETS['alice'][1]}"}
SCRIPT = """
import os, signal, sys, tempfile, time
from pathlib import Path
import trainboard

def on_term(signum, frame):
    print("got SIGTERM", flush=True)
    os._exit(143)

signal.signal(signal.SIGTERM, on_term)
assert "TRAINBOARD_TOKEN" not in os.environ, "the worker's token never reaches the user's code"
run = trainboard.init()
attempt = int(os.environ["TRAINBOARD_ATTEMPT"])
print(f"attempt {attempt} lr={sys.argv[1]} gpus={os.environ['CUDA_VISIBLE_DEVICES']!r}", flush=True)
start = 0
if attempt > 1:
    start = int(run.restore("ckpt.txt").read_text())
    print(f"resumed at step {start}", flush=True)
for step in range(start, run.config["steps"]):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
    print(f"step {step}", flush=True)
    if run.config.get("save"):
        path = Path(tempfile.mkdtemp()) / "ckpt"
        path.write_text(str(step + 1))
        run.save(path, name="ckpt.txt")
    time.sleep(run.config["sleep"])
if run.config.get("fail"):
    print("something broke: bad data", file=sys.stderr, flush=True)
    sys.exit(1)
"""


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    code = tmp_path_factory.mktemp("code")
    (code / "train.py").write_text(SCRIPT)
    return code


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, code_dir: Path) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    tokens = tmp / "tokens"
    tokens.write_text("".join(f"{name} {role} {secret}\n" for name, (role, secret) in SECRETS.items()))
    env = {
        "TRAINBOARD_TOKENS_FILE": str(tokens),
        "TRAINBOARD_TOKEN": SECRETS["box"][1],
        "TRAINBOARD_STALE_AFTER_S": "4",
    }
    env["PYTHONPATH"] = str(REPO)  # the script imports this checkout's trainboard, as the worker does
    with running_stack(tmp, workers=0, extra_env=env) as live:
        live.start_worker("coder", code_dir=code_dir)
        live.wait_ready("coder")
        yield live


def launch(stack: Stack, **config: Any) -> int:
    body = {
        "name": "cmd",
        "command": [sys.executable, "train.py", "{lr}"],
        "config": {"lr": 0.1, "sleep": 0.05, **config},
    }
    reply = httpx.post(f"{stack.url}/api/runs", json=body, headers=USER, timeout=10)
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


def log_of(stack: Stack, run_id: int) -> list[str]:
    reply = httpx.get(f"{stack.url}/api/runs/{run_id}/logs", headers=USER, timeout=10).json()
    return list(reply["lines"])


def wait_log(stack: Stack, run_id: int, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in log_of(stack, run_id)):
        assert time.monotonic() < deadline, f"{text!r} not in the log: {log_of(stack, run_id)}"
        time.sleep(0.2)


def test_a_command_run_reports_its_points_and_log_and_succeeds(stack: Stack) -> None:
    run_id = launch(stack, steps=5)
    run = stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=60, headers=USER)
    assert run["status"] == "succeeded", run
    points = httpx.get(f"{stack.url}/api/runs/{run_id}/metrics", params={"keys": "loss"}, headers=USER).json()
    assert points["loss"]["step"] == [0, 1, 2, 3, 4]
    lines = log_of(stack, run_id)
    assert "attempt 1 lr=0.1 gpus=''" in lines and "step 4" in lines
    assert lines.count("step 0") == 1, "the worker captures the output, init() does not capture it again"


def test_a_command_that_exits_1_fails_with_the_tail_of_its_stderr(stack: Stack) -> None:
    run_id = launch(stack, steps=1, fail=True)
    run = stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=60, headers=USER)
    assert run["status"] == "failed"
    assert "exited with code 1" in run["error"] and "something broke: bad data" in run["error"]


def test_cancel_sends_sigterm_to_the_command_and_the_run_ends_cancelled(stack: Stack) -> None:
    run_id = launch(stack, steps=10_000, sleep=0.1)
    wait_log(stack, run_id, "step 3")
    cancelled_at = time.monotonic()
    assert httpx.post(f"{stack.url}/api/runs/{run_id}/cancel", headers=USER).status_code == 200
    wait_log(stack, run_id, "got SIGTERM", timeout=15)
    assert time.monotonic() - cancelled_at < 10, "the script heard of the cancel within seconds"
    worker = httpx.get(f"{stack.url}/api/workers", headers=USER).json()["workers"][0]
    deadline = time.monotonic() + 15
    while worker["run_id"] is not None and time.monotonic() < deadline:  # the worker is free for the next run
        time.sleep(0.3)
        worker = httpx.get(f"{stack.url}/api/workers", headers=USER).json()["workers"][0]
    assert worker["run_id"] is None
    assert httpx.get(f"{stack.url}/api/runs/{run_id}", headers=USER).json()["status"] == "cancelled"


def test_a_worker_without_code_never_takes_a_command_run(stack: Stack) -> None:
    if "coder" in stack.processes:
        stack.stop("coder")
    stack.start_worker("plain")
    try:
        stack.wait_ready("plain")
        run_id = launch(stack, steps=1)
        time.sleep(4)
        run = httpx.get(f"{stack.url}/api/runs/{run_id}", headers=USER).json()
        assert run["status"] == "queued" and run["attempts"] == 0
        assert "needs a worker that runs commands" in run["status_detail"]
    finally:
        stack.stop("plain")
    httpx.post(f"{stack.url}/api/runs/{run_id}/cancel", headers=USER)


def test_a_killed_worker_hands_the_run_to_another_that_resumes_from_the_saved_checkpoint(
    stack: Stack, code_dir: Path
) -> None:
    if "coder" in stack.processes:
        stack.stop("coder")  # the run must go to the worker this test kills
    stack.start_worker("first", code_dir=code_dir)
    stack.wait_ready("first")
    run_id = launch(stack, steps=12, sleep=0.25, save=True)
    wait_log(stack, run_id, "step 5")
    stack.stop("first", sig=signal.SIGKILL)
    stack.start_worker("second", code_dir=code_dir)
    run = stack.wait_for_run(run_id, {"succeeded", "failed"}, timeout=60, headers=USER)
    assert run["status"] == "succeeded" and run["attempts"] == 2, run
    lines = log_of(stack, run_id)
    resumed = next(line for line in lines if line.startswith("resumed at step"))
    resumed_at = int(resumed.split()[-1])
    assert resumed_at >= 5, "the second attempt went on from the checkpoint, not from 0"
    assert "attempt 2 lr=0.1 gpus=''" in lines
    assert lines.count("attempt 1 lr=0.1 gpus=''") == 1, "the second attempt's lines follow the first's"
    points = httpx.get(f"{stack.url}/api/runs/{run_id}/metrics", params={"keys": "loss"}, headers=USER).json()
    # Points the killed attempt had not yet delivered are lost with it; from the checkpoint on, every step is there.
    assert set(range(resumed_at, 12)) <= set(points["loss"]["step"]) and points["loss"]["step"][:5] == [0, 1, 2, 3, 4]
