"""Streams a run's metrics, progress and artifacts to the API from a background thread.

Training never waits on the network: points go into a list in memory, and a sender thread posts them in batches.
When a post fails (the API is down or answers 5xx), the sender writes the points to the run's spool on local disk
(``worker/spool.py``) instead of holding them in memory, keeps spooling what arrives while the API stays away,
and probes it again with backoff (and with every heartbeat). Once it answers, the spool is delivered oldest first
and deleted, then points go straight to the API again. Posting is idempotent on (key, step), so a batch delivered
twice (the process died between the API's answer and deleting the segment) never duplicates a point. A reporter
resuming a run on the same machine delivers the spool its dead predecessor left before anything new.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainboard.client import ApiError, Client, format_detail
from trainboard.retry import RETRY
from trainboard.sender import GaveUp, call_with_retry
from worker.spool import Points, Spool, leftover_spools
from worker.training.callbacks import Callback, Point, TrainStart

logger = logging.getLogger(__name__)

FLUSH_EVERY_S = 0.5
HEARTBEAT_EVERY_S = 2.0
MAX_BATCH = 5_000
CHECKPOINT_ARTIFACT = "checkpoint_last.pt"
LEASE_LOST = 409  # the API's answer to a stale lease: stop, the run is another attempt's (or over)
EPOCH_DELIVERY_WAIT_S = 5.0
DRAIN_SLICE_S = 1.0  # deliver spooled segments for this long, then spool what arrived meanwhile


class ApiReporter(Callback):
    def __init__(
        self,
        client: Client,
        run_id: int,
        *,
        worker_name: str,
        spool_dir: Path,
        checkpoint: Path | None = None,
    ) -> None:
        self.client = client
        self.checkpoint = checkpoint
        self._checkpoint_mtime: int | None = None
        self.run_id = run_id
        self.worker_name = worker_name
        self._pending: Points = []
        self._in_flight = 0  # points the sender took from _pending and has neither delivered nor spooled yet
        self._lock = threading.Lock()
        self.spool = Spool(spool_dir)
        if not self.spool.lock():
            logger.warning("run %s: another live process holds the spool %s; sharing it", run_id, spool_dir)
        if not self.spool.empty:
            logger.info(
                "run %s: %d spooled segment(s) left from before; delivering them first", run_id, self.spool.segments
            )
        self._aborted = threading.Event()
        self._abort_reason = ""
        self._taken_over = False  # a 409: another attempt holds the run now
        self.finish_reason: str | None = None
        self._closing = threading.Event()
        self._wake = threading.Event()
        self._api_up = True
        self._retry_at = 0.0  # monotonic time before which the sender does not post (backoff after a failure)
        self._retry_delays = RETRY.backoff()
        self._epoch = 0
        self._total_steps = 0
        self._step = 0
        self._start_step = 0
        self.duplicates = 0  # points the API already had (a retried batch, a resumed attempt replaying history)
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
            full = len(self._pending) >= MAX_BATCH
        if full:
            self._wake.set()

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        """Before the loop writes its checkpoint, hand the epoch's points to the API, or to the spool while the
        API is down: a run resumed from that checkpoint after a crash (on this machine: with its spool) then has
        every point up to it. Spooling takes milliseconds; training never waits for the API to come back."""
        self._epoch = epoch
        self._wake.set()
        deadline = time.monotonic() + EPOCH_DELIVERY_WAIT_S
        while (self._pending or self._in_flight) and time.monotonic() < deadline:
            time.sleep(0.005)

    def on_artifact(self, name: str, data: bytes, media_type: str) -> None:
        self._call_with_retry(lambda: self.client.put_artifact(self.run_id, name, data))

    def should_abort(self) -> bool:
        return self._aborted.is_set()

    def should_finish(self) -> bool:
        return self.finish_reason is not None

    @property
    def epoch(self) -> int:
        """The last epoch the loop finished."""
        return self._epoch

    @property
    def abort_reason(self) -> str | None:
        """Why training is aborted: the run was cancelled, or another worker took it over."""
        return self._abort_reason if self._aborted.is_set() else None

    @property
    def api_up(self) -> bool:
        """False from a failed request until one succeeds."""
        return self._api_up

    def close(self) -> None:
        """Deliver every queued and spooled point (waiting for the API if it is down), then stop the sender
        thread and remove the run's empty spool."""
        self._closing.set()
        self._wake.set()
        self._thread.join()
        self.spool.close()
        logger.info("run %s: %d points sent were already stored", self.run_id, self.duplicates)

    def _progress(self) -> float:
        return min(1.0, self._step / self._total_steps) if self._total_steps else 0.0

    # The sender thread.
    def _run(self) -> None:
        last_heartbeat = 0.0
        while True:
            closing = self._closing.is_set()
            try:
                self._deliver()
                if self.spool.empty and self._may_post():
                    self._upload_checkpoint()
            except Exception:  # noqa: BLE001 - e.g. a full disk: keep the points in memory and try again
                logger.exception("run %s: the sender failed; retrying", self.run_id)
                self._backoff()
            now = time.monotonic()
            if now - last_heartbeat >= HEARTBEAT_EVERY_S and not closing:
                last_heartbeat = now
                self._heartbeat()
            if closing and not self._pending and not self._in_flight and self.spool.empty:
                return
            self._wake.wait(FLUSH_EVERY_S)
            self._wake.clear()

    def _deliver(self) -> None:
        """Post what is queued, or spool it while the API is down or older points wait in the spool; then
        deliver spooled segments, oldest first."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._in_flight = len(batch)
        try:
            if batch and self.spool.empty and self._may_post():
                batch = self._post_in_order(batch)
            if batch:
                self.spool.append(batch)
        except BaseException:
            with self._lock:  # not spooled (the disk failed): back to the front of the queue
                self._pending[:0] = batch
            raise
        finally:
            self._in_flight = 0
        started = time.monotonic()
        while not self.spool.empty and self._may_post():
            if time.monotonic() - started > DRAIN_SLICE_S:
                self._wake.set()  # spool what arrived meanwhile, then go on
                return
            oldest = self.spool.oldest()
            if oldest is None:
                return
            segment, points = oldest
            if not self._post(points):
                return
            self.spool.remove(segment)
            if self.spool.empty:
                logger.info("run %s: the spool is delivered", self.run_id)

    def _post_in_order(self, batch: Points) -> Points:
        """Post ``batch`` in chunks; returns what could not be delivered (empty when all was)."""
        for start in range(0, len(batch), MAX_BATCH):
            if not self._post(batch[start : start + MAX_BATCH]):
                return batch[start:]
        return []

    def _post(self, points: Points) -> bool:
        """One try. True when the API took the points (or refused them for good: they are dropped, logged)."""
        if self._taken_over:
            return True  # the run is another attempt's now: nothing of this one is wanted
        try:
            reply = self.client.post_points(self.run_id, points)
        except ApiError as exc:
            if exc.status_code == LEASE_LOST:
                self._lose_lease(exc)
                return True
            if exc.refused:
                logger.error("run %s: the API refused %d points: %s", self.run_id, len(points), exc)
                self._reachable()
                return True
            self._unreachable(exc)
            return False
        except Exception as exc:  # noqa: BLE001 - network trouble: the points go to the spool
            self._unreachable(exc)
            return False
        self._reachable()
        self.duplicates += int(reply.get("duplicates", 0))
        self._on_reply(reply)
        return True

    def _on_reply(self, reply: dict[str, Any]) -> None:
        """What every reply about the run may say: cancelled (abort now), or finish after this epoch."""
        if reply.get("status") == "cancelled":
            self._abort("cancelled")
        if reply.get("stop_requested"):
            self.finish_reason = str(reply["stop_requested"])

    def _may_post(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _unreachable(self, exc: Exception) -> None:
        if self._api_up:
            logger.warning(
                "run %s: API unreachable (%s); spooling points to %s", self.run_id, exc, self.spool.directory
            )
        else:
            logger.info(
                "run %s: API still unreachable (%s); retrying in %.1f s", self.run_id, exc, self._retry_delays.delay
            )
        self._api_up = False
        self._backoff()

    def _backoff(self) -> None:
        self._retry_at = time.monotonic() + self._retry_delays.next()

    def _reachable(self) -> None:
        if not self._api_up:
            logger.info("run %s: the API is back; %d spooled segment(s) to deliver", self.run_id, self.spool.segments)
        self._api_up = True
        self._retry_at = 0.0
        self._retry_delays.reset()

    def _abort(self, reason: str) -> None:
        self._abort_reason = reason
        self._aborted.set()

    def _lose_lease(self, exc: ApiError) -> None:
        """409: this attempt's lease is stale (the run was re-queued and claimed again, or ended): stop training,
        and drop what this attempt still has to send."""
        if not self._taken_over:
            logger.warning("run %s: taken over, stopping: %s", self.run_id, exc)
        self._taken_over = True
        self._abort(f"taken over: {format_detail(exc.detail)}")

    def _heartbeat(self) -> None:
        if self._taken_over:
            return
        try:
            run = self.client.report_status(self.run_id, epoch=self._epoch, progress=round(self._progress(), 4))
        except ApiError as exc:
            if exc.status_code == LEASE_LOST:
                self._lose_lease(exc)
                return
            logger.warning("heartbeat for run %s failed: %s", self.run_id, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a missed heartbeat is retried next time
            logger.warning("heartbeat for run %s failed: %s", self.run_id, exc)
            return
        self._reachable()  # the API is back: deliver the spool now rather than at the end of the backoff
        self._on_reply(run)

    def _upload_checkpoint(self) -> None:
        """Send the latest epoch checkpoint to the API, so a run whose worker dies resumes on any machine.
        Called only with the spool empty: a checkpoint the API has never runs ahead of the points it has."""
        if self.checkpoint is None or not self.checkpoint.exists():
            return
        mtime = self.checkpoint.stat().st_mtime_ns
        if mtime == self._checkpoint_mtime:
            return
        try:
            # streamed from disk: a checkpoint may be gigabytes (the loop replaces the file atomically, so the
            # open file stays one whole checkpoint even if the next epoch's lands meanwhile)
            self.client.put_artifact_file(self.run_id, CHECKPOINT_ARTIFACT, self.checkpoint)
        except ApiError as exc:
            if exc.status_code == 413:
                # over the API's artifact limit: skipped, not retried (the API left a warning on the run's page)
                logger.warning("run %s: checkpoint not uploaded, over the API's limit: %s", self.run_id, exc)
                self._checkpoint_mtime = mtime
                self._reachable()
                return
            if exc.refused:
                logger.error("run %s: the API refused the checkpoint: %s", self.run_id, exc)
                self._checkpoint_mtime = mtime
                return
            self._unreachable(exc)
            return
        except Exception as exc:  # noqa: BLE001 - tried again after the backoff
            self._unreachable(exc)
            return
        self._checkpoint_mtime = mtime
        self._reachable()

    def _call_with_retry(self, call: Callable[[], Any]) -> Any:
        """``call()`` retried with backoff until it succeeds, is refused, or the run is taken over (None then)."""
        if self._taken_over:
            return None
        try:
            return call_with_retry(
                call,
                what=f"run {self.run_id}",
                on_refused=self._refused,
                give_up=lambda: self._taken_over,
                log=logger,
            )
        except GaveUp:
            return None

    def _refused(self, exc: ApiError) -> None:
        if exc.status_code == LEASE_LOST:
            self._lose_lease(exc)
        else:
            logger.error("run %s: the API refused a request: %s", self.run_id, exc)


def deliver_leftover_spools(client: Client, root: Path, *, skip: int | None = None) -> int:
    """Deliver the spools under ``root`` that no live process owns (a worker died while the API was down, and
    its run went elsewhere or ended). Stops at the first network failure: the rest waits for the next call.
    Returns how many points the API took."""
    delivered = 0
    spools = leftover_spools(root, skip=skip)
    try:
        for run_id, spool in spools:
            while (oldest := spool.oldest()) is not None:
                segment, points = oldest
                try:
                    client.post_points(run_id, points)
                except ApiError as exc:
                    if not exc.refused:
                        logger.warning("leftover spool of run %s: API error %s; kept for later", run_id, exc)
                        return delivered
                    logger.error("leftover spool of run %s: the API refused %d points: %s", run_id, len(points), exc)
                except Exception as exc:  # noqa: BLE001 - the API is away: try again before the next run
                    logger.warning("leftover spool of run %s: API unreachable (%s); kept for later", run_id, exc)
                    return delivered
                else:
                    delivered += len(points)
                spool.remove(segment)
            logger.info("leftover spool of run %s delivered", run_id)
    finally:
        for _, spool in spools:
            spool.close()
    return delivered


def _finite(value: float) -> float | None:
    return value if value == value and value not in (float("inf"), float("-inf")) else None
