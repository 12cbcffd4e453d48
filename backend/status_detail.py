"""A run's status in words, e.g. why a queued run has not started: one text for the API's ``RunOut`` and for
the status events the run page reads live (so the browser keeps no copy of these rules)."""

from __future__ import annotations

from trainboard.queue import COMMAND_PREFIX, queue_gpus

NEEDS_COMMAND_WORKER = "needs a worker that runs commands: start one with `trainboard worker --code DIR`"


def status_in_words(
    *,
    status: str,
    queue: str,
    external: bool,
    worker: str | None,
    stop_requested: str | None,
    runs_ahead: int | None = None,
    queue_workers: int | None = None,
) -> str:
    """``runs_ahead`` and ``queue_workers`` (how many online workers take the run's queue) are known where the
    API reads the workers table; without them a queued run only says which worker it waits for."""
    if status == "queued":
        return queued_in_words(queue=queue, runs_ahead=runs_ahead, queue_workers=queue_workers)
    if status == "running" and stop_requested:
        return f"finishing early: {stop_requested}"
    if status == "succeeded" and stop_requested:
        return f"stopped early: {stop_requested}"
    if status == "running":
        return "tracked by your script" if external else f"running on {worker or 'a worker'}"
    return status


def queued_in_words(*, queue: str, runs_ahead: int | None, queue_workers: int | None) -> str:
    """E.g. "2 runs ahead · waiting for a GPU (cuda) worker", or how to start a worker when none takes the queue."""
    device = queue.removeprefix(COMMAND_PREFIX)
    gpus = queue_gpus(queue)
    if gpus and queue_workers == 0:
        ids = ",".join(str(index) for index in range(gpus))
        waiting = (
            f"needs a worker that runs commands on {gpus} GPUs: none online has that many; start one on a machine "
            f"with enough: `trainboard worker --code DIR --device cuda --gpus {ids}`"
        )
    elif gpus:
        waiting = f"waiting for {gpus} free GPUs on a worker that runs commands"
    elif queue_workers == 0 and queue.startswith(COMMAND_PREFIX):
        waiting = (
            NEEDS_COMMAND_WORKER
            if device == "any"
            else NEEDS_COMMAND_WORKER.replace("--code DIR", f"--code DIR --device {device}")
        )
    elif queue.startswith(COMMAND_PREFIX):
        waiting = "waiting for a worker that runs commands" + ("" if device == "any" else f" ({device})")
    elif queue_workers == 0:
        waiting = (
            "no worker is online: start one with `trainboard worker`"
            if queue == "any"
            else f"no online worker takes {queue} runs: start one with `trainboard worker --device {queue}`"
        )
    elif queue == "cuda":
        waiting = "waiting for a GPU (cuda) worker"
    else:
        waiting = "waiting for a worker" if queue == "any" else f"waiting for a {queue} worker"
    if not runs_ahead:
        return waiting
    return f"{runs_ahead} {'run' if runs_ahead == 1 else 'runs'} ahead · {waiting}"
