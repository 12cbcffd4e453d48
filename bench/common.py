"""Helpers shared by the benchmark scripts: a real `trainboard api` process, MLflow's server, timing."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.utils.stack import Stack, free_port, running_stack  # noqa: E402

MLFLOW_VENV = REPO / "bench" / ".mlflow-venv"
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

__all__ = [
    "REPO",
    "Stack",
    "banner",
    "mlflow_server",
    "percentile",
    "postgres_database",
    "running_stack",
    "summary",
]


def banner(title: str) -> None:
    """What every bench prints first: the machine it ran on, so numbers are never read out of context."""
    cores = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {title}")
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {cores} cores "
        f"(shared with other engineers' jobs; load average {load:.2f}), Python {platform.python_version()}"
    )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank; good enough for tens of samples."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.1f}, p95 {percentile(values, 95):.1f}, "
        f"min {min(values):.1f}, max {max(values):.1f} (n={len(values)})"
    )


# --- MLflow, the ingestion baseline ------------------------------------------------------------------------


def ensure_mlflow_venv() -> Path:
    """A separate venv with MLflow from PyPI (its pins would fight ours), created on first use."""
    mlflow_bin = MLFLOW_VENV / "bin" / "mlflow"
    if mlflow_bin.exists():
        return mlflow_bin
    print(f"# creating {MLFLOW_VENV.relative_to(REPO)} and installing mlflow (first run only, a few minutes)")
    base_python = getattr(sys, "_base_executable", None) or shutil.which("python3") or sys.executable
    subprocess.run([base_python, "-m", "venv", str(MLFLOW_VENV)], check=True)
    pip = subprocess.run(
        [str(MLFLOW_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "mlflow"],
        capture_output=True,
        text=True,
    )
    if pip.returncode != 0:
        shutil.rmtree(MLFLOW_VENV, ignore_errors=True)
        raise RuntimeError(f"pip install mlflow failed:\n{pip.stdout[-3000:]}\n{pip.stderr[-3000:]}")
    return mlflow_bin


def mlflow_version() -> str:
    out = subprocess.run(
        [str(MLFLOW_VENV / "bin" / "python"), "-c", "import mlflow; print(mlflow.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def wait_until_up(url: str, *, timeout: float, why: Callable[[], str], exited: Callable[[], bool] = bool) -> None:
    """Poll ``url`` until it answers 200; raise TimeoutError with ``why()`` after ``timeout`` seconds, or as soon as
    ``exited()`` says the server's process is gone."""
    deadline = time.monotonic() + timeout
    while True:
        if exited():
            raise RuntimeError(why())
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(why())
        time.sleep(0.3)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user and system) used so far by process ``pid`` and its children, living and reaped."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        with suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by every process of this machine's Postgres server (its backends included)."""
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ("postgres", "postmaster"):
            with suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
    return total


def wait_until_idle(pid: int, *, timeout: float = 120, busy: float = 0.1) -> float:
    """Wait until process ``pid`` and its children use less than ``busy`` CPU-seconds a second, two seconds in a
    row, and return the seconds waited: a server that answers before its start-up work is done would otherwise
    be timed while that work takes the cores (MLflow 3's job runner and its huey consumers take both of this
    machine's cores for 8-9 s after `/health` answers, and a log-batch request took 4x as long meanwhile)."""
    start = time.monotonic()
    quiet, last = 0, tree_cpu_seconds(pid)
    while quiet < 2:
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"process {pid} still busy after {timeout:.0f} s")
        time.sleep(1)
        now = tree_cpu_seconds(pid)
        quiet = quiet + 1 if now - last < busy else 0
        last = now
    return time.monotonic() - start - 2


class Served(NamedTuple):
    url: str
    pid: int


@contextmanager
def mlflow_server(workdir: Path, *, workers: int = 1) -> Iterator[Served]:
    """`mlflow server` on a fresh SQLite store; yields its URL and process id once it answers and its start-up
    work is done (``wait_until_idle``)."""
    mlflow_bin = ensure_mlflow_venv()
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(workdir / "mlflow.log", "wb")  # noqa: SIM115 - closed below
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    process = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--backend-store-uri",
            f"sqlite:///{workdir / 'mlflow.db'}",
            "--default-artifact-root",
            str(workdir / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(
            f"{url}/health",
            timeout=180,
            why=lambda: f"mlflow server not up:\n{(workdir / 'mlflow.log').read_text()[-4000:]}",
            exited=lambda: process.poll() is not None,
        )
        waited = wait_until_idle(process.pid)
        print(f"# MLflow's server answered, then was busy starting for {waited:.0f} s more; measured after that")
        yield Served(url, process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        log.close()


# --- Postgres ------------------------------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh database on the local Postgres server, dropped afterwards; None when there is no server."""
    import psycopg

    name = f"trainboard_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"# no Postgres at {POSTGRES_ADMIN_URL} ({exc}); skipping the Postgres figures")
        yield None
        return
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
