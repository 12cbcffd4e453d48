"""How every sender of points and reports to the API tries a request: the tracking client's background thread
and the worker's reporter both call :func:`call_with_retry`, so one rule decides what is retried (network
trouble, 5xx, 408, 429: see ``ApiError.refused``) and one policy how long to wait (:data:`trainboard.retry.RETRY`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from trainboard.client import ApiError
from trainboard.retry import RETRY, RetryPolicy

logger = logging.getLogger(__name__)

T = TypeVar("T")


class GaveUp(Exception):
    """Retrying was given up (``give_up()`` turned true between tries)."""


def call_with_retry(
    call: Callable[[], T],
    *,
    what: str,
    on_refused: Callable[[ApiError], None],
    give_up: Callable[[], bool] = lambda: False,
    pause: Callable[[float], None] = time.sleep,
    policy: RetryPolicy = RETRY,
    log: logging.Logger = logger,
) -> T | None:
    """``call()``'s result, trying again after each failure the API may get over, with the policy's pauses.

    A refusal (``ApiError.refused``) is final: ``on_refused(error)`` is told and None returned. :class:`GaveUp`
    is raised when ``give_up()`` is true after a failure, before or after the pause (``pause`` may return early,
    e.g. when a flush cuts the wait short). ``what`` names the request in the log, e.g. ``"run 3"``.
    """
    backoff = policy.backoff()
    while True:
        try:
            return call()
        except ApiError as exc:
            if exc.refused:
                on_refused(exc)
                return None
            log.warning("%s: API error %s; retrying in %.1f s", what, exc, backoff.delay)
        except Exception as exc:  # noqa: BLE001 - network trouble: keep the data and retry
            log.warning("%s: API unreachable (%s); retrying in %.1f s", what, exc, backoff.delay)
        delay = backoff.next()
        if give_up():
            raise GaveUp
        pause(delay)
        if give_up():
            raise GaveUp
