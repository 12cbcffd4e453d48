"""The worker's reporter spools points to local disk while the API is unreachable and delivers them, once and in
order, when it is back; a spool left by a dead worker is delivered by the next one."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.utils.fake_api import FakeApi
from tests.utils.stack import free_port
from trainboard.client import Client
from worker.reporter import ApiReporter, deliver_leftover_spools
from worker.spool import Spool
from worker.training.callbacks import Point


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def client(port: int) -> Iterator[Client]:
    with Client(f"http://127.0.0.1:{port}", token="", timeout=5) as client:
        yield client


@pytest.fixture
def start_api(port: int) -> Iterator[Callable[[], FakeApi]]:
    started: list[FakeApi] = []

    def start() -> FakeApi:
        started.append(FakeApi(port))
        return started[-1]

    yield start
    for api in started:
        api.close()


def _wait(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _encoded(key: str, steps: range) -> list[str]:
    """Points as the sender spools them: each one JSON object."""
    return [json.dumps({"key": key, "step": step, "value": 1.0}) for step in steps]


def _spooled_points(directory: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in directory.glob("*.jsonl"))


def test_points_spool_to_disk_while_the_api_is_down_and_arrive_once_in_order(
    tmp_path: Path, client: Client, start_api: Callable[[], FakeApi]
) -> None:
    spool_dir = tmp_path / "spool" / "7"
    reporter = ApiReporter(client, 7, worker_name="w@test", spool_dir=spool_dir)
    steps = 0
    for _ in range(6):  # nothing listens on the port: every post is refused
        reporter.on_points([Point("loss", steps + i, 0.5) for i in range(1, 3001)])
        steps += 3000
        time.sleep(0.1)
    reporter.on_points([Point("valid_acc", 1, 0.9)])
    reporter.on_epoch_end(1, {"valid_acc": 0.9})
    # on_epoch_end came back once the points were on disk (the checkpoint may follow), not waiting for the API.
    assert not reporter.api_up
    assert reporter.sender.pending == 0, "nothing is held in memory"
    assert _spooled_points(spool_dir) == steps + 1
    assert reporter.spool.segments >= 4, "segments of at most one batch"

    for _ in range(4):  # still down: what arrives keeps going to the disk
        reporter.on_points([Point("loss", steps + i, 0.25) for i in range(1, 1001)])
        steps += 1000
        time.sleep(0.1)
    _wait(lambda: not reporter.sender.pending and _spooled_points(spool_dir) == steps + 1)

    api = start_api()
    reporter.on_points([Point("loss", steps + 1, 0.1)])  # logged after the API is back: delivered after the spool
    steps += 1
    reporter.close()
    assert api.steps(7) == list(range(1, steps + 1)), "every point once, in step order"
    assert api.steps(7, "valid_acc") == [1]
    assert not spool_dir.exists(), "the delivered spool is deleted"


def test_a_spool_left_by_a_dead_worker_goes_first_when_its_run_resumes(
    tmp_path: Path, client: Client, start_api: Callable[[], FakeApi]
) -> None:
    spool_dir = tmp_path / "spool" / "9"
    dead = Spool(spool_dir, segment_points=40)
    assert dead.lock()
    dead.append(_encoded("loss", range(1, 101)))
    with open(sorted(spool_dir.glob("*.jsonl"))[-1], "a") as segment:
        segment.write('{"key": "loss", "st')  # killed mid-write
    dead.close()  # the process is gone: the lock is free, the points stay
    assert _spooled_points(spool_dir) == 101

    api = start_api()
    resumed = ApiReporter(client, 9, worker_name="w@test", spool_dir=spool_dir)
    resumed.on_points([Point("loss", s, 0.5) for s in range(101, 151)])
    resumed.close()
    assert api.steps(9) == list(range(1, 151))
    assert not spool_dir.exists()


def test_leftover_spools_of_other_runs_are_delivered_unless_a_live_process_holds_them(
    tmp_path: Path, client: Client, start_api: Callable[[], FakeApi]
) -> None:
    root = tmp_path / "spool"
    for run_id in (3, 4, 5):
        spool = Spool(root / str(run_id))
        spool.lock()
        spool.append(_encoded("loss", range(1, 11)))
        spool.close()
    live = Spool(root / "5")  # a worker training run 5 right now
    assert live.lock()
    assert deliver_leftover_spools(client, root, skip=4) == 0, "the API is still down: kept"
    assert _spooled_points(root / "3") == 10

    api = start_api()
    assert deliver_leftover_spools(client, root, skip=4) == 10
    assert api.steps(3) == list(range(1, 11)) and api.steps(4) == [] and api.steps(5) == []
    assert not (root / "3").exists()
    assert _spooled_points(root / "4") == 10 and _spooled_points(root / "5") == 10
    live.close()


def test_a_stopping_worker_aborts_the_run_and_leaves_its_points_on_disk_without_waiting_for_the_api(
    tmp_path: Path, client: Client, start_api: Callable[[], FakeApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up` stops everything, the API first: the worker's stop signal aborts the run at its next check, and
    closing does not wait for an API that is not coming back; the next attempt here delivers the spool."""
    from trainboard import lifecycle

    spool_dir = tmp_path / "spool" / "5"
    reporter = ApiReporter(client, 5, worker_name="w@test", spool_dir=spool_dir)  # nothing listens: API down
    reporter.on_points([Point("loss", s, 0.5) for s in range(1, 1501)])
    assert not reporter.should_abort()
    monkeypatch.setattr(lifecycle, "WORKER_STOPPING", threading.Event())
    lifecycle.WORKER_STOPPING.set()  # what the worker's stop-signal handler does
    assert reporter.should_abort() and reporter.abort_reason == "the worker is stopping"
    started = time.monotonic()
    reporter.close(wait_for_api=False)
    assert time.monotonic() - started < 5, "closing waited for the API"
    assert _spooled_points(spool_dir) == 1500

    api = start_api()
    lifecycle.WORKER_STOPPING.clear()
    resumed = ApiReporter(client, 5, worker_name="w@test", spool_dir=spool_dir)
    resumed.close()
    assert api.steps(5) == list(range(1, 1501))
