"""How every sender of points and reports to the API tries a request, and the one sender of points.

One rule decides what is retried (network trouble, 5xx, 408, 429: see ``ApiError.refused``) and one policy how
long to wait (:data:`trainboard.retry.RETRY`). :class:`PointSender` is what the tracking client's thread and the
worker reporter's thread both drive: an :class:`~trainboard.outbox.Outbox`, batches of at most
:data:`MAX_BATCH_POINTS`, one try per batch and a backoff before the next while the API is away, hooks for the
API's replies and refusals, and optionally an :class:`OverflowStore` (the worker's spool) where batches wait on
disk rather than in memory. :func:`call_with_retry` is the blocking form, for one request a caller waits on (a
final status, an artifact).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from trainboard.client import ApiError
from trainboard.outbox import Batch, Outbox, batch_body
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


def _predates_arrays(exc: ApiError) -> bool:
    """The 422 of an API from before the ``series`` body: its model forbade the field (``extra_forbidden`` at
    ``body.series``), not a refusal of the points themselves."""
    errors = exc.detail if exc.status_code == 422 and isinstance(exc.detail, list) else []
    return any(
        isinstance(error, dict) and error.get("type") == "extra_forbidden" and error.get("loc") == ["body", "series"]
        for error in errors
    )


MAX_BATCH_POINTS = 1_000
"""The most points one POST carries, from a script and from a worker alike (the API takes up to 10,000). Larger
batches would hardly lower the API's cost per point, which is spent point by point on the insert, the rollups and
the event; smaller ones keep each request, each batch retried after an outage and each spool segment short, so
a retry re-sends at most this many points and a power loss costs at most one segment."""

Reply = dict[str, Any]


class OverflowStore(Protocol):
    """Where a sender's batches wait while the API is away (the worker's spool): oldest first, each point one
    JSON object. Once it holds anything, later points queue behind it, so the API gets them in order."""

    @property
    def empty(self) -> bool: ...

    def append(self, parts: Sequence[str]) -> None:
        """Keep these points (JSON objects) after everything already kept."""

    def oldest(self) -> tuple[Any, list[str]] | None:
        """The oldest segment (a handle for :meth:`remove`) and its points, at most one batch; None when empty."""

    def remove(self, segment: Any) -> None:
        """Forget the oldest segment: the API has it."""


class PointSender:
    """Points from an :class:`Outbox` to the API: one try per batch, and a backoff before the next while it is away.

    Not a thread: its owner's sender thread calls :meth:`pump`. A batch the API took goes to ``on_reply(reply)``
    (what it says of the run: cancelled, stop requested); a batch it refused for good (4xx) is dropped, logged,
    and goes to ``on_refused(error)``. A batch that failed otherwise stays: at the head of the outbox, retried once
    the backoff is over, or, with an ``overflow`` store, moved there with everything queued behind it, and the
    store is delivered oldest first once the API answers again. :meth:`discard` drops everything for good.
    """

    def __init__(
        self,
        post: Callable[[bytes], Reply],
        *,
        what: str,
        on_reply: Callable[[Reply], None] = lambda reply: None,
        on_refused: Callable[[ApiError], None] = lambda error: None,
        overflow: OverflowStore | None = None,
        max_batch: int = MAX_BATCH_POINTS,
        policy: RetryPolicy = RETRY,
        log: logging.Logger = logger,
    ) -> None:
        self.outbox = Outbox()
        self.post = post
        self.what = what  # names the sender in the log, e.g. "run 3"
        self.on_reply = on_reply
        self.on_refused = on_refused
        self.overflow = overflow
        self.max_batch = max_batch
        self.log = log
        self.sent = 0  # points the API acknowledged (stored now, or already stored by an earlier try)
        self.duplicates = 0  # of those, points the API already had
        self.dropped = 0  # points refused for good, or discarded
        self.api_up = True  # False from a failed request until one succeeds
        self.arrays = True  # post batches per key as arrays; False once an older API refused that shape
        self.retry_at = 0.0  # monotonic time before which nothing is posted (the backoff after a failure)
        self._backoff = policy.backoff()
        self._discarding = False

    @property
    def pending(self) -> int:
        """Points logged and neither acknowledged, nor spooled, nor dropped yet."""
        return self.outbox.pending

    @property
    def done(self) -> bool:
        """Nothing left to send: the outbox and the overflow store are empty."""
        return not self.pending and (self.overflow is None or self.overflow.empty)

    def may_post(self) -> bool:
        return time.monotonic() >= self.retry_at

    def pump(self, *, flush: bool = True, drain_slice_s: float = math.inf) -> bool:
        """Send what the outbox holds (full batches; the last, partial one only when ``flush``), or move it to the
        overflow store while the API is away or older points wait there; then deliver the store, oldest first,
        for at most ``drain_slice_s``. One try per batch: after a failure nothing is posted before
        :attr:`retry_at`. Returns False when the slice ran out with more to deliver now."""
        outbox = self.outbox
        while True:
            if outbox.taken < self.max_batch:
                outbox.take()
            if not outbox.taken or (outbox.taken < self.max_batch and not flush):
                break
            if self._discarding:
                self.dropped += outbox.drop_all()
                break
            if self.overflow is not None and (not self.overflow.empty or not self.may_post()):
                self._spool_taken(self.overflow)
                continue
            if not self.may_post():
                break
            if not self._send(outbox.next_batch(self.max_batch)) and self.overflow is None:
                break  # the batch stays at the head of the outbox
        return self._drain(drain_slice_s)

    def spool_all(self) -> None:
        """Move everything the outbox holds to the overflow store (the sender stops before the API is back)."""
        if self.overflow is not None:
            self.outbox.take()
            self._spool_taken(self.overflow)

    def discard(self) -> None:
        """Send nothing more: what is queued or spooled, and what comes later, is dropped (the run is gone, or
        another attempt's)."""
        self._discarding = True

    def retry_now(self) -> None:
        """Cut the backoff short: the next :meth:`pump` posts (the backoff keeps growing if it fails again)."""
        self.retry_at = 0.0

    def reachable(self) -> None:
        """The API answered (points, or any other request): post again now, and start backoffs over."""
        if not self.api_up:
            self.log.info("%s: the API is back", self.what)
        self.api_up = True
        self.retry_at = 0.0
        self._backoff.reset()

    def unreachable(self, exc: BaseException) -> None:
        """A request failed in a way the API may get over: back off before the next try."""
        if self.api_up:
            where = "on disk" if self.overflow is not None else "in memory"
            delay = self._backoff.delay
            self.log.warning("%s: API unreachable (%s); points wait %s; retry in %.1f s", self.what, exc, where, delay)
        else:
            self.log.info("%s: API still unreachable (%s); retrying in %.1f s", self.what, exc, self._backoff.delay)
        self.api_up = False
        self.back_off()

    def back_off(self) -> None:
        """Post nothing for the policy's next pause (after a failure of any kind)."""
        self.retry_at = time.monotonic() + self._backoff.next()

    def _spool_taken(self, overflow: OverflowStore) -> None:
        """Move every taken point to the overflow store, a batch at a time; a disk failure keeps them here."""
        while self.outbox.taken:
            batch = self.outbox.next_batch(self.max_batch)
            overflow.append(batch.parts)
            self.outbox.acknowledge(batch)

    def _send(self, batch: Batch) -> bool:
        """One try. True when the batch left the outbox (stored, or refused for good)."""
        arrays = self.arrays
        body = batch.body if arrays else batch_body(batch.parts)
        if self._try(body, batch.points, arrays=arrays):
            self.outbox.acknowledge(batch)
            return True
        return arrays and not self.arrays and self._send(batch)  # an older API: at once, one by one

    def _drain(self, slice_s: float) -> bool:
        overflow = self.overflow
        if overflow is None:
            return True
        started = time.monotonic()
        while not overflow.empty and (self._discarding or self.may_post()):
            if time.monotonic() - started > slice_s:
                return False
            oldest = overflow.oldest()
            if oldest is None:
                break
            segment, parts = oldest
            if self._discarding:
                self.dropped += len(parts)
            elif not self._try(batch_body(parts), len(parts)):
                break
            overflow.remove(segment)
            if overflow.empty and not self._discarding:
                self.log.info("%s: the spooled points are delivered", self.what)
        return True

    def _try(self, body: bytes, points: int, *, arrays: bool = False) -> bool:
        """Post once. True when the API answered for good: it took the points, or refused them (dropped, logged).

        An API older than the ``{"series": ...}`` body refuses it naming that field (422): the points stay, and
        this sender posts them, and every later batch, one by one."""
        try:
            reply = self.post(body)
        except ApiError as exc:
            if not exc.refused:
                self.unreachable(exc)
                return False
            self.reachable()
            if arrays and _predates_arrays(exc):
                self.log.warning("%s: the API predates batches as arrays; sending points one by one", self.what)
                self.arrays = False
                return False
            self.log.error("%s: the API refused %d points: %s", self.what, points, exc)
            self.dropped += points
            self.on_refused(exc)
            return True
        except Exception as exc:  # noqa: BLE001 - network trouble: the points stay, for the next try
            self.unreachable(exc)
            return False
        self.reachable()
        self.sent += points
        if isinstance(reply, dict):
            self.duplicates += int(reply.get("duplicates", 0) or 0)
            self.on_reply(reply)
        return True
