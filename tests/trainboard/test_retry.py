"""One retry policy and one refusal rule for every sender (tracking client, worker reporter, enqueuer)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from backend.schemas import PointIn
from trainboard.client import ApiError
from trainboard.limits import METRIC_KEY
from trainboard.retry import RETRY, RetryPolicy
from trainboard.sender import GaveUp, call_with_retry


def test_pauses_double_up_to_the_maximum_and_start_over_after_a_success() -> None:
    backoff = RetryPolicy(first_s=0.5, max_s=5.0).backoff()
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_every_sender_shares_the_policy() -> None:
    assert (RETRY.first_s, RETRY.max_s) == (0.5, 5.0)


@pytest.mark.parametrize(("status", "refused"), [(400, True), (404, True), (409, True), (422, True)])
def test_a_4xx_is_a_refusal(status: int, refused: bool) -> None:
    assert ApiError(status, "no").refused is refused


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_timeouts_throttling_and_server_errors_are_retried(status: int) -> None:
    assert not ApiError(status, "not now").refused


@pytest.mark.parametrize("key", ["loss", "train/loss", "a.b:c-d_e", "x" * 64])
def test_a_key_the_client_accepts_the_api_accepts(key: str) -> None:
    assert METRIC_KEY.fullmatch(key)
    PointIn(key=key, step=0, value=1.0)


@pytest.mark.parametrize("key", ["", "x" * 65, "a b", 'quo"te', "é"])
def test_a_key_the_client_refuses_the_api_refuses(key: str) -> None:
    assert not METRIC_KEY.fullmatch(key)
    with pytest.raises(ValueError):
        PointIn(key=key, step=0, value=1.0)


def _replies(*outcomes: object) -> Callable[[], object]:
    """A call that raises or returns each outcome in turn."""
    queue = list(outcomes)

    def call() -> object:
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return call


def test_a_timeout_a_throttle_and_a_network_error_are_tried_again_with_growing_pauses() -> None:
    pauses: list[float] = []
    refusals: list[ApiError] = []
    call = _replies(ApiError(408, "slow"), ApiError(429, "busy"), ConnectionError("down"), {"ok": True})
    reply = call_with_retry(call, what="run 1", on_refused=refusals.append, pause=pauses.append)
    assert reply == {"ok": True} and refusals == []
    assert pauses == [0.5, 1.0, 2.0]


def test_a_refusal_is_final() -> None:
    refusals: list[ApiError] = []
    refusal = ApiError(422, "bad point")
    reply = call_with_retry(_replies(refusal), what="run 1", on_refused=refusals.append, pause=pytest.fail)
    assert reply is None and refusals == [refusal]


def test_giving_up_stops_the_retries() -> None:
    tries: list[int] = []

    def down() -> None:
        tries.append(1)
        raise ConnectionError("down")

    with pytest.raises(GaveUp):
        call_with_retry(
            down, what="run 1", on_refused=pytest.fail, give_up=lambda: len(tries) >= 3, pause=lambda _: None
        )
    assert len(tries) == 3
