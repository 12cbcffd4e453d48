"""What `trainboard up` shows: a short start, the dashboard's URL last, a clean stop, and never a hidden crash.

The terminal gets a few lines of `up`'s own. The API's and the workers' output (Alembic, the Celery banner,
uvicorn, warnings) goes to ``$TRAINBOARD_HOME/logs/up.log`` instead; the previous start's log is kept as
``up.log.1``. With ``--verbose`` (or ``TRAINBOARD_VERBOSE=1``) that output comes to the terminal instead, as
before, and no log file is written. Ctrl-C or SIGTERM stops the children (``lifecycle.stop_children``) and exits
0; a child that exits on its own is a crash: `up` shows the last lines of the log, stops the others and exits 1.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

from trainboard import lifecycle
from trainboard.settings import Settings

TAIL_LINES = 20
TAIL_BYTES = 64 * 1024
# Ctrl-C reaches `up` and its children at once, and a child may exit before `up` runs its own handler: an exit
# followed this soon by a stop signal is part of the stop, not a crash.
STOP_RACE_S = 0.5
POLL_S = 0.2

logger = logging.getLogger(__name__)


class StopRequest:
    """Set by the first SIGINT/SIGTERM. Only a flag: an exception raised in a handler could land anywhere."""

    def __init__(self) -> None:
        self.requested = False
        for sig in lifecycle.STOP_SIGNALS:
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def arrives_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self.requested and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requested


def log_path(settings: Settings) -> Path:
    return settings.home / "logs" / "up.log"


def start_log(settings: Settings) -> Path:
    """Keep the previous start's log as up.log.1, and send `up`'s own logging (Alembic's too) to a fresh up.log."""
    path = log_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.replace(path.with_name(path.name + ".1"))
    handler = logging.FileHandler(path, encoding="utf-8")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=[handler], force=True
    )
    logging.captureWarnings(True)
    return path


def introduce(settings: Settings, *, workers: int, log: Path | None) -> None:
    """What `up` starts and where its output goes, before the URL."""
    plural = "worker" if workers == 1 else "workers"
    print(f"starting trainboard: the API and {workers} {plural}; {_database(settings)}; {_broker(settings)}")
    where = f"their output goes to {log} (--verbose shows it here)" if log else "their output follows"
    print(f"{where}; Ctrl-C stops everything", flush=True)


def _database(settings: Settings) -> str:
    if settings.database_url:
        return f"database PostgreSQL at {_without_credentials(settings.sqlalchemy_url)}"
    return f"database SQLite file {settings.home / 'trainboard.sqlite'}"


def _broker(settings: Settings) -> str:
    if settings.redis_url:
        return f"queue Redis at {_without_credentials(settings.redis_url)}"
    return "queue embedded (a SQLite file, no Redis)"


def _without_credentials(url: str) -> str:
    return url.split("@")[-1].split("://")[-1]


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        socket.create_server((host, port), family=family).close()  # SO_REUSEADDR: a TIME_WAIT does not count
    except OSError:
        return True
    return False


def supervise(settings: Settings, *, workers: int, log: Path | None, stop: StopRequest) -> int:
    """Run the API and ``workers`` workers until Ctrl-C/SIGTERM (0) or until one of them exits on its own (1)."""
    url = f"http://127.0.0.1:{settings.port}"
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per health check
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        _start_children(children, settings, workers=workers, log=log)
        announced = False
        while not stop.requested:
            crashed = next(((name, c) for name, c in children.items() if c.poll() is not None), None)
            if crashed is not None:
                if stop.arrives_within(STOP_RACE_S):
                    break
                _report_crash(*crashed, log=log)
                return 1
            if not announced and _answers(url):
                print(f"trainboard is running at {url}", flush=True)
                logger.info("trainboard is running at %s", url)
                announced = True
            time.sleep(POLL_S)
    finally:
        lifecycle.stop_children(list(children.values()))
    logger.info("trainboard stopped")
    # After Ctrl-C the terminal shows "^C": start the line over it.
    print(("\r" if sys.stdout.isatty() else "") + "trainboard stopped", flush=True)
    return 0


def _start_children(
    children: dict[str, subprocess.Popen[bytes]], settings: Settings, *, workers: int, log: Path | None
) -> None:
    """Fill ``children`` as they start, so that whatever started is stopped even if a later start fails."""
    env = dict(
        os.environ,
        TRAINBOARD_PORT=str(settings.port),
        TRAINBOARD_HOME=str(settings.home),
        PYTHONUNBUFFERED="1",  # a crash's last words reach the log file
        **{lifecycle.PARENT_ENV: str(os.getpid())},
    )
    command = [sys.executable, "-m", "trainboard.cli"]
    output: IO[bytes] | None = open(log, "ab") if log else None  # noqa: SIM115 - each child holds its own copy
    try:
        names = ["the API", *(f"worker {i + 1}" if workers > 1 else "the worker" for i in range(workers))]
        for name in names:
            # The API and the workers get SIGTERM from the kernel when `up` dies, even by SIGKILL.
            children[name] = subprocess.Popen(
                [*command, "api" if name == "the API" else "worker"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                preexec_fn=lifecycle.die_with_parent(),
            )
    finally:
        if output is not None:
            output.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _report_crash(name: str, child: subprocess.Popen[bytes], *, log: Path | None) -> None:
    code = child.returncode
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    where = f"; the last lines of {log}:" if log else ""
    _err(f"error: {name} (pid {child.pid}) stopped on its own ({how}), so trainboard stops{where}")
    if log:
        for line in tail(log):
            _err(f"  {line}")
    logger.error("%s (pid %s) stopped on its own (%s)", name, child.pid, how)  # after the tail: not part of it


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    with path.open("rb") as file:
        file.seek(max(0, path.stat().st_size - TAIL_BYTES))
        text = file.read().decode("utf-8", errors="replace")
    return text.splitlines()[-lines:]


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
