"""A run's log when its worker stops: `up` stops the API first, so the worker's last log lines get a short wait,
not the half minute a run's end gives them; an API still there takes them all the same."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from tests.utils.fake_api import FakeApi
from tests.utils.stack import free_port
from trainboard import lifecycle
from trainboard.client import Client
from worker.run_log import CLOSE_TIMEOUT_S, STOPPING_CLOSE_TIMEOUT_S, RunLogging


@pytest.fixture
def worker_client() -> Iterator[tuple[Client, int]]:
    """The worker's client, and the port of the API it talks to, where nothing listens unless a test starts one."""
    port = free_port()
    client = Client(f"http://127.0.0.1:{port}", token="", timeout=5)
    yield client, port
    client.close()


@pytest.fixture
def stopping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "WORKER_STOPPING", threading.Event())
    lifecycle.WORKER_STOPPING.set()  # what the worker's stop-signal handler does


def test_a_stopping_worker_does_not_wait_for_an_api_that_is_gone(
    worker_client: tuple[Client, int], stopping: None
) -> None:
    log = RunLogging(worker_client[0], 3)  # nothing listens: the API was stopped first
    logging.getLogger("worker.command").info("the last line before the stop")
    started = time.monotonic()
    log.close()
    took = time.monotonic() - started
    assert took < STOPPING_CLOSE_TIMEOUT_S + 3 < CLOSE_TIMEOUT_S, f"closing the log took {took:.1f} s"
    assert log.sender.pending == 1, "the line is reported undelivered, not claimed sent"


def test_a_stop_signal_that_comes_while_the_log_waits_for_the_api_cuts_the_wait_short(
    worker_client: tuple[Client, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "WORKER_STOPPING", threading.Event())
    log = RunLogging(worker_client[0], 3)  # the run ended as the API went away: its last lines wait for it
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
    worker_client: tuple[Client, int], stopping: None
) -> None:
    client, port = worker_client
    api = FakeApi(port)
    try:
        log = RunLogging(client, 3)
        for n in range(5):
            logging.getLogger("worker.command").info("line %d", n)
        log.close()
    finally:
        api.close()
    assert [line.rsplit(": ", 1)[-1] for line in api.log_lines] == [f"line {n}" for n in range(5)]
