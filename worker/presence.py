"""This worker on the API's Workers page: it registers once Celery is ready to take runs, then a thread sends a
heartbeat every few seconds (name, host, devices and GPUs, queues, the run it is executing) and a last one saying it
stops on a clean shutdown. It speaks HTTP to the API like the rest of the worker, so it works with either broker.

The API counts a worker silent for its ``stale_after_s`` as offline; this worker reads the same setting and beats at
least four times in that span. A failed heartbeat is only logged: the Workers page is no reason to stop training.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from trainboard.client import ApiError, Client
from trainboard.settings import Settings
from worker import gpus

logger = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
TIMEOUT_S = 5.0

_current: Presence | None = None


class Presence:
    """The heartbeat thread of one worker process."""

    def __init__(self, settings: Settings, *, name: str, queues: Sequence[str]) -> None:
        self.name = name
        self.queues = list(queues)
        self.interval_s = min(HEARTBEAT_S, settings.stale_after_s / 4)
        self.devices: list[str] = ["cpu"]  # until the thread has asked torch
        self.gpus: list[str] = []
        self._settings = settings
        self._session = uuid.uuid4().hex  # tells the API this is a new process: its "since" starts again
        self._run_ids: list[int] = []  # in the order they started; several on a worker with several GPUs
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failing = False
        self._thread = threading.Thread(target=self._beat_forever, name="trainboard-presence", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @contextmanager
    def executing(self, run_id: int) -> Iterator[None]:
        """While the block runs, heartbeats name ``run_id``; the API hears of the change at once."""
        with self._lock:
            self._run_ids.append(run_id)
        self._wake.set()
        try:
            yield
        finally:
            with self._lock:
                self._run_ids.remove(run_id)
            self._wake.set()

    def stop(self) -> None:
        """End the thread and tell the API this worker is offline from now on."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=TIMEOUT_S + 1)
        with self._client() as client:
            self._send(client, stopping=True)

    def _beat_forever(self) -> None:
        try:
            self.devices, names = gpus.detect_devices()
            scheduled = gpus.pool().ids  # `--gpus`: the ones this worker gives runs
            self.gpus = [f"{i}: {names[int(i)]}" for i in scheduled if int(i) < len(names)] if scheduled else names
        except Exception:  # noqa: BLE001 - a broken CUDA install: the worker still trains on the CPU
            logger.exception("could not list this machine's GPUs")
        with self._client() as client:
            while not self._stop.is_set():
                self._send(client)
                self._wake.wait(self.interval_s)
                self._wake.clear()

    def _client(self) -> Client:
        token = self._settings.token.get_secret_value() if self._settings.token else ""
        return Client(self._settings.resolved_api_url, token, timeout=TIMEOUT_S)

    def _send(self, client: Client, *, stopping: bool = False) -> None:
        with self._lock:
            run_ids = list(self._run_ids)
        body: dict[str, Any] = {
            "host": socket.gethostname(),
            "devices": self.devices,
            "gpus": self.gpus,
            "queues": self.queues,
            "run_id": run_ids[0] if run_ids else None,
            "run_ids": run_ids,
            "session": self._session,
            "stopping": stopping,
        }
        try:
            client.request("PUT", f"/workers/{quote(self.name, safe='@')}", json=body)
        except (ApiError, httpx.HTTPError) as exc:
            if not self._failing:  # once per outage, not every few seconds
                logger.warning("could not report to the API's Workers page (%s); retrying", exc)
            self._failing = True
            return
        if self._failing:
            logger.info("reporting to the API's Workers page again")
        self._failing = False


def install(settings: Settings, *, name: str, queues: Sequence[str]) -> None:
    """Start heartbeats when this Celery worker is ready for runs, and say it stops when it shuts down."""
    from celery.signals import worker_ready, worker_shutdown

    def ready(**_: Any) -> None:
        global _current
        _current = Presence(settings, name=name, queues=queues)
        _current.start()

    def shutdown(**_: Any) -> None:
        if _current is not None:
            _current.stop()

    worker_ready.connect(ready, weak=False)
    worker_shutdown.connect(shutdown, weak=False)


@contextmanager
def executing(run_id: int) -> Iterator[None]:
    """Heartbeats name ``run_id`` while the block runs (nothing happens in a process that sends none)."""
    if _current is None:
        yield
        return
    with _current.executing(run_id):
        yield
