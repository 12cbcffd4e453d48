"""What a run prints, in its log on the API: ``OutputCapture(client, run_id).start()`` tees ``sys.stdout`` and
``sys.stderr`` (the terminal shows everything as before) and sends each complete line to the run's log
(``POST /api/runs/{id}/logs``); ``.close(timeout)`` puts the streams back and delivers the rest.

A line is sent once its newline is written (a partial line at close). A progress bar redrawn with ``\\r`` is sent
as its last state only, when its line ends, not once per redraw. Lines from several threads never mix: each
thread's partial line is kept apart. Output written to the file descriptors themselves (a subprocess, a C
library) shows on the terminal but is not captured.

:class:`LogSender` is the one sender of log lines, also used for a worker's log of a built-in run: lines are
numbered from 0 as they are sent, posted by a background thread in batches (every ``flush_every_s`` or once
``max_batch`` lines wait), retried with :data:`trainboard.retry.RETRY`'s pauses while the API is away (the API
stores a line once whatever the retries), and at most ``max_pending`` lines wait: beyond that the oldest are
dropped, the terminal is told once, and the log gets a line saying how many are missing there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from trainboard.client import ApiError, Client
from trainboard.limits import LOG_LINE_CUT_MARK, LOG_LINE_MAX_CHARS
from trainboard.retry import RETRY, RetryPolicy

logger = logging.getLogger(__name__)

FLUSH_EVERY_S = 0.5
MAX_BATCH_LINES = 500
MAX_BATCH_CHARS = 1_000_000  # with JSON's escapes, well inside the API's 8 MiB body limit
MAX_PENDING_LINES = 10_000


class LogSender:
    """Lines to a run's log, from any thread: :meth:`add_lines` queues them and returns; a thread posts them."""

    def __init__(
        self,
        client: Client,
        run_id: int,
        *,
        flush_every_s: float = FLUSH_EVERY_S,
        max_batch: int = MAX_BATCH_LINES,
        max_pending: int = MAX_PENDING_LINES,
        policy: RetryPolicy = RETRY,
        say: Callable[[str], None] | None = None,
        first_line: int = 0,
    ) -> None:
        self.run_id = run_id
        self.sent = 0  # lines the API acknowledged
        self.dropped = 0  # lines that will never reach it (too many waiting, or the API refused them)
        self._http = client.with_lease(client.lease, timeout=10.0)
        self._flush_every_s = flush_every_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._policy = policy
        self._say = say or (lambda message: logger.warning("run %s: %s", run_id, message))
        self._lock = threading.Lock()
        self._pending: deque[str] = deque()
        self._gap = 0  # lines dropped since the last batch was taken: the log gets a line saying so
        self._said_dropping = False
        self._refused = False  # the API will take nothing more: lines are dropped as they come
        self._batch: list[str] = []  # taken and not yet acknowledged; its numbers are fixed (retries reuse them)
        self._next_line = (
            first_line  # the number of the batch's first line (a later attempt goes on from the log's end)
        )
        self._wake = threading.Event()
        self._closing = False
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"trainboard-log-{run_id}", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Lines queued or in flight, not yet acknowledged."""
        with self._lock:
            return len(self._pending) + len(self._batch)

    def add_lines(self, lines: Iterable[str]) -> None:
        """Queue complete lines (without their line ends); never blocks on the API, never raises for a line."""
        dropping = False
        with self._lock:
            if self._refused:
                return
            pending = self._pending
            for line in lines:
                if len(line) > LOG_LINE_MAX_CHARS:
                    line = line[:LOG_LINE_MAX_CHARS] + LOG_LINE_CUT_MARK
                pending.append(line)
            while len(pending) > self._max_pending:
                pending.popleft()
                self.dropped += 1
                self._gap += 1
                if not self._said_dropping:
                    dropping = self._said_dropping = True
            full = len(pending) >= self._max_batch
        if full:
            self._wake.set()
        if dropping:
            self._say(
                f"the API is unreachable and more than {self._max_pending:,} log lines wait: the oldest are dropped"
            )

    def flush(self, timeout: float) -> bool:
        """Send what is queued now and wait, at most ``timeout`` seconds, until the API has it. True if it has."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while self.pending and self._thread.is_alive():
            if time.monotonic() > deadline:
                return False
            self._wake.set()
            time.sleep(0.01)
        return not self.pending

    def close(
        self, timeout: float | None = None, *, hurry: threading.Event | None = None, hurry_s: float = 0.0
    ) -> bool:
        """Deliver what is queued, waiting at most ``timeout`` seconds (None: as long as it takes), then stop; once
        ``hurry`` is set (a worker's stop signal, even one that comes while this waits), at most ``hurry_s`` more.
        True when every line was delivered (or refused by the API, which says so)."""
        self._closing = True
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        hurried = False
        while self._thread.is_alive():
            now = time.monotonic()
            if hurry is not None and not hurried and hurry.is_set():
                hurried = True
                deadline = now + hurry_s if deadline is None else min(deadline, now + hurry_s)
            if deadline is not None and now >= deadline:
                break
            self._thread.join(0.1 if deadline is None else min(0.1, deadline - now))
        if self._thread.is_alive():
            self._abandon.set()
            self._thread.join(5.0)
            left = self.pending
            self._say(f"{left:,} log line{'s' if left != 1 else ''} not delivered: the API stayed unreachable")
        self._http.close()
        return self.pending == 0

    def _run(self) -> None:
        backoff = self._policy.backoff()
        while not self._abandon.is_set():
            if not self._closing:
                self._wake.wait(self._flush_every_s)
                self._wake.clear()
            if not self._take():
                if self._closing:
                    return
                continue
            if self._post():
                backoff.reset()
            elif self._abandon.wait(backoff.next()):
                return

    def _take(self) -> bool:
        """Make sure a batch is in flight: the one not yet acknowledged, else the next lines. False when none."""
        with self._lock:
            if self._batch:
                return True
            if self._gap:
                self._batch.append(f"[trainboard: {self._gap:,} lines dropped here: the API was unreachable]")
                self._gap = 0
            chars = 0
            pending = self._pending
            while pending and len(self._batch) < self._max_batch and chars < MAX_BATCH_CHARS:
                line = pending.popleft()
                chars += len(line)
                self._batch.append(line)
            return bool(self._batch)

    def _post(self) -> bool:
        """One try of the batch in flight. True when the API answered for good (took it, or refused it)."""
        body = json.dumps({"first_line": self._next_line, "lines": self._batch})  # ASCII: any str goes
        try:
            reply: Any = self._http.request(
                "POST", f"/runs/{self.run_id}/logs", content=body, headers={"Content-Type": "application/json"}
            )
        except ApiError as exc:
            if not exc.refused:
                logger.info("run %s: the API did not take log lines (%s); retrying", self.run_id, exc)
                return False
            self._stop(f"the API refused the run's log lines, none more are sent: {exc}")
            return True
        except Exception as exc:  # noqa: BLE001 - network trouble: the batch stays, for the next try
            logger.info("run %s: API unreachable for log lines (%s); retrying", self.run_id, exc)
            return False
        with self._lock:
            self.sent += len(self._batch)
            self._next_line += len(self._batch)
            self._batch = []
        if isinstance(reply, dict) and reply.get("full"):
            self._stop("the run's log is full (the API's limit): later lines are not sent")
        return True

    def _stop(self, message: str) -> None:
        with self._lock:
            self.dropped += len(self._batch) + len(self._pending)
            self._batch = []
            self._pending.clear()
            self._refused = True
        self._say(message)


def last_state(line: str) -> str:
    """What a terminal shows of a line redrawn with carriage returns: the last non-empty redraw."""
    if "\r" not in line:
        return line
    for part in reversed(line.split("\r")):
        if part:
            return part
    return ""


class LineSplitter:
    """Complete lines out of text written in pieces; each thread's partial line apart from the others'."""

    def __init__(self, emit: Callable[[list[str]], None]) -> None:
        self._emit = emit
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def feed(self, text: str) -> None:
        ident = threading.get_ident()
        with self._lock:
            partial = self._partial.pop(ident, "") + text
            if "\n" in partial:
                *done, partial = partial.split("\n")
                self._emit([last_state(line) for line in done])
            if "\r" in partial:
                partial = _compact(partial)
            if len(partial) > 2 * LOG_LINE_MAX_CHARS:  # no newline for a long while: the line is cut anyway
                partial = partial[:LOG_LINE_MAX_CHARS] + LOG_LINE_CUT_MARK
            if partial:
                self._partial[ident] = partial

    def flush(self) -> None:
        """Every thread's partial line, as a line of its own."""
        with self._lock:
            rest = [last_state(partial) for partial in self._partial.values()]
            self._partial.clear()
            if rest:
                self._emit(rest)


def _compact(partial: str) -> str:
    """A partial line redrawn with carriage returns, down to its last state (so a progress bar never grows)."""
    head, _, tail = partial.rpartition("\r")
    if tail:
        return tail
    shown = last_state(head)
    return shown + "\r" if shown else ""


class _Tee:
    """A text stream that writes to ``stream`` as before and hands what is written to a :class:`LineSplitter`."""

    def __init__(self, stream: TextIO, lines: LineSplitter) -> None:
        self._stream = stream
        self._lines = lines
        self.capturing = True

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        if self.capturing:
            with contextlib.suppress(Exception):  # capturing must never break the script's print()
                self._lines.feed(text)
        return written

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, buffer, ...: the stream's own
        return getattr(self._stream, name)


class OutputCapture:
    """Tee ``sys.stdout`` and ``sys.stderr`` into run ``run_id``'s log: :meth:`start`, then :meth:`close`.

    Wraps whatever the streams are when it starts (a terminal, pytest's capture, a notebook's), so everything
    still goes where it went. ``client`` must hold the run's lease (``client.lease``).
    """

    def __init__(self, client: Client, run_id: int, **sender_options: Any) -> None:
        self.client = client
        self.run_id = run_id
        self.sender: LogSender | None = None
        self._options = sender_options
        self._lines: LineSplitter | None = None
        self._tees: dict[str, tuple[TextIO, _Tee]] = {}
        self._stderr: TextIO | None = None  # where the person at the terminal is told things

    def start(self) -> OutputCapture:
        if self.sender is not None:
            return self
        self._stderr = sys.stderr
        self.sender = LogSender(self.client, self.run_id, say=self._say, **self._options)
        self._lines = LineSplitter(self.sender.add_lines)
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None:
                tee = _Tee(stream, self._lines)
                self._tees[name] = (stream, tee)
                setattr(sys, name, tee)
        return self

    def log_only(self, text: str) -> None:
        """Add ``text`` to the run's log without printing it (e.g. the traceback Python prints after the run
        ended, once the streams are no longer captured)."""
        if self._lines is not None:
            self._lines.flush()
            self._lines.feed(text if text.endswith("\n") else text + "\n")

    def close(self, timeout: float | None = None) -> bool:
        """Put the streams back and deliver what is left, waiting at most ``timeout`` seconds (None: as long as
        it takes). True when every line was delivered."""
        if self.sender is None or self._lines is None:
            return True
        for name, (stream, tee) in self._tees.items():
            tee.capturing = False
            if getattr(sys, name) is tee:
                setattr(sys, name, stream)  # else something wrapped it after us: it stays, passing text through
        self._tees.clear()
        self._lines.flush()
        return self.sender.close(timeout)

    def _say(self, message: str) -> None:
        """Tell the person at the terminal (the real stderr, never the run's log)."""
        try:
            if self._stderr is not None:
                self._stderr.write(f"trainboard: {message}\n")
        except Exception:  # noqa: BLE001 - nowhere to say it
            pass
