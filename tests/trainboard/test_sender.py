"""The one point sender (trainboard.sender.PointSender) that the tracking client and the worker reporter drive:
what the API refuses is dropped and logged, what fails otherwise is tried again after the policy's pause, with an
overflow store it waits there and arrives oldest first, and every reply reaches the owner's hook."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from tests.utils.batches import posted_points
from trainboard.client import ApiError
from trainboard.retry import RetryPolicy
from trainboard.sender import PointSender
from worker.spool import Spool

FAST = RetryPolicy(first_s=0.05, max_s=0.2)


class Api:
    """A post callable: fails with the queued outcomes first, then stores every point and replies ``reply``."""

    def __init__(self, *failures: Exception, reply: dict[str, Any] | None = None) -> None:
        self.failures = list(failures)
        self.reply = reply or {"accepted": 0, "duplicates": 0, "status": "running"}
        self.tries = 0
        self.stored: list[tuple[str, int]] = []

    def __call__(self, body: bytes) -> dict[str, Any]:
        self.tries += 1
        if self.failures:
            raise self.failures.pop(0)
        self.stored.extend((key, step) for key, step, _ in posted_points(json.loads(body)))
        return self.reply


def _log(sender: PointSender, key: str, steps: range) -> None:
    sender.outbox.extend((key, step, step / 10) for step in steps)


def _wait_for_retry(sender: PointSender) -> None:
    time.sleep(max(0.0, sender.retry_at - time.monotonic()) + 0.01)


def test_a_refused_batch_is_dropped_and_logged_and_the_next_one_goes(caplog: pytest.LogCaptureFixture) -> None:
    refusals: list[ApiError] = []
    api = Api(ApiError(422, "points[3].key: bad"))
    sender = PointSender(api, what="run 5", on_refused=refusals.append, max_batch=10, policy=FAST)
    _log(sender, "loss", range(25))
    with caplog.at_level(logging.ERROR):
        sender.pump()
    assert [e.status_code for e in refusals] == [422]
    assert "run 5: the API refused 10 points" in caplog.text
    assert api.stored == [("loss", s) for s in range(10, 25)], "the refused batch is not retried; the rest goes"
    assert (sender.dropped, sender.sent, sender.pending) == (10, 15, 0)
    assert sender.api_up, "a refusal is an answer: the API is up"


def test_a_server_error_or_a_network_failure_is_tried_again_after_the_policy_pause() -> None:
    api = Api(ApiError(503, "busy"), ConnectionError("down"))
    sender = PointSender(api, what="run 5", max_batch=10, policy=FAST)
    _log(sender, "loss", range(15))

    started = time.monotonic()
    sender.pump()
    assert api.tries == 1 and not sender.api_up
    assert sender.retry_at - started == pytest.approx(FAST.first_s, abs=0.03)
    sender.pump()
    assert api.tries == 1, "nothing is posted before the pause is over"
    assert sender.pending == 15, "the failed batch stays in the outbox"

    _wait_for_retry(sender)
    failed_again = time.monotonic()
    sender.pump()
    assert api.tries == 2
    assert sender.retry_at - failed_again == pytest.approx(2 * FAST.first_s, abs=0.03), "the pause doubles"

    _wait_for_retry(sender)
    sender.pump()
    assert sender.api_up
    assert api.stored == [("loss", s) for s in range(15)], "every point once, in order"
    assert (sender.sent, sender.pending, sender.dropped) == (15, 0, 0)


def test_with_an_overflow_store_failed_batches_wait_there_and_arrive_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool" / "5", segment_points=10)
    assert spool.lock()
    api = Api(ConnectionError("down"))
    sender = PointSender(api, what="run 5", overflow=spool, max_batch=10, policy=FAST)
    _log(sender, "loss", range(15))
    sender.pump()
    assert api.tries == 1 and sender.pending == 0, "the failed batch and the one behind it went to the store"
    assert spool.segments == 2 and not sender.done

    _log(sender, "loss", range(15, 18))
    _wait_for_retry(sender)  # the API is back now, but older points wait in the store: these queue behind them
    sender.pump()
    assert api.stored == [("loss", s) for s in range(18)], "oldest first, each once"
    assert sender.done and spool.empty
    spool.close()
    assert not spool.directory.exists()


def test_the_reply_hook_sees_stop_requested() -> None:
    replies: list[dict[str, Any]] = []
    api = Api(reply={"accepted": 1, "duplicates": 1, "status": "running", "stop_requested": "median rule"})
    sender = PointSender(api, what="run 5", on_reply=replies.append, policy=FAST)
    _log(sender, "valid_acc", range(1, 2))
    sender.pump()
    assert [r["stop_requested"] for r in replies] == ["median rule"]
    assert sender.duplicates == 1


def test_a_partial_batch_waits_for_a_flush() -> None:
    api = Api()
    sender = PointSender(api, what="run 5", max_batch=10, policy=FAST)
    _log(sender, "loss", range(13))
    sender.pump(flush=False)
    assert api.stored == [("loss", s) for s in range(10)] and sender.pending == 3
    sender.pump(flush=True)
    assert len(api.stored) == 13 and sender.pending == 0


def test_discard_drops_what_is_queued_and_spooled_without_posting(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool" / "6", segment_points=10)
    assert spool.lock()
    spool.append([json.dumps({"key": "loss", "step": s, "value": 1.0}) for s in range(5)])
    api = Api()
    sender = PointSender(api, what="run 6", overflow=spool, policy=FAST)
    _log(sender, "loss", range(5, 8))
    sender.discard()
    sender.pump()
    assert api.tries == 0 and sender.done and sender.dropped == 8
    spool.close()


def test_an_api_older_than_batches_as_arrays_gets_every_point_one_by_one(caplog: pytest.LogCaptureFixture) -> None:
    """What an API from before the ``series`` body answers it (pydantic, extra fields forbidden): the refused
    batch is sent again at once as points one by one, and so is every later one; nothing is dropped."""
    stored: list[tuple[str, int]] = []
    shapes: list[str] = []

    def older_api(body: bytes) -> dict[str, Any]:
        batch = json.loads(body)
        shapes.append(next(iter(batch)))
        if "series" in batch:
            raise ApiError(422, [
                {"type": "missing", "loc": ["body", "points"], "msg": "Field required"},
                {"type": "extra_forbidden", "loc": ["body", "series"], "msg": "Extra inputs are not permitted"},
            ])  # fmt: skip
        stored.extend((p["key"], p["step"]) for p in batch["points"])
        return {"accepted": len(batch["points"]), "duplicates": 0, "status": "running"}

    sender = PointSender(older_api, what="run 6", max_batch=10, policy=FAST)
    _log(sender, "loss", range(25))
    with caplog.at_level(logging.WARNING):
        sender.pump()
    assert stored == [("loss", s) for s in range(25)]
    assert shapes == ["series", "points", "points", "points"], "asked once, then one by one"
    assert (sender.dropped, sender.sent, sender.pending) == (0, 25, 0)
    assert "run 6: the API predates batches as arrays" in caplog.text
