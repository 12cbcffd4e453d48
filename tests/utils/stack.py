"""Start trainboard the way `make up` does, as real processes on loopback: `trainboard api` and workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from trainboard.client import Client

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    home: Path
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(
        self,
        name: str,
        *args: str,
        env: dict[str, str] | None = None,
        program: Sequence[str] = ("-m", "trainboard.cli"),
    ) -> subprocess.Popen[bytes]:
        """Start `trainboard <args>` (or `python <program> <args>`) with its output in logs/<name>.log."""
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(
            [sys.executable, *program, *args],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def start_worker(self, name: str, *, code_dir: Path | None = None, env: dict[str, str] | None = None) -> None:
        """A cpu worker named ``name@test``; with ``code_dir``, one that takes command runs (``--code DIR``)."""
        code = ["--code", str(code_dir)] if code_dir is not None else []
        self.start(name, "worker", "--device", "cpu", "--name", f"{name}@test", *code, env=env)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def wait_ready(self, *names: str, timeout: float = 60) -> None:
        """Wait until each named worker consumes its queues (Celery logs "ready."), so runs can go to any."""
        deadline = time.monotonic() + timeout
        while not all("ready." in self.log(name) for name in names):
            for name in names:
                if self.processes[name].poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{self.log(name)}")
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {name}\n{self.log(name)[-4000:]}" for name in names)
                raise TimeoutError(f"workers not ready after {timeout} s\n{logs}")
            time.sleep(0.2)

    @contextmanager
    def api_client(self) -> Iterator[Client]:
        """A Client of this stack's API, as a script has one; the API is started again first if a test stopped
        it and failed before it could restart it."""
        if "api" not in self.processes:
            self.start("api", "api")
            self.wait_healthy()
        with Client(self.url, token="") as client:
            yield client

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes.get("api") is not None and self.processes["api"].poll() is not None:
                raise RuntimeError(f"the API exited:\n{self.log('api')}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the API did not become healthy:\n{self.log('api')}")

    def wait_for_run(self, run_id: int, statuses: set[str], timeout: float = 180, headers: dict | None = None) -> dict:
        deadline = time.monotonic() + timeout
        run: dict = {}
        while time.monotonic() < deadline:
            run = httpx.get(f"{self.url}/api/runs/{run_id}", headers=headers or {}, timeout=5).json()
            if run["status"] in statuses:
                return run
            time.sleep(0.3)
        logs = "\n".join(f"--- {name}\n{self.log(name)[-4000:]}" for name in self.processes)
        raise TimeoutError(f"run {run_id} still {run.get('status')} after {timeout} s\n{logs}")


@contextmanager
def running_stack(
    tmp_path: Path,
    *,
    data_dir: Path | None = None,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    worker_homes: bool = False,
    code_dir: Path | None = None,
) -> Iterator[Stack]:
    """The API and ``workers`` worker processes on a fresh TRAINBOARD_HOME, embedded broker unless REDIS_URL.

    With ``worker_homes``, worker ``i`` keeps its files in ``tmp_path / f"home-worker{i}"``, as on a machine of its
    own: it shares only the broker with the API (the embedded broker's file is linked in; Redis is shared anyway).
    With ``code_dir``, the workers take command runs too (``trainboard worker --code code_dir``).
    """
    port = free_port()
    home = tmp_path / "home"
    logs = tmp_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRAINBOARD_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        TRAINBOARD_HOME=str(home),
        TRAINBOARD_PORT=str(port),
        TRAINBOARD_DATA_DIR=str(data_dir or tmp_path / "data"),
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
        # Module-scoped stacks keep idle external runs for minutes; only tests about the timeout shorten it.
        TRAINBOARD_EXTERNAL_TIMEOUT_S="3600",
    )
    env.update(extra_env or {})
    stack = Stack(url=f"http://127.0.0.1:{port}", env=env, home=home, logs=logs)
    subprocess.run(
        [sys.executable, "-m", "trainboard.cli", "migrate"], env=env, cwd=REPO, check=True, capture_output=True
    )
    try:
        stack.start("api", "api")
        for i in range(workers):
            own_env = _own_home(tmp_path / f"home-worker{i}", home) if worker_homes else None
            stack.start_worker(f"worker{i}", code_dir=code_dir, env=own_env)
        stack.wait_healthy()
        yield stack
    finally:
        stack.stop_all()


def _own_home(worker_home: Path, api_home: Path) -> dict[str, str]:
    worker_home.mkdir(parents=True)
    (worker_home / "broker.sqlite").symlink_to(api_home / "broker.sqlite")  # SQLite follows it, locks included
    return {"TRAINBOARD_HOME": str(worker_home)}


def api_only_stack(name: str) -> Any:
    """A test module's ``stack`` fixture (``stack = api_only_stack("keys")``): the API alone on a fresh
    TRAINBOARD_HOME, no worker: the module's tests play the runs' workers and scripts themselves."""

    @pytest.fixture(scope="module")
    def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
        with running_stack(tmp_path_factory.mktemp(name), workers=0) as live:
            yield live

    return stack
