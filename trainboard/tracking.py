"""Track a training run from your own script: ``client.start_run(spec)`` gives a :class:`TrackedRun`.

``run.log(step=3, loss=0.5, acc=0.9)`` only appends to a queue and returns (well under a microsecond of work);
a background thread turns the queue into batches of at most 1,000 points, posts one as soon as it is full or
every half second otherwise, and retries with backoff while the API is unreachable. Posting is idempotent on
(key, step), so a batch the API stored before the connection broke is never stored twice.

    with client.start_run({"name": "my script", "tags": ["mine"]}) as run:
        for step in range(1000):
            run.log(step=step, loss=..., acc=...)
        run.summary["best_valid_acc"] = 0.98       # sent with the final status
    # leaving the block flushes every point, then reports "succeeded" (or "failed" with the exception)
"""

from __future__ import annotations

import collections
import logging
import math
import operator
import re
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from trainboard.client import ApiError

if TYPE_CHECKING:
    from trainboard.client import Client

logger = logging.getLogger(__name__)

MAX_BATCH_POINTS = 1_000
FLUSH_EVERY_S = 0.5
RETRY_FIRST_S = 0.2
RETRY_MAX_S = 5.0
MAX_ERROR_CHARS = 20_000
MAX_STEP = 2**62
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")  # as the API's MetricKey

FinalStatus = Literal["succeeded", "failed", "cancelled"]


class TrackingError(RuntimeError):
    """Points could not be delivered (the API stayed unreachable past the close timeout, or refused them)."""


class TrackedRun:
    """A run your own script trains and reports: ``log`` points, then ``finish`` (or use it as a context manager).

    Thread-safe: ``log`` may be called from several threads. Nothing is sent after ``finish``.
    """

    def __init__(
        self,
        sender: Client,
        run: Mapping[str, Any],
        *,
        flush_every_s: float = FLUSH_EVERY_S,
        max_batch: int = MAX_BATCH_POINTS,
        owns_sender: bool = True,
    ) -> None:
        if not 1 <= max_batch <= MAX_BATCH_POINTS:
            raise ValueError(f"max_batch must be between 1 and {MAX_BATCH_POINTS}")
        self.id: int = int(run["id"])
        self.run: dict[str, Any] = dict(run)
        self.summary: dict[str, Any] = {}
        self.sent = 0  # points the API has acknowledged (stored now or before)
        self.dropped = 0  # points the API refused (bad key or step); logged, never retried
        self.status: str = str(run.get("status", "running"))
        self._sender = sender
        self._owns_sender = owns_sender
        self._flush_every_s = flush_every_s
        self._max_batch = max_batch
        # (step, {key: value}) entries; deque.append/popleft are atomic, so log() needs no lock.
        self._queue: collections.deque[tuple[int, Mapping[str, Any]]] = collections.deque()
        self._wake = threading.Event()
        self._idle = threading.Event()  # set while the queue is empty and nothing is in flight
        self._idle.set()
        self._wake_at = max_batch  # queue entries that make a full batch (adjusted to points per entry)
        self._finished = False
        self._urgent = False  # flush() asks for the partial batch too
        self._abandon = threading.Event()  # finish() gave up waiting: stop retrying
        self._head_skip = 0  # keys of the queue's first entry already sent (an entry wider than a batch)
        self._last_refusal = ""
        self._known_keys: set[str] = set()
        self._fatal: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"trainboard-run-{self.id}", daemon=True)
        self._thread.start()

    # --- what the training script calls ---------------------------------------------------------------------

    def log(self, step: int, **metrics: float | None) -> None:
        """Queue one value per metric at ``step`` and return at once. Values are read with ``float()`` on the
        sender thread; NaN and infinity are stored as null. Logging the same (key, step) twice keeps the first
        value the API received."""
        if self._finished:
            raise RuntimeError(f"run {self.id} is finished: log() after finish()")
        if not self._known_keys.issuperset(metrics):
            self._check_keys(metrics)
        if step.__class__ is not int or step < 0:
            step = _checked_step(step)
        queue = self._queue
        queue.append((step, metrics))
        if len(queue) >= self._wake_at and not self._wake.is_set():
            self._wake.set()

    def log_dict(self, step: int, metrics: Mapping[str, float | None]) -> None:
        """``log`` for keys that are not Python identifiers, e.g. ``{"train/loss": 0.3}``."""
        self.log(step, **dict(metrics))

    @property
    def cancelled(self) -> bool:
        """True once the API answered that someone cancelled this run: your script should stop training."""
        return self.status == "cancelled"

    @property
    def pending(self) -> int:
        """Queue entries (one per ``log`` call) not yet acknowledged by the API."""
        return len(self._queue)

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now and wait until the API has it all; False if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._urgent = True
        self._wake.set()
        while self._queue or not self._idle.is_set():
            if not self._thread.is_alive():
                return not self._queue
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._idle.wait(0.02)
        return True

    def finish(
        self,
        status: FinalStatus = "succeeded",
        summary: Mapping[str, Any] | None = None,
        error: str | None = None,
        *,
        timeout: float | None = 300.0,
    ) -> dict[str, Any]:
        """Deliver every queued point, then report the final ``status`` with the summary (``self.summary``
        updated with ``summary``) and ``error``. Returns the run as the API then has it.

        If points are still undelivered after ``timeout`` seconds (the API stayed down), the status is still
        reported, with the loss named in its error, and :class:`TrackingError` is raised.
        """
        if self._finished:
            return self.run
        self._finished = True
        if summary:
            self.summary.update(summary)
        try:
            delivered = self.flush(timeout)
            self._abandon.set()  # the sender stops retrying; when delivered it is idle already
            self._wake.set()
            self._thread.join(timeout=30)
            lost = len(self._queue) if not delivered else 0
            problems = []
            if lost:
                problems.append(f"{lost} log() calls were not delivered: the API stayed unreachable for {timeout} s")
            if self._fatal:
                problems.append(self._fatal)
            if problems:
                logger.error("run %s: %s", self.id, "; ".join(problems))
                error = "\n".join([error, *problems] if error else problems)
            fields: dict[str, Any] = {"status": status}
            if self.summary:
                fields["summary"] = self.summary
            if error:
                fields["error"] = error[-MAX_ERROR_CHARS:]
            deadline = time.monotonic() + (60.0 if timeout is None else max(timeout, 5.0))
            try:
                reply = self._call_with_retry(
                    lambda: self._sender.report_status(self.id, **fields),
                    give_up=lambda: time.monotonic() > deadline,
                )
            except _Abandoned:
                raise TrackingError(
                    f"run {self.id}: the API stayed unreachable; status {status!r} not reported"
                ) from None
        finally:
            if self._owns_sender:
                self._sender.close()
        if reply is None:
            raise TrackingError(f"run {self.id}: the API refused the final status {status!r}: {self._last_refusal}")
        self.run = reply
        self.status = str(reply.get("status", status))
        if lost:
            raise TrackingError(problems[0])
        return self.run

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._finished:
            return
        if exc is None:
            self.finish("succeeded")
            return
        final: FinalStatus = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
        text = "".join(traceback.format_exception_only(exc)).strip()
        trace = "".join(traceback.format_exception(exc)).strip()
        try:
            self.finish(final, error=f"{text}\n\n{trace}" if trace != text else text)
        except TrackingError as problem:  # the block's own exception is the one to see
            logger.error("%s", problem)

    def __repr__(self) -> str:
        return f"TrackedRun(id={self.id}, status={self.status!r}, pending={self.pending}, sent={self.sent})"

    # --- checks, off the fast path ----------------------------------------------------------------------------

    def _check_keys(self, metrics: Mapping[str, Any]) -> None:
        if not metrics:
            raise ValueError("log() needs at least one metric, e.g. run.log(step=3, loss=0.5)")
        for key in metrics:
            if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
                raise ValueError(f"metric key {key!r}: use 1 to 64 characters from letters, digits and _ . : / -")
        self._known_keys.update(metrics)
        # A full batch is max_batch points: wake the sender after that many entries of the widest kind.
        self._wake_at = max(1, self._max_batch // max(len(metrics), 1))

    # --- the sender thread --------------------------------------------------------------------------------------

    def _run(self) -> None:
        last_flush = time.monotonic()
        while not self._abandon.is_set():
            self._wake.wait(max(0.0, last_flush + self._flush_every_s - time.monotonic()))
            self._wake.clear()
            due = self._urgent or time.monotonic() >= last_flush + self._flush_every_s
            self._urgent = False
            try:
                # Full batches go at once; a partial one waits for the timer (or a flush), so a fast loop sends
                # 1,000-point requests rather than many small ones.
                while self._queue and (due or self._queued_points() >= self._max_batch):
                    self._idle.clear()
                    if self._fatal:  # the API will refuse everything (run gone, bad token): stop posting
                        self.dropped += len(self._queue)
                        self._queue.clear()
                        break
                    self._send_one_batch()
                if due:
                    last_flush = time.monotonic()
            except _Abandoned:
                return
            except Exception:  # noqa: BLE001 - never let the thread die with points queued
                logger.exception("run %s: unexpected error in the sender thread", self.id)
                self._abandon.wait(RETRY_FIRST_S)
            finally:
                if not self._queue:
                    self._idle.set()

    def _queued_points(self) -> int:
        """Points queued, estimated as entries times the first entry's width (never walks the queue)."""
        queue = self._queue
        try:
            return len(queue) * len(queue[0][1])
        except IndexError:
            return 0

    def _send_one_batch(self) -> None:
        """Post up to max_batch points from the head of the queue, and drop them from it once acknowledged.

        The queue is consumed only after the API's reply, so a failed post loses nothing, and a post retried
        after the API stored it is harmless (idempotent on key and step). A log() call with more keys than a
        batch holds is split across batches.
        """
        queue = self._queue
        points: list[dict[str, Any]] = []
        taken = 0  # whole entries in this batch
        skip = self._head_skip
        index = 0
        while len(points) < self._max_batch:
            try:
                step, metrics = queue[index]  # log() appends at the tail meanwhile: index, don't iterate
            except IndexError:
                break
            items = list(metrics.items())[skip:] if skip else metrics.items()
            room = self._max_batch - len(points)
            for n, (key, value) in enumerate(items):
                if n == room:
                    break
                points.append({"key": key, "step": step, "value": _number(value)})
            if len(items) > room:
                skip += room
                break
            skip = 0
            taken += 1
            index += 1
        if points:
            reply = self._call_with_retry(
                lambda: self._sender.post_points(self.id, points), give_up=self._abandon.is_set
            )
            if reply is None:
                self.dropped += len(points)
            else:
                self.sent += len(points)
                status = reply.get("status")
                if isinstance(status, str):
                    self.status = status
        for _ in range(taken):
            queue.popleft()
        self._head_skip = skip

    def _call_with_retry(self, call: Callable[[], Any], *, give_up: Callable[[], bool]) -> Any:
        """Retry network failures and 5xx/408/429 with exponential backoff until ``give_up()``; a 4xx refusal is
        final and returns None."""
        delay = RETRY_FIRST_S
        while True:
            try:
                return call()
            except ApiError as exc:
                if exc.status_code < 500 and exc.status_code not in (408, 429):
                    self._last_refusal = str(exc)
                    if exc.status_code in (401, 403, 404):
                        self._fatal = f"the API refused run {self.id}'s points: {exc}"
                    logger.error("run %s: the API refused a request: %s", self.id, exc)
                    return None
                logger.warning("run %s: API error %s; retrying in %.1f s", self.id, exc, delay)
            except Exception as exc:  # noqa: BLE001 - network trouble: keep the points and retry
                logger.warning("run %s: API unreachable (%s); retrying in %.1f s", self.id, exc, delay)
            if give_up():
                raise _Abandoned
            self._abandon.wait(delay) if threading.current_thread() is self._thread else time.sleep(delay)
            if give_up():
                raise _Abandoned
            delay = min(delay * 2, RETRY_MAX_S)


class _Abandoned(Exception):
    """The sender was told to stop retrying."""


def _checked_step(step: Any) -> int:
    """The step as a plain int (numpy and torch integers are welcome); floats and bools are mistakes."""
    if isinstance(step, bool | float):
        raise TypeError(f"step must be an int, got {step!r}: use int(step)")
    try:
        value = operator.index(step)
    except TypeError:
        raise TypeError(f"step must be an int, got {type(step).__name__}") from None
    if not 0 <= value <= MAX_STEP:
        raise ValueError(f"step must be between 0 and 2**62, got {value}")
    return value


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
