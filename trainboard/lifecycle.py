"""`trainboard up` and its children: nothing outlives `up`, and a second Ctrl-C or SIGTERM cannot cut shutdown short.

`make up` forwards a SIGTERM to the whole process group, so `up`, the API and the workers may each get the same
signal two or three times (once from the group, once from `up` itself). Each of them stops on the first and
ignores the rest. `up` gives its children ``STOP_GRACE_S`` to stop, then kills them. A child that loses `up` (even
to SIGKILL, when nothing else runs) gets SIGTERM from the kernel (Linux: PR_SET_PDEATHSIG), and on any platform
notices within a second that its parent changed, then stops the same way.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

logger = logging.getLogger(__name__)

PARENT_ENV = "TRAINBOARD_PARENT_PID"  # set by `up` for its children: the pid they must not outlive
STOP_GRACE_S = 15.0  # how long `up` waits for its children after SIGTERM before it kills them
ORPHAN_GRACE_S = 30.0  # how long an orphaned child may take to stop after its SIGTERM before it exits hard
PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Set in a worker by its first stop signal while it trains: the run aborts at its next check (the reporter's
# should_abort), leaves what it has not sent in the spool, and the worker exits (Celery's warm shutdown).
WORKER_STOPPING = threading.Event()


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` for children of this process: they get SIGTERM when it dies, however it dies."""
    parent = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None  # before fork

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect: no one else will tell us
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def watch_parent(*, poll_s: float = 1.0, grace_s: float = ORPHAN_GRACE_S) -> None:
    """In a child of `up` ($TRAINBOARD_PARENT_PID set): once `up` is gone, SIGTERM ourselves and, if that has
    not ended the process after ``grace_s``, exit hard. Covers platforms without PR_SET_PDEATHSIG, and a child
    whose signal handling is stuck."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not parent.isdigit():
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(poll_s)
        logger.warning("`trainboard up` (pid %s) is gone: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        logger.error("still running %.0f s after `up` died: exiting now", grace_s)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def stop_children(children: Sequence[subprocess.Popen[bytes]], *, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM every child still running, wait up to ``grace_s`` for them all, then SIGKILL the rest.

    Further SIGINT/SIGTERM are ignored from here on: they must not abort the wait and leave children behind.
    """
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("pid %s did not stop within %.0f s: killing it", child.pid, grace_s)
            child.kill()
            child.wait()


def interrupt_training_on_stop() -> None:
    """Make SIGTERM/SIGINT stop a Celery worker now, even in the middle of a run (call once the worker is ready).

    Celery's warm shutdown alone would finish the run first: minutes or hours, against an API that `up` is
    stopping too. Instead :data:`WORKER_STOPPING` aborts the run at its next check and the run is left `running`
    where it is; the API's reaper re-queues it once its heartbeat stops (TRAINBOARD_STALE_AFTER_S), and the next
    worker resumes it from its last epoch checkpoint. Then Celery's own warm shutdown ends the worker. Repeated
    signals are ignored. (No exception is raised from the handler: it could land in a weakref callback or a
    ``__del__``, where Python prints and drops it, and the run would train on with nobody to stop it.)
    """
    from celery.exceptions import WorkerShutdown
    from celery.worker import state

    celery_handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    stopping = False

    def on_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        if state.active_requests:
            logger.warning(
                "stopping in the middle of a run: it stays 'running' until the API re-queues it, "
                "then the next worker resumes it from its last checkpoint"
            )
            WORKER_STOPPING.set()
        previous = celery_handlers[signal.Signals(signum)]
        if callable(previous):
            previous(signum, frame)
        else:
            raise WorkerShutdown(0)

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_stop)
