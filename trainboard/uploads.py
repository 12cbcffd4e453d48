"""Files a script's run uploads as artifacts (``log_image``'s PNGs and ``media.json``, ``save``'s files), queued so
that training never waits on the API and an outage loses none.

``put_bytes`` keeps the bytes in memory up to :data:`MAX_MEMORY_BYTES` in all, and in a temporary file beyond;
``put_file`` copies the file at once (the script may overwrite or delete it right after). The run's sender thread
calls :meth:`UploadQueue.pump`: it uploads oldest first and, while the API is away, waits the pauses of the one
retry policy (:data:`trainboard.retry.RETRY`). A name queued again replaces its older, unsent version and moves to
the end (so ``media.json`` always goes after the images it lists). A refusal (4xx: too large, a finished run's
file) is logged and the file dropped.
"""

from __future__ import annotations

import collections
import logging
import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trainboard.client import ApiError, Client
from trainboard.retry import RETRY, RetryPolicy

logger = logging.getLogger(__name__)

MAX_MEMORY_BYTES = 64 * 2**20


@dataclass(eq=False)
class Upload:
    name: str
    data: bytes | None = None  # in memory
    path: Path | None = None  # or a temporary file of the queue's own

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        return self.path.stat().st_size if self.path is not None else 0


class UploadQueue:
    """Artifacts waiting to be uploaded to run ``run_id`` through ``client`` (which holds the run's lease)."""

    def __init__(
        self,
        client: Client,
        run_id: int,
        *,
        max_memory_bytes: int = MAX_MEMORY_BYTES,
        policy: RetryPolicy = RETRY,
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.max_memory_bytes = max_memory_bytes
        self.uploaded = 0  # files the API took
        self.dropped = 0  # files it refused
        self.retry_at = 0.0  # monotonic time before which nothing is tried (the backoff after a failure)
        self._backoff = policy.backoff()
        self._lock = threading.Lock()
        self._queue: collections.OrderedDict[str, Upload] = collections.OrderedDict()
        self._memory = 0  # bytes of the queued uploads held in memory
        self._spool: Path | None = None  # a temporary folder, made on first need
        self._files = 0

    @property
    def pending(self) -> int:
        """Files queued and not yet uploaded (nor refused)."""
        with self._lock:
            return len(self._queue)

    def pending_names(self) -> list[str]:
        with self._lock:
            return list(self._queue)

    def put_bytes(self, name: str, data: bytes) -> None:
        """Queue ``data`` as the artifact ``name``: in memory, or in a temporary file beyond the memory bound."""
        with self._lock:
            in_memory = self._memory + len(data) - self._memory_of(name) <= self.max_memory_bytes
        if in_memory:
            self._enqueue(Upload(name, data=data))
        else:
            path = self._new_spool_file()
            path.write_bytes(data)
            self._enqueue(Upload(name, path=path))

    def put_file(self, name: str, source: Path) -> None:
        """Queue a copy of the file ``source`` (taken now) as the artifact ``name``."""
        path = self._new_spool_file()
        shutil.copyfile(source, path)
        self._enqueue(Upload(name, path=path))

    def retry_now(self) -> None:
        """Cut the backoff short: the next :meth:`pump` tries at once."""
        self.retry_at = 0.0

    def pump(self) -> float:
        """Upload what is queued, oldest first, until done or a failure; returns when to call again (a monotonic
        time: the backoff's end, or infinity when nothing is left)."""
        while time.monotonic() >= self.retry_at:
            with self._lock:
                if not self._queue:
                    return math.inf
                upload = next(iter(self._queue.values()))
            if not self._try(upload):
                return self.retry_at
            self._forget(upload)
        return self.retry_at

    def wait(self, timeout: float | None, wake: Callable[[], None]) -> bool:
        """Wait until every queued file is uploaded (True) or ``timeout`` seconds ran out (False); ``wake`` has the
        sender thread make a pass."""
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        self.retry_now()
        wake()
        while self.pending:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
            if time.monotonic() >= self.retry_at:
                wake()
        return True

    def close(self) -> None:
        """Forget what is left and remove the temporary files."""
        with self._lock:
            self._queue.clear()
            self._memory = 0
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None

    # --- internals ---------------------------------------------------------------------------------------------

    def _try(self, upload: Upload) -> bool:
        """One try: True when the API answered for good (took the file, or refused it)."""
        what = f"run {self.run_id}: artifact {upload.name!r}"
        try:
            if upload.data is not None:
                self.client.put_artifact(self.run_id, upload.name, upload.data)
            elif upload.path is not None:
                self.client.put_artifact_file(self.run_id, upload.name, upload.path)
        except ApiError as exc:
            if exc.refused:
                logger.error("%s: the API refused it: %s", what, exc)
                self.dropped += 1
                return True
            self._failed(what, exc)
            return False
        except Exception as exc:  # noqa: BLE001 - network trouble: keep the file and retry
            self._failed(what, exc)
            return False
        self._backoff.reset()
        self.uploaded += 1
        return True

    def _failed(self, what: str, exc: BaseException) -> None:
        delay = self._backoff.next()
        self.retry_at = time.monotonic() + delay
        logger.warning("%s: API unreachable (%s); the file waits; retry in %.1f s", what, exc, delay)

    def _enqueue(self, upload: Upload) -> None:
        with self._lock:
            older = self._queue.pop(upload.name, None)
            if older is not None:
                self._release(older)
            self._queue[upload.name] = upload
            if upload.data is not None:
                self._memory += len(upload.data)

    def _forget(self, upload: Upload) -> None:
        """The upload is done: drop it unless a newer version of its name was queued meanwhile."""
        with self._lock:
            if self._queue.get(upload.name) is upload:
                del self._queue[upload.name]
                self._release(upload)

    def _release(self, upload: Upload) -> None:
        """Free what ``upload`` holds (called with the lock held)."""
        if upload.data is not None:
            self._memory -= len(upload.data)
        if upload.path is not None:
            upload.path.unlink(missing_ok=True)

    def _memory_of(self, name: str) -> int:
        older = self._queue.get(name)
        return len(older.data) if older is not None and older.data is not None else 0

    def _new_spool_file(self) -> Path:
        with self._lock:
            if self._spool is None:
                self._spool = Path(tempfile.mkdtemp(prefix=f"trainboard-run-{self.run_id}-"))
            self._files += 1
            return self._spool / f"{self._files:06d}"
