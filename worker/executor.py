"""What a worker does with one run id: re-fetch it, claim it while queued, train it, report the outcome."""

from __future__ import annotations

import logging
import traceback
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trainboard import lifecycle
from trainboard.client import ApiError, Client
from trainboard.settings import Settings
from trainboard.spec import RunSpec
from trainboard.system_metrics import enabled_by_env
from worker import gpus
from worker.outcome import report_outcome
from worker.reporter import CHECKPOINT_ARTIFACT, ApiReporter, deliver_leftover_spools
from worker.run_log import RunLogging

logger = logging.getLogger(__name__)


def execute_run(run_id: int, *, settings: Settings, worker_name: str) -> str:
    """Train run ``run_id`` through the API; returns the status it ended with. Never raises for a bad run."""
    token = settings.token.get_secret_value() if settings.token else None
    with Client(settings.resolved_api_url, token or "") as client:
        run = client.get_run(run_id)
        if run["status"] != "queued":
            logger.info("run %s is %s: nothing to do", run_id, run["status"])
            return str(run["status"])
        command = run.get("command") is not None
        if command and settings.code_dir is None:
            logger.error("run %s is a command run: only a worker started with --code DIR takes it", run_id)
            return "skipped"
        pool = gpus.pool()
        count = gpus_wanted(run, has_gpus=bool(pool.ids))
        if count > len(pool.ids):
            return _refuse(
                client,
                run_id,
                worker_name,
                f"it asks for {count} GPU(s); worker {worker_name} has "
                f"{len(pool.ids)} ({', '.join(pool.ids) or 'none'})",
            )
        with pool.hold(count, run_id=run_id) as held, nullcontext() if command else pool.builtin_turn():
            resume = run["attempts"] > 0
            try:
                run = client.claim(run_id, worker_name, gpus=held)
            except ApiError as exc:
                if exc.status_code != 409:
                    raise
                logger.info("run %s was taken: %s", run_id, exc)
                return "skipped"
            if command and settings.code_dir is not None:
                from worker.command import run_command

                client.lease = run["lease"]
                return run_command(client, run, settings=settings, code_dir=settings.code_dir, gpus=pool.visible(held))
            if held:
                import torch

                torch.cuda.set_device(int(held[0]))  # this thread's "cuda" is the GPU it holds
            return _train_builtin(client, run, settings=settings, worker_name=worker_name, resume=resume)


def gpus_wanted(run: dict[str, Any], *, has_gpus: bool) -> int:
    """How many of this worker's GPUs ``run`` holds: a command run its ``gpus``; a built-in run on CUDA one."""
    if run.get("command") is not None:
        return int(run.get("gpus") or 0)
    device = run["spec"].get("device", "auto")
    return 1 if device == "cuda" or (device == "auto" and has_gpus) else 0


def _refuse(client: Client, run_id: int, worker_name: str, why: str) -> str:
    """End a run this worker can never run (it would wait here forever): claimed, then failed, saying why."""
    try:
        run = client.claim(run_id, worker_name)
    except ApiError as exc:
        if exc.status_code != 409:
            raise
        return "skipped"
    client.lease = run["lease"]
    logger.error("run %s: %s", run_id, why)
    return report_outcome(client, run_id, status="failed", error=f"this worker cannot run it: {why}")


def _train_builtin(client: Client, run: dict[str, Any], *, settings: Settings, worker_name: str, resume: bool) -> str:
    """Train the claimed built-in run ``run`` (``client`` holds its lease) and report how it ended."""
    from worker.training import checkpoint
    from worker.training.errors import Aborted
    from worker.training.run import train

    run_id = int(run["id"])
    run_dir = settings.home / "runs" / str(run_id)
    if resume:
        _fetch_checkpoint(client, run_id, checkpoint.last_path(run_dir))
    # Points a dead worker on this machine spooled while the API was down: this run's go first, by its reporter.
    # Those of other runs went with their attempt's lease (a resumed attempt regenerates them from its
    # checkpoint): the API refuses them and they are dropped.
    deliver_leftover_spools(client, settings.spool_dir, skip=run_id)
    client.lease = run["lease"]  # every write of this attempt, from here and from the reporter's thread
    reporter = ApiReporter(
        client,
        run_id,
        worker_name=worker_name,
        spool_dir=settings.spool_dir / str(run_id),
        checkpoint=checkpoint.last_path(run_dir),
        system_metrics_every_s=settings.system_metrics_every_s if enabled_by_env() else None,
        system_step_offset=_seconds_since(run.get("created_at")),
    )
    log = RunLogging(client, run_id)  # what is logged meanwhile goes to the run's log too
    try:
        spec = RunSpec.model_validate(run["spec"])
        summary = train(
            spec,
            data_dir=settings.resolved_data_dir,
            cache_dir=settings.home / "cache",
            run_dir=run_dir,
            callback=reporter,
            resume=resume,
        )
    except Aborted:
        reporter.close(wait_for_api=not lifecycle.WORKER_STOPPING.is_set())
        logger.info("run %s stopped: %s", run_id, reporter.abort_reason)
        if reporter.abort_reason != "cancelled":
            return "preempted"
        # The cancel may have landed after an epoch the heartbeats have not told yet: say how far it got.
        return report_outcome(client, run_id, status="cancelled", **reporter.how_far())
    except Exception as exc:  # noqa: BLE001 - any failure of the run ends it failed; the worker lives on
        reporter.close()
        logger.error("run %s failed:\n%s", run_id, traceback.format_exc())
        return report_outcome(
            client,
            run_id,
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            **reporter.how_far(),
        )
    finally:
        log.close()
    reporter.close()
    result = {**summary.to_dict(), "stop_reason": reporter.finish_reason}
    return report_outcome(client, run_id, status="succeeded", summary=result, epoch=reporter.epoch)


def _seconds_since(created_at: str | None) -> int:
    """Whole seconds from the run's creation to now: where this attempt's system/ metrics steps start."""
    if not created_at:
        return 0
    created = datetime.fromisoformat(created_at)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return max(0, int((datetime.now(UTC) - created).total_seconds()))


def _fetch_checkpoint(client: Client, run_id: int, path: Path) -> None:
    """Bring the run's last checkpoint here unless this machine already has it (the dead worker's own disk)."""
    if path.exists():
        return
    try:
        data = client.request("GET", f"/runs/{run_id}/artifacts/{CHECKPOINT_ARTIFACT}")
    except ApiError as exc:
        logger.info("run %s has no checkpoint to resume from (%s): starting over", run_id, exc)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
