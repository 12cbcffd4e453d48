"""Streams a run's metrics, progress and artifacts to the API from a background thread.

Training never waits on the network: points go into a queue, and a sender thread posts them in batches,
retrying until the API takes them (posting is idempotent, so a retry never duplicates a point).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from trainboard.client import ApiError, Client
from worker.training.callbacks import Callback, Point, TrainStart

logger = logging.getLogger(__name__)

FLUSH_EVERY_S = 0.5
HEARTBEAT_EVERY_S = 2.0
MAX_BATCH = 5_000
CHECKPOINT_ARTIFACT = "checkpoint_last.pt"
EPOCH_DELIVERY_WAIT_S = 5.0


class ApiReporter(Callback):
    def __init__(self, client: Client, run_id: int, *, worker_name: str, checkpoint: Path | None = None) -> None:
        self.client = client
        self.checkpoint = checkpoint
        self._checkpoint_mtime: int | None = None
        self.run_id = run_id
        self.worker_name = worker_name
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._stop_reason = ""
        self.finish_reason: str | None = None
        self._closing = threading.Event()
        self._wake = threading.Event()
        self._api_up = True
        self._epoch = 0
        self._total_steps = 0
        self._step = 0
        self._start_step = 0
        self._thread = threading.Thread(target=self._run, name=f"reporter-{run_id}", daemon=True)
        self._thread.start()

    # Callback hooks, called from the training thread.
    def on_train_start(self, info: TrainStart) -> None:
        self._total_steps = info.epochs * info.steps_per_epoch
        self._start_step = (info.start_epoch - 1) * info.steps_per_epoch
        self._step = self._start_step
        self._epoch = info.start_epoch - 1

    def on_points(self, points: list[Point]) -> None:
        with self._lock:
            self._pending.extend({"key": p.key, "step": p.step, "value": _finite(p.value)} for p in points)
            for p in points:
                if p.key == "loss":
                    self._step = max(self._step, p.step)

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        """Deliver the epoch's points before the loop writes its checkpoint: a run resumed from that checkpoint
        after a crash then has every point up to it. While the API is down, training does not wait."""
        self._epoch = epoch
        self._wake.set()
        deadline = time.monotonic() + EPOCH_DELIVERY_WAIT_S
        while self._api_up and self._pending and time.monotonic() < deadline:
            time.sleep(0.005)

    def on_artifact(self, name: str, data: bytes, media_type: str) -> None:
        self._call_with_retry(lambda: self.client.put_artifact(self.run_id, name, data))

    def should_stop(self) -> bool:
        return self._cancelled.is_set()

    def should_finish(self) -> bool:
        return self.finish_reason is not None

    @property
    def epoch(self) -> int:
        """The last epoch the loop finished."""
        return self._epoch

    @property
    def stop_reason(self) -> str | None:
        """Why training should stop: the run was cancelled, or another worker took it over."""
        return self._stop_reason if self._cancelled.is_set() else None

    def close(self) -> None:
        """Deliver every queued point, then stop the sender thread."""
        self._closing.set()
        self._wake.set()
        self._thread.join()

    def _progress(self) -> float:
        return min(1.0, self._step / self._total_steps) if self._total_steps else 0.0

    def _run(self) -> None:
        last_heartbeat = 0.0
        while True:
            closing = self._closing.is_set()
            self._flush()
            self._upload_checkpoint()
            now = time.monotonic()
            if now - last_heartbeat >= HEARTBEAT_EVERY_S and not closing:
                last_heartbeat = now
                self._heartbeat()
            if closing and not self._pending:
                return
            self._wake.wait(FLUSH_EVERY_S)
            self._wake.clear()

    def _flush(self) -> None:
        while True:
            with self._lock:
                batch = self._pending[:MAX_BATCH]
            if not batch:
                return
            reply = self._call_with_retry(lambda batch=batch: self.client.post_points(self.run_id, batch))
            with self._lock:
                del self._pending[: len(batch)]
            if reply and reply.get("status") == "cancelled":
                self._stop("cancelled")
            if reply and reply.get("stop_requested"):
                self.finish_reason = str(reply["stop_requested"])

    def _stop(self, reason: str) -> None:
        self._stop_reason = reason
        self._cancelled.set()

    def _heartbeat(self) -> None:
        try:
            run = self.client.report_status(
                self.run_id, worker=self.worker_name, epoch=self._epoch, progress=round(self._progress(), 4)
            )
        except Exception as exc:  # noqa: BLE001 - a missed heartbeat is retried next time
            logger.warning("heartbeat for run %s failed: %s", self.run_id, exc)
            return
        if run.get("stop_requested"):
            self.finish_reason = str(run["stop_requested"])
        if run.get("status") == "cancelled":
            self._stop("cancelled")
        elif run.get("worker") != self.worker_name:
            self._stop(f"taken over by {run.get('worker') or 'the queue'}")

    def _upload_checkpoint(self) -> None:
        """Send the latest epoch checkpoint to the API, so a run whose worker dies resumes on any machine."""
        if self.checkpoint is None or not self.checkpoint.exists():
            return
        mtime = self.checkpoint.stat().st_mtime_ns
        if mtime == self._checkpoint_mtime:
            return
        self._checkpoint_mtime = mtime
        data = self.checkpoint.read_bytes()
        self._call_with_retry(lambda: self.client.put_artifact(self.run_id, CHECKPOINT_ARTIFACT, data))

    def _call_with_retry(self, call: Any) -> Any:
        delay = 0.5
        while True:
            try:
                result = call()
                self._api_up = True
                return result
            except ApiError as exc:
                if exc.status_code < 500 and exc.status_code != 429:
                    logger.error("run %s: the API refused a request: %s", self.run_id, exc)
                    return None
                self._api_up = False
                logger.warning("run %s: API error %s; retrying", self.run_id, exc)
            except Exception as exc:  # noqa: BLE001 - network trouble: keep the data and retry
                self._api_up = False
                logger.warning("run %s: API unreachable (%s); retrying in %.1f s", self.run_id, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _finite(value: float) -> float | None:
    return value if value == value and value not in (float("inf"), float("-inf")) else None
