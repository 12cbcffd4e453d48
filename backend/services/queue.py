"""Hands committed runs to the Celery workers, by id.

When the broker is unreachable (Redis restarting), a run is still launched: it is committed as ``queued``, and
its id waits in this process's resender, which sends it, in launch order, as soon as the broker is back.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import weakref

from celery import Celery

from backend.models import Run
from trainboard.queue import TRAIN_TASK
from trainboard.retry import RETRY

logger = logging.getLogger(__name__)


def enqueue(celery: Celery, runs: list[Run]) -> None:
    """Send each run's id to its queue. Call only after the runs are committed: the task re-reads them."""
    resender = _resender(celery)
    for run in runs:
        if run.external or run.status != "queued":
            continue
        resender.send(run.id, run.queue)


class Resender:
    """Sends run ids to the broker; ids the broker could not take are retried by a thread, in order."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery
        self._backlog: collections.deque[tuple[int, str]] = collections.deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def send(self, run_id: int, queue: str) -> None:
        with self._lock:
            if not self._backlog and self._try(run_id, queue):
                return
            self._backlog.append((run_id, queue))
            logger.warning("run %s waits for the broker to come back before it is enqueued", run_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._drain, name="enqueue-retry", daemon=True)
                self._thread.start()

    def _try(self, run_id: int, queue: str) -> bool:
        try:
            self.celery.send_task(TRAIN_TASK, args=[run_id], queue=queue)
        except Exception as exc:  # noqa: BLE001 - kombu's OperationalError and friends: the broker is away
            logger.warning("could not enqueue run %s: %s", run_id, exc)
            return False
        logger.info("run %s enqueued on %r", run_id, queue)
        return True

    def _drain(self) -> None:
        backoff = RETRY.backoff()
        while True:
            with self._lock:
                while self._backlog and self._try(*self._backlog[0]):
                    self._backlog.popleft()
                    backoff.reset()
                if not self._backlog:
                    self._thread = None
                    return
            time.sleep(backoff.next())


_resenders: weakref.WeakKeyDictionary[Celery, Resender] = weakref.WeakKeyDictionary()
_resenders_lock = threading.Lock()


def _resender(celery: Celery) -> Resender:
    with _resenders_lock:
        resender = _resenders.get(celery)
        if resender is None:
            resender = _resenders[celery] = Resender(celery)
        return resender
