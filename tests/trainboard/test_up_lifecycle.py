"""`trainboard up` as real processes: it serves the dashboard and trains runs; Ctrl-C or SIGTERM (twice, as `make`
forwards signals) or killing it leaves nothing running, and the run it interrupted resumes at the next start."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.datasets import write_mnist
from tests.utils.stack import REPO, free_port

SLOW_MLP = {
    "name": "interrupted by up",
    "dataset": "mnist",
    "model": {"arch": "mlp", "hidden": [256, 256]},
    "optimizer": {"name": "sgd", "lr": 0.05},
    "batch_size": 8,
    "epochs": 200,  # minutes of training: it is still running whenever the test acts
    "seed": 3,
    "device": "cpu",
}
QUICK_MLP = {**SLOW_MLP, "name": "trained under up", "model": {"arch": "mlp", "hidden": [16]}, "batch_size": 32,
             "epochs": 2}  # fmt: skip


class Up:
    """`trainboard up` in a session of its own (as `make up` in a terminal), on a TRAINBOARD_HOME kept across starts."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.terminal = tmp_path / "terminal.txt"  # what `up` prints where a person would read it
        self.log = tmp_path / "home" / "logs" / "up.log"  # the API's and the workers' output
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TRAINBOARD_") and k not in {"DATABASE_URL", "REDIS_URL"}
        }
        self.env.update(
            TRAINBOARD_HOME=str(tmp_path / "home"),
            TRAINBOARD_PORT=str(self.port),
            TRAINBOARD_DATA_DIR=str(write_mnist(tmp_path / "data", n_train=1200, n_test=200)),
            TRAINBOARD_STALE_AFTER_S="4",
            PYTHONUNBUFFERED="1",
            OMP_NUM_THREADS="1",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        with self.terminal.open("wb") as terminal:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "trainboard.cli", "up"],
                env=self.env,
                stdout=terminal,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return self.process
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"the API did not come up:\n{self.output()}")

    def printed(self) -> list[str]:
        return self.terminal.read_text().splitlines()

    def output(self) -> str:
        """For failure messages: the terminal, then the end of the log file."""
        log = self.log.read_text()[-6000:] if self.log.exists() else "(no log file)"
        return f"terminal:\n{self.terminal.read_text()}\nlog file {self.log}:\n{log}"

    def wait_printed(self, line: str, timeout: float = 15) -> list[str]:
        deadline = time.monotonic() + timeout
        while line not in self.printed():
            assert time.monotonic() < deadline, f"never printed {line!r}:\n{self.output()}"
            time.sleep(0.1)
        return self.printed()

    def wait_logged(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while not (self.log.exists() and text in self.log.read_text()):
            assert time.monotonic() < deadline, f"never logged {text!r}:\n{self.output()}"
            time.sleep(0.2)
        return self.log.read_text()

    def children(self) -> list[int]:
        """The API and the workers: every process `up` started."""
        assert self.process is not None
        return [pid for pid in _all_pids() if _parent_of(pid) == self.process.pid]

    def run(self, run_id: int) -> dict:
        return httpx.get(f"{self.url}/api/runs/{run_id}", timeout=5).json()

    def wait_for(self, run_id: int, predicate, what: str, timeout: float = 120) -> dict:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        run: dict = {}
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if predicate(run):
                return run
            time.sleep(0.3)
        raise TimeoutError(f"{what}: run is {run}\n{self.output()}")

    def kill_everything(self) -> None:
        """Whatever the test did, nothing it started outlives it (the children stay in up's process group)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for its parent to collect it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    return [pid for pid in pids if _alive(pid)]


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    stack = Up(tmp_path)
    try:
        yield stack
    finally:
        stack.kill_everything()


def test_up_serves_the_dashboard_trains_a_run_and_ctrl_c_stops_everything(up: Up) -> None:
    process = up.start()
    page = httpx.get(f"{up.url}/", timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text[:500]
    assert "<title>trainboard</title>" in page.text, "the dashboard's page"
    run_id = httpx.post(f"{up.url}/api/runs", json=QUICK_MLP, timeout=10).json()["id"]
    run = up.wait_for(run_id, lambda r: r["status"] in {"succeeded", "failed"}, "the run never finished")
    assert run["status"] == "succeeded", run["error"]
    metrics = httpx.get(f"{up.url}/api/runs/{run_id}/metrics", params={"keys": "valid_acc"}, timeout=5).json()
    assert metrics["valid_acc"]["step"] == [1, 2], "both epochs reached the dashboard"
    children = up.children()
    assert len(children) == 2  # the API and one worker

    # Ctrl-C in the terminal: SIGINT to the whole foreground process group.
    os.killpg(process.pid, signal.SIGINT)
    code = process.wait(timeout=30)
    assert code == 0, f"after Ctrl-C, up exited with {code}:\n{up.output()}"
    assert _wait_gone(children, timeout=15) == [], f"orphans left behind:\n{up.output()}"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{up.url}/api/health", timeout=2)


def test_stopping_or_killing_up_leaves_nothing_running_and_the_run_resumes(up: Up) -> None:
    first = up.start()
    run_id = httpx.post(f"{up.url}/api/runs", json=SLOW_MLP, timeout=10).json()["id"]
    up.wait_for(run_id, lambda r: r["status"] == "running" and r["progress"] > 0, "the run never started training")
    children = up.children()
    assert len(children) == 2  # the API and one worker

    # (a) `make up` stopped by SIGTERM: make forwards it to the whole group, then comes a second one.
    os.killpg(first.pid, signal.SIGTERM)
    time.sleep(0.3)
    os.killpg(first.pid, signal.SIGTERM)
    assert first.wait(timeout=30) == 0, up.output()
    assert _wait_gone(children, timeout=15) == [], f"orphans left behind:\n{up.output()}"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{up.url}/api/health", timeout=2)

    # The next start resumes the interrupted run: the reaper re-queues it and a worker claims it again.
    second = up.start()
    resumed = up.wait_for(run_id, lambda r: r["attempts"] == 2, "the interrupted run was never resumed")
    assert resumed["status"] in {"queued", "running", "succeeded"}
    up.wait_for(run_id, lambda r: r["status"] == "running" and r["attempts"] == 2, "the resumed run is not training")
    children = up.children()
    assert len(children) == 2

    # (b) `up` killed outright: its children notice and stop by themselves.
    os.kill(second.pid, signal.SIGKILL)
    second.wait()
    assert _wait_gone(children, timeout=10) == [], f"orphans left behind:\n{up.output()}"


NOISE = ("alembic", "celery", "securitywarning", "uvicorn", "[queues]", "-------------- ", "info", "warning")


def test_up_prints_a_short_start_with_the_url_last_and_a_stopped_line_on_ctrl_c(up: Up) -> None:
    process = up.start()
    printed = up.wait_printed(f"trainboard is running at {up.url}")
    assert printed[-1] == f"trainboard is running at {up.url}", "the URL comes last, with the configured port"
    assert len(printed) <= 4, up.output()
    assert not [line for line in printed if any(word in line.lower() for word in NOISE)], up.output()
    assert any(str(up.log) in line for line in printed), "it says where the children's output went"
    assert any("1 worker" in line and "SQLite" in line for line in printed), "it says what it starts"
    # What the terminal no longer shows is in the log file: the migrations, the API's start, the worker's banner.
    log = up.wait_logged(" ready.")
    for text in ("alembic.runtime.migration", "Uvicorn running on", "[queues]", ". trainboard.train_run"):
        assert text in log, f"{text!r} missing from the log file:\n{up.output()}"

    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
    assert process.wait(timeout=30) == 0, up.output()
    printed = up.printed()
    assert printed[-1] == "trainboard stopped", up.output()
    assert len(printed) <= 5 and not any("exited" in line or "error" in line for line in printed), up.output()


def test_a_child_that_dies_on_its_own_fails_up_and_shows_the_end_of_the_log(up: Up) -> None:
    process = up.start()
    up.wait_logged(" ready.")
    children = up.children()
    worker = next(pid for pid in children if "worker" in _command_line(pid))
    last_lines = up.log.read_text().splitlines()[-3:]

    os.kill(worker, signal.SIGKILL)  # as the out-of-memory killer would
    code = process.wait(timeout=30)
    assert code != 0, f"a crash must not look like a clean stop:\n{up.output()}"
    terminal = up.terminal.read_text()
    assert f"error: the worker (pid {worker}) stopped on its own (killed by SIGKILL)" in terminal, up.output()
    assert all(line.strip() in terminal for line in last_lines if line.strip()), f"no log tail:\n{up.output()}"
    assert _wait_gone(children, timeout=5) == [], f"the API outlived the crash:\n{up.output()}"


def test_up_on_a_port_in_use_says_so_and_starts_nothing(up: Up) -> None:
    with socket.create_server(("127.0.0.1", up.port)):
        result = subprocess.run(
            [sys.executable, "-m", "trainboard.cli", "up"], env=up.env, cwd=REPO, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {up.port} is already in use" in result.stderr, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and not up.log.exists()


def test_verbose_up_shows_the_childrens_output_in_the_terminal(up: Up) -> None:
    up.env["TRAINBOARD_VERBOSE"] = "1"
    process = up.start()
    deadline = time.monotonic() + 15
    while f"trainboard is running at {up.url}" not in up.terminal.read_text():
        assert time.monotonic() < deadline, up.output()
        time.sleep(0.1)
    assert "Uvicorn running on" in up.terminal.read_text() and not up.log.exists(), up.output()
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=30) == 0, up.output()
