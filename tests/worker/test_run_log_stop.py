"""A run's log when its worker stops: `up` stops the API first, so the worker's last log lines get a short wait,
not the half minute a run's end gives them; an API still there takes them all the same."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.utils.stack import free_port
from trainboard import lifecycle
from trainboard.client import Client
from worker.run_log import CLOSE_TIMEOUT_S, STOPPING_CLOSE_TIMEOUT_S, RunLogging


class LogApi:
    """Just the API's log route: the lines posted to it, in order."""

    def __init__(self, port: int) -> None:
        self.lines: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.lines.extend(batch["lines"])
                data = json.dumps({"accepted": len(batch["lines"]), "full": False}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def client(port: int) -> Iterator[Client]:
    with Client(f"http://127.0.0.1:{port}", token="", timeout=5) as client:
        yield client


@pytest.fixture
def stopping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "WORKER_STOPPING", threading.Event())
    lifecycle.WORKER_STOPPING.set()  # what the worker's stop-signal handler does


def test_a_stopping_worker_does_not_wait_for_an_api_that_is_gone(client: Client, stopping: None) -> None:
    log = RunLogging(client, 3)  # nothing listens: the API was stopped first
    logging.getLogger("worker.command").info("the last line before the stop")
    started = time.monotonic()
    log.close()
    took = time.monotonic() - started
    assert took < STOPPING_CLOSE_TIMEOUT_S + 3 < CLOSE_TIMEOUT_S, f"closing the log took {took:.1f} s"
    assert log.sender.pending == 1, "the line is reported undelivered, not claimed sent"


def test_a_stop_signal_that_comes_while_the_log_waits_for_the_api_cuts_the_wait_short(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "WORKER_STOPPING", threading.Event())
    log = RunLogging(client, 3)  # the run ended as the API went away: its last lines wait for it
    logging.getLogger("worker.command").info("the run's last line")
    closing = threading.Thread(target=log.close)
    started = time.monotonic()
    closing.start()
    time.sleep(1.0)
    assert closing.is_alive(), "the log waits for the API while the worker is not stopping"
    lifecycle.WORKER_STOPPING.set()  # then the stop signal
    closing.join(CLOSE_TIMEOUT_S)
    took = time.monotonic() - started
    assert took < 1.0 + STOPPING_CLOSE_TIMEOUT_S + 3, f"closing the log took {took:.1f} s"


def test_a_stopping_worker_still_delivers_its_last_lines_to_an_api_that_is_up(
    client: Client, port: int, stopping: None
) -> None:
    api = LogApi(port)
    try:
        log = RunLogging(client, 3)
        for n in range(5):
            logging.getLogger("worker.command").info("line %d", n)
        log.close()
    finally:
        api.close()
    assert [line.rsplit(": ", 1)[-1] for line in api.lines] == [f"line {n}" for n in range(5)]
