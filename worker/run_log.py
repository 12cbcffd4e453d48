"""A built-in run's log: what the worker logs while it trains the run (a line an epoch, warnings, the traceback of
a failure) goes to the run's log on the API, through the sender a script's captured output uses."""

from __future__ import annotations

import logging
import threading

from trainboard import lifecycle
from trainboard.client import Client
from trainboard.output_capture import LogSender

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The run's own loggers (training, executor, reporter) and Python warnings, at INFO; anything else at WARNING.
RUN_LOGGERS = ("worker", "py.warnings")
# Never: the worker's heartbeats, HTTP requests, and the log sender's own complaints (they would feed themselves).
OTHER_LOGGERS = ("worker.presence", "trainboard", "httpx", "httpcore")
CLOSE_TIMEOUT_S = 30.0
# Once the worker is stopping, the API may be gone already (`up` stops it first): the last lines get this long.
STOPPING_CLOSE_TIMEOUT_S = 2.0
ERROR_FLUSH_S = 5.0


# The threads of runs that take only their own thread's records (command runs, several at once on a worker with
# several GPUs): no other run's log takes theirs.
_claimed_threads: set[int] = set()


class RunLogHandler(logging.Handler):
    """Each record about the run, formatted as in the worker's own log, as lines of the run's log."""

    def __init__(self, sender: LogSender, *, thread: int | None = None) -> None:
        super().__init__(logging.INFO)
        self.sender = sender
        self.thread = thread  # only this thread's records; None: any thread another run has not claimed
        self.setFormatter(logging.Formatter(FORMAT))
        self.addFilter(about_the_run)
        self.addFilter(self._from_this_run)

    def _from_this_run(self, record: logging.LogRecord) -> bool:
        if self.thread is not None:
            return record.thread == self.thread
        return record.thread not in _claimed_threads

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sender.add_lines(self.format(record).split("\n"))
            if record.levelno >= logging.ERROR:
                self.sender.flush(ERROR_FLUSH_S)
        except Exception:  # noqa: BLE001 - logging never breaks training
            self.handleError(record)


def about_the_run(record: logging.LogRecord) -> bool:
    name = record.name
    if _under(name, OTHER_LOGGERS):
        return False
    return record.levelno >= logging.WARNING or _under(name, RUN_LOGGERS)


def _under(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


class RunLogging:
    """From creation to :meth:`close`, what is logged about run ``run_id`` goes to its log (``client`` holds the
    attempt's lease). An error (a failure's traceback) is delivered before the call that logged it returns, so
    it is in the log before the run's final status."""

    def __init__(self, client: Client, run_id: int, *, first_line: int = 0, this_thread_only: bool = False) -> None:
        self.sender = LogSender(client, run_id, first_line=first_line)
        self._thread = threading.get_ident() if this_thread_only else None
        if self._thread is not None:
            _claimed_threads.add(self._thread)
        self._handler = RunLogHandler(self.sender, thread=self._thread)
        self._ours = logging.getLogger("worker")
        self._level = self._ours.level
        if self._ours.getEffectiveLevel() > logging.INFO:
            self._ours.setLevel(
                logging.INFO
            )  # the epoch lines are INFO: the run's log has them whatever the worker prints
        logging.getLogger().addHandler(self._handler)

    def close(self, *, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop collecting and deliver the rest, for at most ``timeout`` seconds, or STOPPING_CLOSE_TIMEOUT_S once
        the worker is stopping, even if its stop signal comes while this waits: `up` stops the API first, and the
        worker's stop must not wait on an API that is gone."""
        logging.getLogger().removeHandler(self._handler)
        _claimed_threads.discard(self._thread or 0)
        self._ours.setLevel(self._level)
        self.sender.close(timeout, hurry=lifecycle.WORKER_STOPPING, hurry_s=STOPPING_CLOSE_TIMEOUT_S)
