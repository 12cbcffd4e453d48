"""``trainboard.init()``: track your own training script in a few lines, and the run it returns (:class:`ScriptRun`).

    import trainboard
    run = trainboard.init(name="cnn lr sweep", config=vars(args), tags=["mine"])   # API URL and token from the env
    run.log({"train/loss": loss.item(), "lr": scheduler.get_last_lr()[0]}, step=it)  # step optional: counts up
    run.summary["best_acc"] = acc
    run.log_image("samples", batch[:16], step=epoch, caption="inputs")   # tensor, numpy array, PIL image or path
    run.save("model.pt")                                                  # any file, as an artifact
    if run.should_stop: break          # the sweep rule or the Cancel button asked this run to stop
    run.finish()                        # or `with trainboard.init(...) as run:`; an exception ends it failed

Built on :class:`trainboard.tracking.TrackedRun` (its outbox, sender thread and heartbeats): ``log`` returns in
about a microsecond and never waits on the API; images and files wait in an :class:`~trainboard.uploads.UploadQueue`
that the same thread delivers. ``init`` also samples ``system/`` metrics every 10 s (``system_metrics=False`` or
``TRAINBOARD_SYSTEM_METRICS=0`` turns that off). With ``TRAINBOARD_RUN_ID`` set, ``init`` attaches to that run
(with the lease in ``TRAINBOARD_LEASE``, or by claiming it) instead of creating one.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from trainboard.client import ApiError, Client
from trainboard.media import ARTIFACT_NAME, INDEX_NAME, MediaIndex, artifact_name, checked_key, media_name, to_png
from trainboard.output_capture import OutputCapture
from trainboard.run_config import RunConfig, as_config
from trainboard.system_metrics import SystemMonitor, SystemSampler, enabled_by_env
from trainboard.tracking import FinalStatus, TrackedRun, TrackingError, outcome_of
from trainboard.uploads import UploadQueue

logger = logging.getLogger(__name__)

SYSTEM_METRICS_EVERY_S = 10.0
CAPTURE_CLOSE_TIMEOUT_S = 10.0  # for the script's last printed lines, before the final status
FINISH_TIMEOUT_S = 300.0
ENDED = frozenset({"succeeded", "failed", "cancelled"})
WORKER_ATTEMPT_ENV = "TRAINBOARD_ATTEMPT"  # set by the worker that runs a command run


def init(
    name: str | None = None,
    config: Mapping[str, Any] | argparse.Namespace | None = None,
    tags: Iterable[str] = (),
    api_url: str | None = None,
    token: str | None = None,
    *,
    system_metrics: bool = True,
    system_metrics_every_s: float = SYSTEM_METRICS_EVERY_S,
    capture_output: bool = True,
) -> ScriptRun:
    """Start tracking this script: a new run named ``name`` with ``config`` (any JSON-able mapping, an
    ``argparse.Namespace`` too: see :mod:`trainboard.run_config`) and ``tags``, on the API at ``api_url`` with
    ``token`` (default: ``TRAINBOARD_API_URL`` and ``TRAINBOARD_TOKEN``).

    With ``TRAINBOARD_RUN_ID`` set (a worker that runs your script sets it), the script attaches to that run
    instead: its config comes from the API (``config`` is merged over it and sent), ``name`` and ``tags`` are
    left as they are, and it writes with ``TRAINBOARD_LEASE`` when set, or claims the run otherwise.

    What the script prints (stdout and stderr) still shows where it did and also goes to the run's log, unless
    ``capture_output=False`` or ``TRAINBOARD_CAPTURE_OUTPUT=0``.
    """
    attaching = bool(os.environ.get("TRAINBOARD_RUN_ID"))
    client = Client(api_url, token)
    try:
        if attaching:
            run, lease = _attach(client, config)
            media = _media_index(client, int(run["id"]))
        else:
            run, lease = _create(client, name, config, tags)
            media = MediaIndex()
    except BaseException:
        client.close()
        raise
    every_s = system_metrics_every_s if system_metrics and enabled_by_env() else None
    capture = capture_output and os.environ.get("TRAINBOARD_CAPTURE_OUTPUT", "1").strip() not in {"0", ""}
    tracked = ScriptRun(client, run, lease=lease, media=media, system_metrics_every_s=every_s, capture_output=capture)
    # Run by a worker (a command run): the worker reports the outcome from the exit code, unless finish() did.
    tracked.outcome_by_worker = attaching and bool(os.environ.get(WORKER_ATTEMPT_ENV))
    if config is not None and attaching:
        for key, value in as_config(config).items():
            if tracked.config.get(key) != value:
                tracked.config[key] = value  # sent, as any change
    return tracked


class ScriptRun:
    """A run your script trains (from :func:`init`): ``log``, ``summary``, ``config``, ``log_image``, ``save``,
    ``restore``, ``should_stop``, ``finish``; a context manager. ``log`` may be called from several threads."""

    def __init__(
        self,
        client: Client,
        run: Mapping[str, Any],
        *,
        lease: str | None,
        media: MediaIndex | None = None,
        system_metrics_every_s: float | None = SYSTEM_METRICS_EVERY_S,
        capture_output: bool = False,
    ) -> None:
        self._client = client  # the caller's side (restore); the sender thread has its own, holding the lease
        self._lease = lease
        sender = client.with_lease(lease, timeout=min(client.http.timeout.read or 30.0, 30.0))
        self._tracked = tracked = TrackedRun(sender, run, finish_at_exit=False)
        self.id: int = tracked.id
        self.config: RunConfig = tracked.config
        self.summary: dict[str, Any] = tracked.summary
        self._log = tracked.log_dict
        self._step = 0  # the step of the next log() without one
        self._media = media or MediaIndex()
        self._uploads = UploadQueue(sender, self.id)
        tracked.chores.append(self._uploads.pump)
        self._monitor: SystemMonitor | None = None
        if system_metrics_every_s is not None:
            self._sampler = SystemSampler()
            self._monitor = SystemMonitor(self._sampler, self._emit_system, every_s=system_metrics_every_s).start()
        self.outcome_by_worker = False  # at exit, deliver everything but leave the final status to the worker
        self._capture: OutputCapture | None = None  # the script's prints, tee'd into the run's log
        if capture_output:
            self._capture = OutputCapture(client.with_lease(lease), self.id).start()
        atexit.register(self._at_exit)

    # --- what the training script calls ---------------------------------------------------------------------

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Queue each value of ``metrics`` (``{"train/loss": 0.3, "lr": 1e-3}``) at ``step`` and return at once.

        Without ``step``, the step after the previous call's (0 for the first). Values are anything ``float()``
        takes (numbers, numpy scalars, one-element tensors); None, NaN and infinities are stored as null. Keys:
        1 to 64 characters among letters, digits and ``_ . : / -`` (a ValueError names a bad one).
        """
        if step is None:
            step = self._step
        try:
            self._log(step, metrics)
        except AttributeError:
            if not isinstance(metrics, Mapping):
                raise TypeError(f"log() takes a mapping, e.g. run.log({{'loss': 0.5}}), not {type(metrics)}") from None
            raise
        self._step = step + 1

    @property
    def step(self) -> int:
        """The step the next ``log()`` without one uses."""
        return self._step

    def log_image(self, key: str, image: Any, step: int | None = None, caption: str | None = None) -> str:
        """Upload ``image`` (a torch tensor, numpy array, PIL image or file path; a batch becomes a grid) as the
        PNG shown under ``key`` at ``step`` (default: the step of the last ``log()``) on the run page; returns the
        artifact's name. Encoding happens here; the upload waits in the background like points do."""
        key = checked_key(key)
        if step is None:
            step = max(self._step - 1, 0)
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise TypeError(f"step must be an int >= 0, got {step!r}")
        if caption is not None and not isinstance(caption, str):
            raise TypeError(f"caption must be a string, got {type(caption).__name__}")
        self._check_open("log_image")
        name = media_name(key, step)
        self._uploads.put_bytes(name, to_png(image))
        self._uploads.put_bytes(INDEX_NAME, self._media.add(key, step, name, caption))
        self._tracked.wake()
        return name

    def save(self, path: str | os.PathLike[str], name: str | None = None) -> str:
        """Upload a copy of the file at ``path`` (taken now) as an artifact named ``name`` or the file's base name,
        made to fit artifact names (see :func:`trainboard.media.artifact_name`); returns the name. Saving the same
        name again replaces the file."""
        self._check_open("save")
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"save(): no file at {str(source)!r}")
        artifact = artifact_name(source, name)
        self._uploads.put_file(artifact, source)
        self._tracked.wake()
        return artifact

    def restore(self, name: str) -> Path:
        """Download the run's artifact ``name`` (a file ``save`` uploaded) into the working directory; returns its
        path. A file saved moments ago is uploaded first."""
        if not isinstance(name, str) or not ARTIFACT_NAME.fullmatch(name):
            raise ValueError(f"restore(): {name!r} is not an artifact name (letters, digits, . _ -; no folders)")
        if name in self._uploads.pending_names():
            self._uploads.wait(FINISH_TIMEOUT_S, self._tracked.wake)
        try:
            return self._client.download_artifact(self.id, name, Path.cwd() / name)
        except ApiError as exc:
            if exc.status_code == 404:
                raise FileNotFoundError(f"run {self.id} has no file {name!r}") from None
            raise

    @property
    def should_stop(self) -> bool:
        """True once the run was cancelled (the dashboard's Cancel), a sweep's early termination asked it to
        finish, or the API ended it otherwise: leave the training loop and ``finish()``."""
        tracked = self._tracked
        return tracked.status in ENDED or tracked.stop_requested is not None or tracked.refused

    @property
    def status(self) -> str:
        return self._tracked.status

    @property
    def stop_reason(self) -> str | None:
        """Why a sweep's early termination stopped the run, or None."""
        return self._tracked.stop_requested

    def finish(
        self, status: FinalStatus = "succeeded", *, error: str | None = None, timeout: float | None = FINISH_TIMEOUT_S
    ) -> dict[str, Any]:
        """Deliver every point, file and config change, then report ``status`` with the summary (and ``error``);
        returns the run as the API then has it. Waits at most ``timeout`` seconds for an API that is away, then
        reports what was lost and raises :class:`~trainboard.tracking.TrackingError`."""
        tracked = self._tracked
        if tracked.finished:
            return tracked.run
        atexit.unregister(self._at_exit)
        self._stop_helpers()
        started = time.monotonic()
        lost_files = [] if self._uploads.wait(timeout, tracked.wake) else self._uploads.pending_names()
        if lost_files:
            problem = f"{len(lost_files)} file(s) not uploaded: the API stayed unreachable: {', '.join(lost_files)}"
            logger.error("run %s: %s", self.id, problem)
            error = f"{error}\n{problem}" if error else problem
        try:
            left = None if timeout is None else max(timeout - (time.monotonic() - started), 1.0)
            result = tracked.finish(status, error=error, timeout=left)  # one timeout for files and points
        finally:
            self._uploads.close()
        if lost_files:
            raise TrackingError(f"run {self.id}: {error}")
        return result

    def __enter__(self) -> ScriptRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.finish("succeeded")
            return
        final, error = outcome_of(exc)
        if self._capture is not None:  # Python prints the traceback after the block, when nothing captures it
            self._capture.log_only("".join(traceback.format_exception(exc)))
        try:
            self.finish(final, error=error)
        except TrackingError as problem:  # the block's own exception is the one to propagate
            logger.error("%s", problem)

    def __repr__(self) -> str:
        return f"ScriptRun(id={self.id}, status={self._tracked.status!r}, step={self._step})"

    # --- off the fast path ----------------------------------------------------------------------------------------

    def _check_open(self, what: str) -> None:
        if self._tracked.finished:
            raise RuntimeError(f"run {self.id} is finished: {what}() after finish()")

    def _emit_system(self, points: dict[str, float], step: int) -> None:
        """The system monitor's samples, from its thread: into the same outbox (``log_dict`` takes its lock)."""
        if not self._tracked.finished:
            self._tracked.log_dict(step, points)

    def _stop_helpers(self) -> None:
        if self._monitor is not None:
            self._monitor.stop()
            self._sampler.close()
        if self._capture is not None:  # the last lines before the final status
            self._capture.close(timeout=CAPTURE_CLOSE_TIMEOUT_S)
            self._capture.client.close()
            self._capture = None

    def _at_exit(self) -> None:
        """The interpreter exits and the run was never finished: ``succeeded`` after a normal end, ``failed`` after
        an uncaught exception, ``cancelled`` after Ctrl-C; every point and file is delivered first."""
        if self.outcome_by_worker:  # the worker says how it ended, from the exit code (sys.exit(1) is a failure)
            _deliver(self, 30.0)
            return
        died = getattr(sys, "last_value", None)  # set when an uncaught exception ended the script
        status: FinalStatus = "succeeded"
        error = None
        if died is not None:
            status, how = outcome_of(died)
            error = f"the script died: {how}"
        try:
            self.finish(status, error=error, timeout=30)
        except Exception as problem:  # noqa: BLE001 - nothing else can report it at exit
            logger.error("run %s: at exit: %s", self.id, problem)


def _deliver(run: ScriptRun, timeout: float) -> None:
    """Every point, file, config change and the summary of ``run`` to the API, and no final status."""
    run._stop_helpers()
    started = time.monotonic()
    run._uploads.wait(timeout, run._tracked.wake)
    run._tracked.flush(timeout)
    run._tracked.flush_reports(max(1.0, timeout - (time.monotonic() - started)))


def _create(
    client: Client, name: str | None, config: Mapping[str, Any] | argparse.Namespace | None, tags: Iterable[str]
) -> tuple[dict[str, Any], str | None]:
    if isinstance(tags, str):
        raise TypeError(f"tags must be a list of strings, e.g. tags=[{tags!r}]")
    request: dict[str, Any] = {"external": True, "tags": list(tags), "config": as_config(config)}
    if name is not None:
        request["name"] = name
    run = client.create_run(request)
    return run, run.pop("lease", None)


def _attach(client: Client, config: Mapping[str, Any] | argparse.Namespace | None) -> tuple[dict[str, Any], str | None]:
    """The run named by TRAINBOARD_RUN_ID, and the lease to write with (TRAINBOARD_LEASE, or a claim's)."""
    as_config(config)  # a bad config is refused before anything is claimed
    raw = os.environ["TRAINBOARD_RUN_ID"]
    try:
        run_id = int(raw)
    except ValueError:
        raise ValueError(f"TRAINBOARD_RUN_ID must be a run id (a whole number), got {raw!r}") from None
    lease = os.environ.get("TRAINBOARD_LEASE") or None
    if lease:
        # The lease is this script's credential for its run (a command run's code gets no token): its reads too.
        client.lease = lease
        return client.get_run(run_id), lease
    try:
        run = client.claim(run_id, worker=f"script on {socket.gethostname()} (pid {os.getpid()})")
    except ApiError as exc:
        raise ApiError(exc.status_code, f"cannot attach to run {run_id} (TRAINBOARD_RUN_ID): {exc}") from None
    return run, run.pop("lease", None)


def _media_index(client: Client, run_id: int) -> MediaIndex:
    """The run's ``media.json`` as the API has it (a run attached to may have logged images before)."""
    try:
        return MediaIndex(client.request("GET", f"/runs/{run_id}/artifacts/{INDEX_NAME}"))
    except ApiError as exc:
        if exc.status_code == 404:
            return MediaIndex()
        raise
