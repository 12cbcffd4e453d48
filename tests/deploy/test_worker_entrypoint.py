"""docker/worker-entrypoint.sh: each replica of `--scale worker=N` gets a GPU of its own.

Run here with a stand-in `nvidia-smi`, so no GPU and no Docker are needed; the script is the image's own.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.deploy.stack import ROOT
from tests.utils.services import require_program

ENTRYPOINT = ROOT / "docker" / "worker-entrypoint.sh"
# Stands in for the worker: says which GPUs torch would see, then holds on like a worker does.
SHOW_GPU = ["sh", "-c", 'echo "${CUDA_VISIBLE_DEVICES-<unset>}"; exec sleep 30']

Starter = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def host(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a worker container on a machine with two GPUs, and its shared lock volume."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nvidia-smi"
    fake.write_text(
        '#!/bin/sh\n[ -n "$FAKE_GPUS" ] || { echo "No devices were found"; exit 6; }\nprintf "%s\\n" $FAKE_GPUS\n'
    )
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        FAKE_GPUS="GPU-aaaa GPU-bbbb",
        TRAINBOARD_GPU_LOCK_DIR=str(tmp_path / "locks"),
        TRAINBOARD_GPU_POLL_S="0.2",
    )
    yield env


@pytest.fixture
def start(host: dict[str, str]) -> Iterator[Starter]:
    procs: list[subprocess.Popen[str]] = []

    def _start(*command: str, **env: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ["sh", str(ENTRYPOINT), *command],
            env={**host, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield _start
    for proc in procs:
        proc.kill()
        proc.communicate()


def first_line(stream: IO[str] | None, timeout: float) -> str | None:
    """The stream's next line, or None when none comes within ``timeout`` seconds."""
    assert stream is not None
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    try:
        return stream.readline().strip() if selector.select(timeout) else None
    finally:
        selector.close()


def test_each_replica_gets_its_own_gpu_and_an_extra_one_waits(start: Starter) -> None:
    require_program("flock", "the entrypoint locks GPUs with util-linux flock, as the worker image has")
    first, second = start(*SHOW_GPU), start(*SHOW_GPU)
    first_gpu, second_gpu = first_line(first.stdout, 10), first_line(second.stdout, 10)
    assert {first_gpu, second_gpu} == {"GPU-aaaa", "GPU-bbbb"}

    third = start(*SHOW_GPU)
    assert first_line(third.stdout, 1.5) is None, "a third worker must not double up on a busy GPU"
    assert "waiting" in (first_line(third.stderr, 5) or "")

    first.kill()
    first.wait()
    assert first_line(third.stdout, 10) == first_gpu, "the waiting worker takes the GPU that was freed"


def test_a_gpu_chosen_by_the_user_is_kept(start: Starter, host: dict[str, str]) -> None:
    proc = start(*SHOW_GPU, CUDA_VISIBLE_DEVICES="1")
    assert first_line(proc.stdout, 10) == "1"
    assert not Path(host["TRAINBOARD_GPU_LOCK_DIR"]).exists()


def test_a_cpu_worker_claims_no_gpu(start: Starter, host: dict[str, str]) -> None:
    proc = start(*SHOW_GPU, "trainboard", "worker", "--device", "cpu")
    assert first_line(proc.stdout, 10) == "<unset>"
    assert not Path(host["TRAINBOARD_GPU_LOCK_DIR"]).exists()


def test_without_a_gpu_the_command_still_runs(start: Starter) -> None:
    proc = start(*SHOW_GPU, FAKE_GPUS="")
    assert first_line(proc.stdout, 10) == "<unset>"
    assert "no GPU" in (first_line(proc.stderr, 5) or "")


def test_the_lock_lasts_as_long_as_the_worker(start: Starter, host: dict[str, str]) -> None:
    require_program("flock", "the entrypoint locks GPUs with util-linux flock, as the worker image has")
    proc = start(*SHOW_GPU, FAKE_GPUS="GPU-aaaa")
    assert first_line(proc.stdout, 10) == "GPU-aaaa"
    lock = Path(host["TRAINBOARD_GPU_LOCK_DIR"]) / "GPU-aaaa.lock"
    busy = subprocess.run(["flock", "-n", str(lock), "true"], check=False, timeout=10)
    assert busy.returncode != 0, "the worker process must hold its GPU's lock"
    proc.kill()
    proc.wait()
    time.sleep(0.1)
    assert subprocess.run(["flock", "-n", str(lock), "true"], check=False, timeout=10).returncode == 0
