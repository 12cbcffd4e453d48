"""The queue contract between the API, which enqueues run ids, and the workers, which take them: the task's name,
the queues and which one a run waits in, how to build the Celery app, and declaring the queues up front.

The broker is Redis when REDIS_URL is set, otherwise a SQLite file through kombu's SQLAlchemy transport, so a
laptop needs no broker server. It lives here, not in ``worker/``, because both sides need it and the API must not
import the worker package (tests/trainboard/test_layering.py). Torch-free: the API image has no torch.
"""

from __future__ import annotations

import time

from celery import Celery
from kombu import Queue

from trainboard.settings import Settings

TRAIN_TASK = "trainboard.train_run"
RUN_QUEUES = ("any", "cpu", "cuda")
# Command runs (a user's own command) wait apart: only workers started with `trainboard worker --code DIR` take them.
COMMAND_PREFIX = "cmd-"
COMMAND_QUEUES = tuple(COMMAND_PREFIX + name for name in RUN_QUEUES)
QUEUES = RUN_QUEUES + COMMAND_QUEUES  # those every broker has; the queues of multi-GPU command runs come on demand
GPUS_SUFFIX = "gpus"


def queue_for_device(device: str, *, command: bool = False, gpus: int = 0) -> str:
    """A run asking for a device waits in that device's queue; "auto" runs on any worker. A command run waits
    in the command queue of the same device ("cmd-any", "cmd-cpu", "cmd-cuda"), and one asking for two GPUs or
    more in a queue of its own count ("cmd-cuda-2gpus"), which only workers scheduling that many take: a run
    never lands on a worker too small for it, and waits while none big enough is online."""
    name = {"cpu": "cpu", "cuda": "cuda"}.get(device, "any")
    if command and name == "cuda" and gpus >= 2:
        return gpus_queue(gpus)
    return COMMAND_PREFIX + name if command else name


def gpus_queue(gpus: int) -> str:
    """The queue of command runs asking for ``gpus`` GPUs (two or more)."""
    return f"{COMMAND_PREFIX}cuda-{gpus}{GPUS_SUFFIX}"


def queue_gpus(queue: str) -> int:
    """How many GPUs the runs of ``queue`` ask for: 2 or more for a name ``gpus_queue`` gives, else 0 (any other
    queue, "cmd-cuda-1gpus" and "cmd-cuda-02gpus" included)."""
    count = queue.removeprefix(f"{COMMAND_PREFIX}cuda-").removesuffix(GPUS_SUFFIX)
    gpus = int(count) if count.isascii() and count.isdigit() and len(count) <= 4 else 0
    return gpus if gpus >= 2 and gpus_queue(gpus) == queue else 0


def worker_queues(device: str, *, commands: bool, gpus: int = 0) -> list[str]:
    """The queues a worker for ``device`` ("cpu" or "cuda") takes runs from; ``commands``: command runs too, and
    on cuda, those asking for up to the ``gpus`` GPUs it schedules."""
    queues = ["any", device]
    if not commands:
        return queues
    multi = [gpus_queue(count) for count in range(2, gpus + 1)] if device == "cuda" else []
    return queues + [queue_for_device(q, command=True) for q in queues] + multi


def is_command_queue(queue: str) -> bool:
    return queue.startswith(COMMAND_PREFIX)


def make_celery(settings: Settings | None = None) -> Celery:
    """The Celery app of the API's producer and of every worker, configured for long runs taken one at a time."""
    settings = settings or Settings()
    settings.ensure_home()
    app = Celery("trainboard", broker=settings.broker_url)
    embedded = settings.redis_url is None
    app.conf.update(
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="any",
        # A broker that restarts (Redis in compose) or is not up yet: retry for ever, never exit. A worker that
        # loses the connection mid-run finishes the run; its unacked message goes back to the queue on reconnect
        # and is skipped when redelivered, as the run is no longer queued.
        broker_connection_retry_on_startup=True,
        broker_connection_retry=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # The SQLAlchemy transport has no fan-out exchange, so remote control has nothing to ride on.
        worker_enable_remote_control=not embedded,
        # Embedded: these go to create_engine of the broker's SQLite file; wait on its lock rather than fail.
        # Redis: a host that does not answer (down, not refusing) fails a connect in 5 s, not the OS's minutes.
        broker_transport_options=(
            {"connect_args": {"timeout": 30}}
            if embedded
            else {"visibility_timeout": 43200, "socket_connect_timeout": 5, "socket_keepalive": True}
        ),
    )
    return app


def declare_queues(app: Celery, attempts: int = 5, *, also: list[str] | None = None) -> None:
    """Create the run queues in the broker up front (and ``also``: a worker's multi-GPU queues).

    On the embedded broker each process creates a queue's row the first time it touches it, and two workers
    starting together can race on that row; declaring them once before the workers start (and retrying here)
    leaves nothing to race on.
    """
    for attempt in range(attempts):
        try:
            with app.connection_for_write() as connection:
                channel = connection.default_channel
                for name in dict.fromkeys([*QUEUES, *(also or [])]):
                    Queue(name).bind(channel).declare()
            return
        except Exception:  # noqa: BLE001 - a concurrent creator won: the next attempt finds the rows
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
