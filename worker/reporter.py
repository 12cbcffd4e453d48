"""Streams a run's metrics, progress and artifacts to the API from a background thread.

Training never waits on the network: ``on_points`` appends the numbers to the outbox of a
``trainboard.sender.PointSender`` (the tracking client's sender too), and this reporter's thread pumps it: batches
go to the API, and when a post fails (the API is down or answers 5xx) they go to the run's spool on local disk
(``worker/spool.py``, the sender's overflow store) instead of staying in memory. What arrives while the spool
holds anything queues behind it; the API is probed again with the policy's backoff (and with every heartbeat),
and once it answers the spool is delivered oldest first and deleted, then points go straight to the API again.
Posting is idempotent on (key, step), so a batch delivered twice (the process died between the API's answer and
deleting the segment) never duplicates a point. A reporter resuming a run on the same machine delivers the spool
its dead predecessor left before anything new.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainboard import lifecycle
from trainboard.client import ApiError, Client, format_detail
from trainboard.sender import MAX_BATCH_POINTS, GaveUp, PointSender, call_with_retry
from trainboard.system_metrics import SystemMonitor, SystemSampler
from worker.spool import Spool, leftover_spools
from worker.training.callbacks import Callback, Point, TrainStart

logger = logging.getLogger(__name__)

FLUSH_EVERY_S = 0.5
HEARTBEAT_EVERY_S = 2.0
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
        system_metrics_every_s: float | None = None,
        system_step_offset: int = 0,
    ) -> None:
        self.client = client
        self.checkpoint = checkpoint
        self._checkpoint_mtime: int | None = None
        self.run_id = run_id
        self.worker_name = worker_name
        self.spool = Spool(spool_dir)
        if not self.spool.lock():
            logger.warning("run %s: another live process holds the spool %s; sharing it", run_id, spool_dir)
        if not self.spool.empty:
            logger.info(
                "run %s: %d spooled segment(s) left from before; delivering them first", run_id, self.spool.segments
            )
        self.sender = PointSender(
            functools.partial(client.post_encoded_points, run_id),
            what=f"run {run_id}",
            on_reply=self._on_reply,
            on_refused=self._points_refused,
            overflow=self.spool,
            log=logger,
        )
        self._aborted = threading.Event()
        self._abort_reason = ""
        self._taken_over = False  # a 409: another attempt holds the run now
        self.finish_reason: str | None = None
        self._closing = threading.Event()
        self._hurry = threading.Event()  # close() without waiting for the API: spool what is left and stop
        self._wake = threading.Event()
        # Until on_train_start says where the run starts, heartbeats leave the run's epoch and progress alone: a
        # resumed run keeps what the API has rather than falling back to 0 while the checkpoint loads.
        self._started = False
        self._epoch = 0
        self._summary: dict[str, Any] | None = None  # the loop's summary so far; sent with the next heartbeat
        self._summary_sent: dict[str, Any] | None = None
        self._total_steps = 0
        self._step = 0
        self._thread = threading.Thread(target=self._run, name=f"reporter-{run_id}", daemon=True)
        self._thread.start()
        # system/ metrics of this machine while it trains the run; their step is seconds since the run was created
        # (``system_step_offset`` at the start), so a resumed attempt's samples follow the dead one's.
        self._system_step_offset = system_step_offset
        self._monitor: SystemMonitor | None = None
        if system_metrics_every_s is not None:
            self._sampler = SystemSampler()
            self._monitor = SystemMonitor(self._sampler, self._emit_system, every_s=system_metrics_every_s).start()

    # Callback hooks, called from the training thread.
    def on_train_start(self, info: TrainStart) -> None:
        self._total_steps = info.epochs * info.steps_per_epoch
        self._step = (info.start_epoch - 1) * info.steps_per_epoch
        self._epoch = info.start_epoch - 1
        self._started = True

    def on_points(self, points: list[Point]) -> None:
        buffered = self.sender.outbox.extend(points)
        last_loss_step = max((p.step for p in points if p.key == "loss"), default=0)
        if last_loss_step > self._step:
            self._step = last_loss_step
        if buffered >= MAX_BATCH_POINTS:
            self._wake.set()

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        """Before the loop writes its checkpoint, hand the epoch's points to the API, or to the spool while the
        API is down: a run resumed from that checkpoint after a crash (on this machine: with its spool) then has
        every point up to it. Spooling takes milliseconds; training never waits for the API to come back."""
        self._epoch = epoch
        self._wake.set()
        deadline = time.monotonic() + EPOCH_DELIVERY_WAIT_S
        while self.sender.pending and time.monotonic() < deadline:
            time.sleep(0.005)

    def on_summary(self, summary: dict[str, Any]) -> None:
        """The run's summary so far goes with the next heartbeat, sent at once: the page and the runs table show
        the best epoch while the run trains, and a cancelled or failed run keeps it."""
        self._summary = dict(summary)
        self._wake.set()

    def on_artifact(self, name: str, data: bytes, media_type: str) -> None:
        self._call_with_retry(lambda: self.client.put_artifact(self.run_id, name, data))

    def should_abort(self) -> bool:
        return self._aborted.is_set() or lifecycle.WORKER_STOPPING.is_set()

    def should_finish(self) -> bool:
        return self.finish_reason is not None

    @property
    def epoch(self) -> int:
        """The last epoch the loop finished."""
        return self._epoch

    def how_far(self) -> dict[str, Any]:
        """How far training got, for a final report: the last epoch finished, the progress bar (the last step of
        a per-iteration point over all steps) and the summary so far."""
        return {"epoch": self._epoch, "progress": round(self._progress(), 4), "summary": self._summary}

    @property
    def summary(self) -> dict[str, Any] | None:
        """The last summary the loop handed over (after its last finished epoch), or None before the first."""
        return self._summary

    @property
    def abort_reason(self) -> str | None:
        """Why training is aborted: the run was cancelled, another worker took it over, or this one is stopping."""
        if self._aborted.is_set():
            return self._abort_reason
        return "the worker is stopping" if lifecycle.WORKER_STOPPING.is_set() else None

    @property
    def api_up(self) -> bool:
        """False from a failed request until one succeeds."""
        return self.sender.api_up

    @property
    def duplicates(self) -> int:
        """Points the API already had (a retried batch, a resumed attempt replaying history)."""
        return self.sender.duplicates

    def close(self, *, wait_for_api: bool = True) -> None:
        """Deliver every queued and spooled point (waiting for the API if it is down), then stop the sender
        thread and remove the run's empty spool. Without ``wait_for_api`` (the worker is stopping), what is not
        delivered yet goes to the spool, for the run's next attempt on this machine or any worker here."""
        if not wait_for_api:
            self._hurry.set()
        if self._monitor is not None:
            self._monitor.stop()
            self._sampler.close()
            self._monitor = None
        self._closing.set()
        self._wake.set()
        self._thread.join()
        self.spool.close()
        logger.info("run %s: %d points sent were already stored", self.run_id, self.duplicates)

    def _emit_system(self, points: dict[str, float], step: int) -> None:
        """The system monitor's samples, from its thread (the outbox takes its lock)."""
        at = self._system_step_offset + step
        self.sender.outbox.extend((key, at, value) for key, value in points.items())

    def _progress(self) -> float:
        return min(1.0, self._step / self._total_steps) if self._total_steps else 0.0

    # The sender thread.
    def _run(self) -> None:
        last_heartbeat = 0.0
        while True:
            closing = self._closing.is_set()
            try:
                if not self.sender.pump(drain_slice_s=DRAIN_SLICE_S):
                    self._wake.set()  # spool what arrived meanwhile, then go on delivering
                if self.spool.empty and self.sender.may_post():
                    self._upload_checkpoint()
            except Exception:  # noqa: BLE001 - e.g. a full disk: keep the points in memory and try again
                logger.exception("run %s: the sender failed; retrying", self.run_id)
                self.sender.back_off()
            now = time.monotonic()
            summary_due = self._summary is not self._summary_sent
            if (now - last_heartbeat >= HEARTBEAT_EVERY_S or summary_due) and not closing:
                last_heartbeat = now
                self._heartbeat()
            if closing and (self.sender.done or self._hurry.is_set()):
                if not self.sender.done:
                    self.sender.spool_all()
                return
            self._wake.wait(FLUSH_EVERY_S)
            self._wake.clear()

    def _on_reply(self, reply: dict[str, Any]) -> None:
        """What every reply about the run may say: cancelled (abort now), or finish after this epoch."""
        if reply.get("status") == "cancelled":
            self._abort("cancelled")
        if reply.get("stop_requested"):
            self.finish_reason = str(reply["stop_requested"])

    def _points_refused(self, exc: ApiError) -> None:
        """The sender dropped a refused batch (and logged it); a stale lease also ends this attempt."""
        if exc.status_code == LEASE_LOST:
            self._lose_lease(exc)

    def _abort(self, reason: str) -> None:
        self._abort_reason = reason
        self._aborted.set()

    def _lose_lease(self, exc: ApiError) -> None:
        """409: this attempt's lease is stale (the run was re-queued and claimed again, or ended): stop training,
        and drop what this attempt still has to send."""
        if not self._taken_over:
            logger.warning("run %s: taken over, stopping: %s", self.run_id, exc)
        self._taken_over = True
        self.sender.discard()
        self._abort(f"taken over: {format_detail(exc.detail)}")

    def _heartbeat(self) -> None:
        if self._taken_over:
            return
        fields: dict[str, Any] = {"epoch": self._epoch, "progress": round(self._progress(), 4)} if self._started else {}
        summary = self._summary
        if summary is not self._summary_sent:
            fields["summary"] = summary
        try:
            run = self.client.report_status(self.run_id, **fields)
        except ApiError as exc:
            if exc.status_code == LEASE_LOST:
                self._lose_lease(exc)
                return
            logger.warning("heartbeat for run %s failed: %s", self.run_id, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a missed heartbeat is retried next time
            logger.warning("heartbeat for run %s failed: %s", self.run_id, exc)
            return
        self._summary_sent = summary
        self.sender.reachable()  # the API is back: deliver the spool now rather than at the end of the backoff
        self._on_reply(run)

    def _upload_checkpoint(self) -> None:
        """Send the latest epoch checkpoint to the API, so a run whose worker dies resumes on any machine.
        Called only with the spool empty: a checkpoint the API has never runs ahead of the points it has."""
        if self.checkpoint is None or not self.checkpoint.exists() or self._taken_over:
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
                self.sender.reachable()
                return
            if exc.refused:
                logger.error("run %s: the API refused the checkpoint: %s", self.run_id, exc)
                self._checkpoint_mtime = mtime
                return
            self.sender.unreachable(exc)
            return
        except Exception as exc:  # noqa: BLE001 - tried again after the backoff
            self.sender.unreachable(exc)
            return
        self._checkpoint_mtime = mtime
        self.sender.reachable()

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
    its run went elsewhere or ended), through the same sender as a live run's. Stops at the first network
    failure: the rest waits for the next call. Returns how many points the API took."""
    delivered = 0
    spools = leftover_spools(root, skip=skip)
    try:
        for run_id, spool in spools:
            sender = PointSender(
                functools.partial(client.post_encoded_points, run_id),
                what=f"leftover spool of run {run_id}",
                overflow=spool,
                log=logger,
            )
            sender.pump()
            delivered += sender.sent
            if not spool.empty:
                logger.warning("leftover spool of run %s: kept for later", run_id)
                return delivered
            logger.info("leftover spool of run %s delivered", run_id)
    finally:
        for _, spool in spools:
            spool.close()
    return delivered
