"""The GPUs of this worker (``trainboard worker --gpus 0,1,2,3``) and who holds them.

A worker with several GPUs takes as many runs at once as it has GPUs (Celery's thread pool). Each run holds the GPUs
it asked for (a command run its ``gpus``, a built-in run on CUDA one) from before it is claimed until it ends, and a
GPU is held by one run at a time: a run that asks for more GPUs than are free waits, still queued for the API, until
enough are, and runs are served in the order they asked (no small run overtakes a big one that waits). Built-in
runs train one at a time in this process (the loop's seeds and torch's thread settings are process-wide); the other
GPUs meanwhile take command runs, each in its own process.

IDs are torch's indices in this worker (after its own ``CUDA_VISIBLE_DEVICES``, if any); :meth:`GpuPool.visible`
turns held indices into the ``CUDA_VISIBLE_DEVICES`` a command's process needs.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

GPU_ID = re.compile(r"^\d{1,3}$")


class GpuError(ValueError):
    """A GPU list this worker cannot use, or a run asking for more GPUs than this worker has."""


def detect_devices() -> tuple[list[str], list[str]]:
    """(devices, GPU names) as torch sees them: ``["cpu"]`` and no GPUs on a machine without CUDA."""
    try:
        import torch
    except ImportError:
        return ["cpu"], []
    if not torch.cuda.is_available():
        return ["cpu"], []
    return ["cpu", "cuda"], [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def parse_gpus(text: str, *, available: int | None) -> list[str]:
    """``--gpus 0,1,2,3`` → ``["0", "1", "2", "3"]``; ``available``: how many GPUs torch sees (None: unknown)."""
    ids = [part.strip() for part in text.split(",")]
    for gpu in ids:
        if not GPU_ID.match(gpu):
            raise GpuError(f"--gpus {text}: {gpu!r} is not a GPU index (a list such as 0,1,2,3)")
        if available is not None and int(gpu) >= available:
            raise GpuError(f"--gpus {text}: GPU {gpu} does not exist here (torch sees {available} GPU(s))")
    if len(set(ids)) != len(ids):
        raise GpuError(f"--gpus {text}: a GPU is listed twice")
    return ids


def scheduled(flag: str | None, *, device: str, seen: int) -> list[str]:
    """The GPUs a worker schedules: ``--gpus`` checked against the ``seen`` GPUs torch sees, or all of them on a
    cuda worker."""
    if flag is None:
        return [str(index) for index in range(seen)] if device == "cuda" else []
    if device != "cuda":
        raise GpuError(f"--gpus {flag}: a {device} worker has no GPUs to schedule (use --device cuda)")
    if flag.strip() == "all":
        return [str(index) for index in range(seen)]
    return parse_gpus(flag, available=seen)


class GpuPool:
    """This worker's GPUs; :meth:`hold` gives a run its own until it ends."""

    def __init__(self, ids: Sequence[str], *, visible: str | None = None) -> None:
        self.ids = list(ids)
        self._free = list(ids)
        self._line: list[object] = []  # the runs waiting for GPUs, in the order they asked
        self._changed = threading.Condition()
        self._builtin = threading.Lock()
        # torch index → the id the driver knows, for a child process's CUDA_VISIBLE_DEVICES
        outer = [part.strip() for part in visible.split(",")] if visible and visible.strip() else None
        self._physical = {gpu: outer[int(gpu)] if outer and int(gpu) < len(outer) else gpu for gpu in ids}

    @property
    def free(self) -> list[str]:
        with self._changed:
            return list(self._free)

    @contextmanager
    def hold(self, count: int, *, run_id: int, waiting: threading.Event | None = None) -> Iterator[list[str]]:
        """Hold ``count`` GPUs of this worker while the block runs; waits until that many are free.

        Runs get their GPUs in the order they asked: one asking for one GPU waits behind an earlier one waiting
        for four, even while a GPU is free, or a stream of one-GPU runs would keep the four-GPU run waiting for
        ever (each freed GPU taken by the next small run before four are ever free at once). A run asking for
        none waits for nothing."""
        if count > len(self.ids):
            raise GpuError(f"run {run_id} asks for {count} GPU(s); this worker has {len(self.ids)}")
        ticket = object()
        with self._changed:
            if count:
                self._line.append(ticket)
            try:
                if not self._turn(ticket, count) and waiting is not None:
                    waiting.set()
                self._changed.wait_for(lambda: self._turn(ticket, count))
            finally:  # served, or gone (an exception while waiting): either way out of the line
                if count:
                    self._line.remove(ticket)
                    self._changed.notify_all()  # the next in line may be served now
            held, self._free = self._free[:count], self._free[count:]
        try:
            yield held
        finally:
            with self._changed:
                self._free = sorted(self._free + held, key=self.ids.index)
                self._changed.notify_all()

    def _turn(self, ticket: object, count: int) -> bool:
        """Whether a run holding ``ticket`` may take its ``count`` GPUs now (the caller holds the condition)."""
        return count == 0 or (self._line[0] is ticket and len(self._free) >= count)

    @contextmanager
    def builtin_turn(self) -> Iterator[None]:
        """One built-in run at a time in this process; command runs go on meanwhile."""
        with self._builtin:
            yield

    def visible(self, held: Sequence[str]) -> str:
        """The ``CUDA_VISIBLE_DEVICES`` for a process given the GPUs ``held`` (empty: no GPU)."""
        return ",".join(self._physical[gpu] for gpu in held)


_pool: GpuPool | None = None


def configure(ids: Sequence[str], *, visible: str | None = None) -> GpuPool:
    """Set this worker process's GPUs (``trainboard worker`` does, before it takes runs)."""
    global _pool
    _pool = GpuPool(ids, visible=visible)
    return _pool


def pool() -> GpuPool:
    """This process's GPUs: as ``trainboard worker`` set them, else (a worker started another way) every GPU torch
    sees."""
    if _pool is None:
        return configure([str(index) for index in range(len(detect_devices()[1]))])
    return _pool
