"""Track a training run from your own script: ``start_run(client, spec)`` gives a :class:`TrackedRun`.

``run.log(step=3, loss=0.5, acc=0.9)`` appends the numbers to per-key arrays and returns (about a microsecond);
a background thread posts them in batches of at most 1,000 points, as soon as a batch is full or every half
second otherwise, and retries with backoff while the API is unreachable (``trainboard.sender.PointSender``, the
worker's sender too). Posting is idempotent on (key, step),
so a batch the API stored before the connection broke is never stored twice. While the script logs nothing, the
thread sends a heartbeat every 10 s: the API fails a run silent for ``TRAINBOARD_EXTERNAL_TIMEOUT_S`` (the script
died without finishing it), and a live script, however long between its points, is never taken for dead.

    from trainboard import Client, start_run

    client = Client("http://127.0.0.1:8000")
    with start_run(client, {"name": "my script", "tags": ["mine"]}) as run:
        for step in range(1000):
            run.log(step=step, loss=..., acc=...)
        run.summary["best_valid_acc"] = 0.98       # sent with the final status
    # leaving the block delivers every point, then reports "succeeded" (or "failed" with the exception)
"""

from __future__ import annotations

import atexit
import functools
import logging
import math
import operator
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal

from trainboard.client import ApiError, Client
from trainboard.limits import MAX_STEP, METRIC_KEY
from trainboard.retry import RETRY
from trainboard.run_config import RunConfig, jsonable
from trainboard.sender import MAX_BATCH_POINTS, GaveUp, PointSender, call_with_retry

logger = logging.getLogger(__name__)

FLUSH_EVERY_S = 0.5
HEARTBEAT_EVERY_S = 10.0  # well inside the API's external_timeout_s (180 s by default)
MAX_ERROR_CHARS = 20_000

FinalStatus = Literal["succeeded", "failed", "cancelled"]


class TrackingError(RuntimeError):
    """Points or the final status could not be delivered (the API stayed unreachable, or refused them)."""


def start_run(
    client: Client,
    spec: Mapping[str, Any] | None = None,
    *,
    flush_every_s: float = FLUSH_EVERY_S,
    max_batch: int = MAX_BATCH_POINTS,
) -> TrackedRun:
    """Create an external run (``spec`` with ``"external": true``) that your own script trains and reports.

    Returns a :class:`TrackedRun`: ``run.log(step=3, loss=0.5)`` queues and returns at once, and a background
    thread posts the points in batches of at most ``max_batch``, at least every ``flush_every_s`` seconds;
    ``run.finish(status, summary)``, or leaving a ``with start_run(client, ...) as run:`` block, delivers them all
    and then reports the outcome.
    """
    check_options(flush_every_s=flush_every_s, max_batch=max_batch)
    run = client.create_run({**(spec or {}), "external": True})
    sender = client.with_lease(run.pop("lease", None), timeout=min(client.http.timeout.read or 30.0, 30.0))
    return TrackedRun(sender, run, flush_every_s=flush_every_s, max_batch=max_batch)


class TrackedRun:
    """A run your own script trains and reports: ``log`` points, then ``finish`` (or use it as a context manager).

    ``log`` may be called from several threads. Nothing is sent after ``finish``.
    """

    def __init__(
        self,
        sender: Client,
        run: Mapping[str, Any],
        *,
        flush_every_s: float = FLUSH_EVERY_S,
        max_batch: int = MAX_BATCH_POINTS,
        owns_sender: bool = True,
        heartbeat_every_s: float = HEARTBEAT_EVERY_S,
        finish_at_exit: bool = True,
    ) -> None:
        check_options(flush_every_s=flush_every_s, max_batch=max_batch, heartbeat_every_s=heartbeat_every_s)
        self.id: int = int(run["id"])
        self.run: dict[str, Any] = dict(run)
        self.summary: dict[str, Any] = {}  # sent with the heartbeats (when it changed) and the final status
        self.config = RunConfig(run.get("config") or {})  # changes are sent: see trainboard/run_config.py
        self.status: str = str(run.get("status", "running"))
        self.stop_requested: str | None = run.get("stop_requested")  # a sweep's rule asks the run to finish early
        # What the sender thread also does on each pass (uploads): each returns when it wants the next pass
        # (a monotonic time; infinity: only when something else wakes the thread).
        self.chores: list[Callable[[], float]] = []
        self._chores_due = math.inf
        self._summary_sent: Any = {}  # as JSON (jsonable), as last reported
        self._summary_check_at = time.monotonic() + heartbeat_every_s  # points replies put off heartbeats: not this
        self._report_backoff = RETRY.backoff()
        self._report_retry_at = 0.0  # a report carrying a config change failed: not before this
        self._sender = sender
        self._owns_sender = owns_sender
        self._flush_every_s = flush_every_s
        self._max_batch = max_batch
        self._heartbeat_every_s = heartbeat_every_s
        self._heartbeat_due = time.monotonic() + heartbeat_every_s  # pushed back by every reply from the API
        # log() fills the outbox; the sender thread empties it as the API acknowledges
        self._points = PointSender(
            functools.partial(sender.post_encoded_points, self.id),
            what=f"run {self.id}",
            on_reply=self._on_points_reply,
            on_refused=self._note_refusal,
            max_batch=max_batch,
            log=logger,
        )
        self._outbox = self._points.outbox
        self._wake = threading.Event()
        self._urgent = False  # flush(): send the partial batch too
        self._abandon = threading.Event()  # finish() stopped waiting: stop retrying
        self._finished = False
        self._fatal: str | None = None
        self._last_refusal = ""
        self._thread = threading.Thread(target=self._run, name=f"trainboard-run-{self.id}", daemon=True)
        self._thread.start()
        if finish_at_exit:
            atexit.register(self._at_exit)  # a script that ends without finish() still delivers its points

    # --- what the training script calls ---------------------------------------------------------------------

    def log(self, step: int, **metrics: float | None) -> None:
        """Queue one value per metric at ``step`` and return at once.

        Values are anything ``float()`` takes (numbers, numpy scalars, one-element tensors); None, NaN and
        infinity are stored as null. The same (key, step) logged twice keeps the value the API got first.
        """
        self.log_dict(step, metrics)

    def log_dict(self, step: int, metrics: Mapping[str, Any]) -> None:
        """``log`` for keys that are not Python identifiers, e.g. ``{"train/loss": 0.3}``."""
        if self._finished:
            raise RuntimeError(f"run {self.id} is finished: log() after finish()")
        if step.__class__ is not int or step < 0 or step > MAX_STEP:
            step = _checked_step(step)
        if not metrics:
            raise ValueError("log() needs at least one metric, e.g. run.log(step=3, loss=0.5)")
        outbox = self._outbox
        lock = outbox.lock
        lock.acquire()
        try:
            appenders = outbox.appenders
            key = ""
            try:
                for key, value in metrics.items():  # noqa: B007 - key is read by the except clause
                    append_value, append_step = appenders[key]
                    append_value(value)  # first: a refused value leaves no step behind
                    append_step(step)
            except (KeyError, TypeError):  # a new key, or None or a non-float value
                self._log_slowly(step, metrics, failed_at=key)
            outbox.buffered = buffered = outbox.buffered + len(metrics)
        finally:
            lock.release()
        if buffered >= self._max_batch and not self._wake.is_set():
            self._wake.set()

    @property
    def cancelled(self) -> bool:
        """True once the API answered that the run was cancelled (from the dashboard): stop training."""
        return self.status == "cancelled"

    @property
    def finished(self) -> bool:
        """``finish()`` was called: nothing more is taken."""
        return self._finished

    @property
    def refused(self) -> bool:
        """The API refuses this run's writes for good (the run is gone, or another attempt's)."""
        return self._fatal is not None

    @property
    def pending(self) -> int:
        """Points logged but not yet acknowledged by the API."""
        return self._outbox.pending

    @property
    def sent(self) -> int:
        """Points the API acknowledged (stored now, or already stored by an earlier try)."""
        return self._points.sent

    @property
    def dropped(self) -> int:
        """Points the API refused; logged, never retried."""
        return self._points.dropped

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now and wait until the API has it all; False if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._points.retry_now()  # a sender pausing after a failure tries again now
        while self.pending:
            if not self._thread.is_alive():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._urgent = True
            self._wake.set()
            time.sleep(0.01)
        return True

    def flush_reports(self, timeout: float) -> bool:
        """Send the summary and config now if they changed since the last report, and wait until the API has them
        (a script that ends without a final status of its own: a command run's worker reports how it ended)."""
        deadline = time.monotonic() + timeout
        while jsonable(dict(self.summary)) != self._summary_sent or self.config.unsent() is not None:
            if not self._thread.is_alive() or time.monotonic() >= deadline:
                return False
            self._heartbeat_due = 0.0
            self._wake.set()
            time.sleep(0.02)
        return True

    def finish(
        self,
        status: FinalStatus = "succeeded",
        summary: Mapping[str, Any] | None = None,
        error: str | None = None,
        *,
        timeout: float | None = 300.0,
    ) -> dict[str, Any]:
        """Deliver every logged point, then report the final ``status`` with ``self.summary`` (updated with
        ``summary``) and ``error``. Returns the run as the API then has it.

        If points are still undelivered after ``timeout`` seconds (the API stayed down), the status is still
        reported, naming the loss in its error, and :class:`TrackingError` is raised.
        """
        if self._finished:
            return self.run
        self._finished = True
        atexit.unregister(self._at_exit)
        if summary:
            self.summary.update(summary)
        problems: list[str] = []
        try:
            delivered = self.flush(timeout)
            self._abandon.set()  # the sender stops retrying; when everything was delivered it is idle anyway
            self._wake.set()
            self._thread.join(timeout=30)
            lost = 0 if delivered else self.pending
            if lost:
                problems.append(
                    f"{lost} point{'s' if lost != 1 else ''} not delivered: the API stayed unreachable for {timeout} s"
                )
            if self._fatal:
                problems.append(self._fatal)
            if problems:
                logger.error("run %s: %s", self.id, "; ".join(problems))
                error = "\n".join([error, *problems] if error else problems)
            fields: dict[str, Any] = {"status": status}
            if self.summary:
                fields["summary"] = jsonable(self.summary)
            config = self.config.unsent()
            if config is not None:
                fields["config"] = config[1]
            if error:
                fields["error"] = error[-MAX_ERROR_CHARS:]
            deadline = math.inf if timeout is None else time.monotonic() + max(timeout, 1.0)
            try:
                reply = self._call_with_retry(
                    lambda: self._sender.report_status(self.id, **fields),
                    give_up=lambda: time.monotonic() > deadline,
                )
            except GaveUp:
                message = "; ".join([*problems, f"status {status!r} not reported: the API stayed unreachable"])
                raise TrackingError(f"run {self.id}: {message}") from None
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
        final, error = outcome_of(exc)
        try:
            self.finish(final, error=error)
        except TrackingError as problem:  # the block's own exception is the one to propagate
            logger.error("%s", problem)

    def _at_exit(self) -> None:
        """The interpreter is exiting and the run was never finished: deliver the points, then mark it failed."""
        if self._finished:
            return
        died = getattr(sys, "last_value", None)  # an uncaught exception ended the script
        if died is not None:
            error = "the script died: " + "".join(traceback.format_exception_only(died)).strip()
        else:
            error = "the script exited without finishing the run (use `with start_run(client, ...)` or finish())"
        try:
            self.finish("failed", error=error, timeout=30)
        except Exception as problem:  # noqa: BLE001 - nothing else can report it at exit
            logger.error("run %s: at exit: %s", self.id, problem)

    def __repr__(self) -> str:
        return f"TrackedRun(id={self.id}, status={self.status!r}, pending={self.pending}, sent={self.sent})"

    # --- off the fast path ----------------------------------------------------------------------------------------

    def _log_slowly(self, step: int, metrics: Mapping[str, Any], *, failed_at: str) -> None:
        """A new key or a value that is not a plain number: undo this call's appends, check it all, redo it."""
        buffers = self._outbox.buffers
        for key in metrics:
            if key == failed_at:
                break
            steps, values = buffers[key]
            steps.pop()
            values.pop()
        checked = [(_checked_key(key), _as_float(key, value)) for key, value in metrics.items()]
        for key, value in checked:
            if key not in buffers:
                self._outbox.add_key(key)
            steps, values = buffers[key]
            values.append(value)
            steps.append(step)

    # --- the sender thread --------------------------------------------------------------------------------------

    def _run(self) -> None:
        points = self._points
        last_flush = time.monotonic()
        while not self._abandon.is_set():
            next_due = min(last_flush + self._flush_every_s, self._heartbeat_due, self._report_due(), self._chores_due)
            if points.pending and not points.api_up:
                next_due = min(next_due, points.retry_at)  # the backoff's end
            self._wake.wait(max(0.0, next_due - time.monotonic()))
            self._wake.clear()
            due = self._urgent or time.monotonic() >= last_flush + self._flush_every_s
            self._urgent = False
            try:
                # Full batches go at once; a partial one waits for the timer (or a flush), so a fast loop sends
                # 1,000-point requests rather than many small ones. A batch that failed is tried again, whole,
                # once the backoff is over; the outbox keeps it until the API answers.
                points.pump(flush=due or not points.api_up)
                if due:
                    last_flush = time.monotonic()
                now = time.monotonic()
                if now >= self._heartbeat_due or now >= self._report_due() or self._summary_due(now):
                    self._heartbeat()
                if self.chores:
                    self._chores_due = min(chore() for chore in self.chores)
            except Exception:  # noqa: BLE001 - never let the thread die with points queued
                logger.exception("run %s: unexpected error in the sender thread", self.id)
                time.sleep(RETRY.first_s)

    def wake(self) -> None:
        """Have the sender thread make a pass now (e.g. an upload was queued, or finish() waits for one)."""
        self._wake.set()

    def _report_due(self) -> float:
        """When a config change should go (before the next heartbeat), or infinity."""
        return max(self.config.due_at(), self._report_retry_at)

    def _summary_due(self, now: float) -> bool:
        """The summary changed since the last report, at most one check per heartbeat period (while points flow,
        their replies stand in for heartbeats, so a changed summary makes a report of its own)."""
        if now < self._summary_check_at:
            return False
        self._summary_check_at = now + self._heartbeat_every_s
        return bool(jsonable(dict(self.summary)) != self._summary_sent)

    def _heartbeat(self) -> None:
        """Tell the API the script is alive (a status report refreshes the run's heartbeat), with the config when it
        changed and the summary when it changed since the last report.

        One try: a failure waits for the next beat (points being retried meanwhile keep their own backoff), or, when
        it carried a config change, for the retry policy's next pause.
        """
        self._heartbeat_due = time.monotonic() + self._heartbeat_every_s
        fields: dict[str, Any] = {}
        config = self.config.unsent()
        if config is not None:
            fields["config"] = config[1]
        summary = jsonable(dict(self.summary))
        if summary != self._summary_sent:
            fields["summary"] = summary
        try:
            reply = self._sender.report_status(self.id, **fields)
        except ApiError as exc:
            if not exc.refused:
                self._report_failed(exc)
                return
            logger.error("run %s: the API refused the run's %s: %s", self.id, " and ".join(fields), exc)
            reply = None  # refused for good: not sent again until it changes
        except Exception as exc:  # noqa: BLE001 - the API away: the next beat tries again
            self._report_failed(exc)
            return
        self._report_backoff.reset()
        self._report_retry_at = 0.0
        if config is not None:
            self.config.sent(config[0])
        self._summary_sent = summary
        self._points.reachable()  # the API is back: points waiting for the backoff's end go now
        self._on_reply(reply)

    def _report_failed(self, exc: BaseException) -> None:
        logger.debug("run %s: heartbeat failed: %s", self.id, exc)
        self._report_retry_at = time.monotonic() + self._report_backoff.next()

    def _on_points_reply(self, reply: dict[str, Any]) -> None:
        self._heartbeat_due = time.monotonic() + self._heartbeat_every_s  # the API just heard from the script
        self._on_reply(reply)

    def _on_reply(self, reply: Any) -> None:
        """What every reply about the run may say: its status (``cancelled`` from the dashboard), and that a
        sweep's early termination asks it to finish (``stop_requested``)."""
        if not isinstance(reply, dict):
            return
        status = reply.get("status")
        if isinstance(status, str):
            self.status = status
        if reply.get("stop_requested"):
            self.stop_requested = str(reply["stop_requested"])

    def _call_with_retry(self, call: Callable[[], Any], *, give_up: Callable[[], bool]) -> Any:
        """``call()`` retried with backoff until ``give_up()`` (then :class:`GaveUp`); None when refused."""
        return call_with_retry(call, what=f"run {self.id}", on_refused=self._refused, give_up=give_up, log=logger)

    def _refused(self, exc: ApiError) -> None:
        self._note_refusal(exc)
        logger.error("run %s: the API refused a request: %s", self.id, exc)

    def _note_refusal(self, exc: ApiError) -> None:
        """A refusal (of points: the sender dropped and logged them). The run gone, or the token not good for it:
        the API will refuse everything, so nothing more is posted and what is queued is dropped."""
        self._last_refusal = str(exc)
        if exc.status_code in (401, 403, 404):
            self._fatal = f"the API refused run {self.id}'s points: {exc}"
            self._points.discard()


def outcome_of(exc: BaseException) -> tuple[FinalStatus, str]:
    """How an exception that ended a run's block ends the run: ``cancelled`` for Ctrl-C (KeyboardInterrupt),
    ``failed`` otherwise, with the exception's text and its traceback."""
    final: FinalStatus = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
    text = "".join(traceback.format_exception_only(exc)).strip()
    trace = "".join(traceback.format_exception(exc)).strip()
    return final, f"{text}\n\n{trace}" if trace != text else text


def check_options(
    *,
    flush_every_s: float = FLUSH_EVERY_S,
    max_batch: int = MAX_BATCH_POINTS,
    heartbeat_every_s: float = HEARTBEAT_EVERY_S,
) -> None:
    """Refuse bad TrackedRun options before a run is created for them."""
    if not heartbeat_every_s > 0:
        raise ValueError(f"heartbeat_every_s must be > 0, got {heartbeat_every_s}")
    if not 1 <= max_batch <= MAX_BATCH_POINTS:
        raise ValueError(f"max_batch must be between 1 and {MAX_BATCH_POINTS}, got {max_batch}")
    if not flush_every_s > 0:
        raise ValueError(f"flush_every_s must be > 0, got {flush_every_s}")


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


def _checked_key(key: Any) -> str:
    if not isinstance(key, str) or not METRIC_KEY.fullmatch(key):
        raise ValueError(f"metric key {key!r}: use 1 to 64 characters among letters, digits and _ . : / -")
    return key


def _as_float(key: str, value: Any) -> float:
    if value is None:
        return float("nan")  # sent as null, like NaN
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"metric {key!r}: a value must be a number, got {type(value).__name__}") from None
