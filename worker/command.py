"""A command run on this worker (``trainboard worker --code DIR``): the user's own command, its placeholders filled
from the config it was launched with, run in DIR with no shell, managed like a run.

The process gets the worker's environment without its secrets (token, tokens file, broker and database URLs),
plus ``TRAINBOARD_RUN_ID``, ``TRAINBOARD_API_URL``, ``TRAINBOARD_LEASE`` (the attempt's lease: the only credential
it needs, see ``backend/auth.py``), ``TRAINBOARD_ATTEMPT``, ``CUDA_VISIBLE_DEVICES`` (empty for a run without GPUs,
else the GPUs it holds: ``worker/gpus.py``) and ``PYTHONUNBUFFERED=1``. Its stdout and stderr go, line by line, to the
worker's own output and to the run's log; ``TRAINBOARD_CAPTURE_OUTPUT=0`` tells a ``trainboard.init()`` inside not
to capture them too (the worker does, so every line is in the log once).

While it runs the worker heartbeats the run every 2 s. A reply saying ``cancelled`` sends SIGTERM to the process
group and SIGKILL ``TRAINBOARD_CANCEL_GRACE_S`` later. Exit 0 ends the run ``succeeded`` unless the script already
finished it; any other exit ends it ``failed`` with the last lines of stderr. A worker that dies takes the process
with it; the reaper re-queues the run, and the next attempt (``TRAINBOARD_ATTEMPT`` + 1) can ``run.restore()``
what the script saved.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainboard import lifecycle
from trainboard.client import ApiError, Client
from trainboard.command import CommandError, fill
from trainboard.lifecycle import PARENT_ENV
from trainboard.settings import Settings
from worker.command_process import CommandProcess
from worker.outcome import report_outcome
from worker.run_log import RunLogging

logger = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
SECRET_ENV = frozenset({"TRAINBOARD_TOKEN", "TRAINBOARD_TOKENS_FILE", "REDIS_URL", "DATABASE_URL", PARENT_ENV})
SECRET_ENV |= {"TRAINBOARD_REDIS_URL", "TRAINBOARD_DATABASE_URL"}


def run_command(client: Client, run: Mapping[str, Any], *, settings: Settings, code_dir: Path, gpus: str = "") -> str:
    """Run the claimed command run ``run`` (``client`` holds its lease) to its end, its process seeing the GPUs
    ``gpus`` (a ``CUDA_VISIBLE_DEVICES`` value: those the run holds, see ``worker/gpus.py``); returns its status."""
    run_id = int(run["id"])
    try:
        launched = run["spec"].get("config") if isinstance(run["spec"].get("config"), dict) else run["config"]
        argv = fill(run["command"], launched)
    except CommandError as exc:
        return report_outcome(client, run_id, status="failed", error=str(exc))
    env = child_env(
        os.environ,
        run_id=run_id,
        api_url=settings.resolved_api_url,
        lease=str(run["lease"]),
        attempt=int(run["attempts"]),
        gpus=gpus,
    )
    # Other runs may go on in this worker meanwhile (one per GPU): only this thread's records are about this run.
    log = RunLogging(client, run_id, first_line=_log_end(client, run_id), this_thread_only=True)

    def tee(stream: str, line: str) -> None:
        print(f"[run {run_id}] {line}", file=sys.stderr if stream == "stderr" else sys.stdout, flush=True)
        log.sender.add_lines([line])

    try:
        logger.info("run %s, attempt %s: running %s in %s", run_id, run["attempts"], argv, code_dir)
        try:
            process = CommandProcess(argv, cwd=code_dir, env=env, on_line=tee)
        except OSError as exc:
            logger.error("run %s: cannot start %r: %s", run_id, argv[0], exc)
            return report_outcome(client, run_id, status="failed", error=f"cannot start {argv[0]!r}: {exc}")
        how, code = _supervise(client, run_id, process, grace_s=settings.cancel_grace_s)
    finally:
        log.close()  # every line is in the log before the final status
    if how != "exited":
        return how
    if code == 0:
        return report_outcome(client, run_id, status="succeeded")
    return report_outcome(client, run_id, status="failed", error=exit_error(code, list(process.stderr_tail)))


def _supervise(client: Client, run_id: int, process: CommandProcess, *, grace_s: float) -> tuple[str, int]:
    """Wait for the process, heartbeating the run: ("exited", code), ("cancelled", code) or ("preempted", code)."""
    try:
        while True:
            code = process.wait(HEARTBEAT_S)
            if code is not None:
                logger.info("run %s: the command exited with code %s", run_id, code)
                return "exited", code
            if lifecycle.WORKER_STOPPING.is_set():  # the run stays running: the reaper re-queues it
                logger.warning("run %s: this worker is stopping: stopping its command", run_id)
                return "preempted", process.stop(grace_s)
            try:
                reply = client.report_status(run_id)
            except ApiError as exc:
                if exc.status_code != 409:
                    logger.warning("run %s: heartbeat refused: %s", run_id, exc)
                    continue
                logger.warning("run %s was taken over (%s): stopping its command", run_id, exc)
                return "preempted", process.stop(grace_s)
            except Exception as exc:  # noqa: BLE001 - the API away: the command goes on, the next beat retries
                logger.info("run %s: heartbeat failed: %s", run_id, exc)
                continue
            if reply.get("status") == "cancelled":
                logger.warning("run %s cancelled: SIGTERM to its process group, SIGKILL after %g s", run_id, grace_s)
                return "cancelled", process.stop(grace_s)
    finally:
        if process.poll() is None:  # the worker is stopping: the run stays running and the reaper re-queues it
            process.stop(grace_s)


def exit_error(code: int, stderr_tail: list[str]) -> str:
    """The error of a failed command: how it ended, and the last lines of its stderr."""
    how = f"the command was killed by signal {-code}" if code < 0 else f"the command exited with code {code}"
    if not stderr_tail:
        return f"{how} (nothing on stderr)"
    return f"{how}; the last lines of its stderr:\n" + "\n".join(stderr_tail)


def child_env(
    base: Mapping[str, str], *, run_id: int, api_url: str, lease: str, attempt: int, gpus: str
) -> dict[str, str]:
    """The command's environment: the worker's without its secrets, and what the run's script needs."""
    env = {key: value for key, value in base.items() if key not in SECRET_ENV}
    env.update(
        TRAINBOARD_RUN_ID=str(run_id),
        TRAINBOARD_API_URL=api_url,
        TRAINBOARD_LEASE=lease,
        TRAINBOARD_ATTEMPT=str(attempt),
        TRAINBOARD_CAPTURE_OUTPUT="0",
        CUDA_VISIBLE_DEVICES=gpus,
        PYTHONUNBUFFERED="1",
    )
    return env


def _log_end(client: Client, run_id: int) -> int:
    """Where this attempt's lines go on in the run's log (after an earlier attempt's)."""
    try:
        return int(client.request("GET", f"/runs/{run_id}/logs", params={"offset": -1})["total"])
    except (ApiError, KeyError, TypeError, ValueError):
        return 0
