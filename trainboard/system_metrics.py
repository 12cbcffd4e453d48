"""How busy the machine is, as metric points under ``system/``: CPU, RAM, this process's memory, and per GPU its
utilisation, memory, temperature and power.

``SystemSampler()`` reads them (psutil for the host, NVML through ``nvidia-ml-py`` for NVIDIA GPUs) and returns
``{key: value}`` when called. ``SystemMonitor(sampler, emit).start()`` calls ``emit(points, step)`` every few
seconds on a background thread. Neither imports torch, and neither raises or logs per sample on a machine without
NVML or GPUs: such a machine simply reports no ``system/gpu…`` keys.

Keys (sizes in GiB, 2**30 bytes, as ``free -g`` and ``nvidia-smi`` count them)::

    system/cpu_percent          all CPUs, averaged since the previous sample
    system/ram_gb               RAM in use on the machine
    system/ram_percent
    system/proc_rss_gb          this process's resident memory
    system/gpu{i}/util_percent  time a kernel ran, over NVML's last sample period
    system/gpu{i}/mem_gb        GPU memory in use (by every process on the GPU)
    system/gpu{i}/mem_percent
    system/gpu{i}/temp_c
    system/gpu{i}/power_w

GPUs are numbered as the process sees them: with ``CUDA_VISIBLE_DEVICES=2,3`` the machine's GPU 2 is ``gpu0`` and
GPU 3 is ``gpu1``, and the others are not reported. NVML counts GPUs in PCI bus order; CUDA does too when
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` (on machines with mixed GPU models its default order can differ).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import psutil
import pynvml

logger = logging.getLogger(__name__)

GIB = 2**30
EVERY_S = 5.0

Points = dict[str, float]


def _utilisation(handle: Any) -> Points:
    return {"util_percent": float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)}


def _memory(handle: Any) -> Points:
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    percent = 100 * memory.used / memory.total if memory.total else 0.0
    return {"mem_gb": round(memory.used / GIB, 3), "mem_percent": round(percent, 1)}


def _temperature(handle: Any) -> Points:
    return {"temp_c": float(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))}


def _power(handle: Any) -> Points:
    return {"power_w": round(pynvml.nvmlDeviceGetPowerUsage(handle) / 1000, 1)}  # NVML answers in milliwatts


GPU_READINGS: dict[str, Callable[[Any], Points]] = {
    "utilisation": _utilisation,
    "memory": _memory,
    "temperature": _temperature,
    "power": _power,
}


class SystemSampler:
    """``sampler()`` returns this machine's ``system/`` points now. NVML is initialised once, here; a reading a GPU
    does not support (power on some boards) is skipped from then on, and a GPU that stops answering is skipped in
    that sample. ``visible_devices`` defaults to ``$CUDA_VISIBLE_DEVICES``."""

    def __init__(self, *, visible_devices: str | None = None) -> None:
        self._process = psutil.Process()
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement
        if visible_devices is None:
            visible_devices = os.environ.get("CUDA_VISIBLE_DEVICES")
        self._nvml = False
        self._gpus = self._open_gpus(visible_devices)
        self._unsupported: set[tuple[int, str]] = set()

    @property
    def gpu_count(self) -> int:
        """How many GPUs this sampler reports."""
        return len(self._gpus)

    def __call__(self) -> Points:
        memory = psutil.virtual_memory()
        points: Points = {
            "system/cpu_percent": psutil.cpu_percent(interval=None),
            "system/ram_gb": round(memory.used / GIB, 3),
            "system/ram_percent": memory.percent,
            "system/proc_rss_gb": round(self._process.memory_info().rss / GIB, 3),
        }
        for number, handle in enumerate(self._gpus):
            for name, value in self._read_gpu(number, handle).items():
                points[f"system/gpu{number}/{name}"] = value
        return points

    def close(self) -> None:
        """Let NVML go (safe to call twice)."""
        if self._nvml:
            self._nvml = False
            self._gpus = []
            with contextlib.suppress(pynvml.NVMLError):
                pynvml.nvmlShutdown()

    def _open_gpus(self, visible_devices: str | None) -> list[Any]:
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            logger.debug("no GPU metrics: NVML did not start (%s)", exc)
            return []
        self._nvml = True
        try:
            count = pynvml.nvmlDeviceGetCount()
            return _visible_handles(visible_devices, count)
        except pynvml.NVMLError as exc:
            logger.debug("no GPU metrics: NVML lists no GPUs (%s)", exc)
            self.close()
            return []

    def _read_gpu(self, number: int, handle: Any) -> Points:
        values: Points = {}
        for name, read in GPU_READINGS.items():
            if (number, name) in self._unsupported:
                continue
            try:
                values.update(read(handle))
            except pynvml.NVMLError_NotSupported:
                self._unsupported.add((number, name))
            except pynvml.NVMLError:
                continue  # lost or busy for now: this sample goes without it
        return values


def _visible_handles(visible_devices: str | None, count: int) -> list[Any]:
    """The NVML handles of the GPUs the process sees, in its order. Like CUDA, a list stops at its first entry that
    names no GPU (an index out of range, a repeat, an unknown UUID); an empty list means no GPU."""
    if visible_devices is None:
        return [pynvml.nvmlDeviceGetHandleByIndex(index) for index in range(count)]
    handles: list[Any] = []
    seen: set[str] = set()
    for entry in (part.strip() for part in visible_devices.split(",")):
        if entry in seen:
            break
        seen.add(entry)
        if entry.isdigit() and int(entry) < count:
            handles.append(pynvml.nvmlDeviceGetHandleByIndex(int(entry)))
        elif entry.startswith("GPU-"):
            try:
                handles.append(pynvml.nvmlDeviceGetHandleByUUID(entry))
            except pynvml.NVMLError:
                break
        else:
            break
    return handles


def enabled_by_env() -> bool:
    """False when ``TRAINBOARD_SYSTEM_METRICS`` turns sampling off (0, false, no, off), for scripts and workers."""
    return os.environ.get("TRAINBOARD_SYSTEM_METRICS", "1").strip().lower() not in ("0", "false", "no", "off")


class SystemMonitor:
    """Calls ``emit(sampler(), step)`` every ``every_s`` seconds on a daemon thread, from ``start()`` until
    ``stop()``. ``step`` is the whole number of seconds since ``start()`` (so a chart of ``system/`` keys has
    seconds on its x-axis), and never repeats: sampling faster than once a second counts steps up by one.
    The first sample comes one interval after ``start()``, so ``system/cpu_percent`` is always an average over
    an interval. An ``emit`` or sampler that raises is logged once and the monitor goes on."""

    def __init__(
        self, sampler: Callable[[], Points], emit: Callable[[Points, int], None], *, every_s: float = EVERY_S
    ) -> None:
        if every_s <= 0:
            raise ValueError(f"every_s must be positive, not {every_s}")
        self.sampler = sampler
        self.emit = emit
        self.every_s = every_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trainboard-system-metrics", daemon=True)
        self._complained = False

    def start(self) -> SystemMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling; returns within one interval, at most (at once unless a sample is being taken)."""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.every_s)

    def __enter__(self) -> SystemMonitor:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        started = time.monotonic()
        last_step = -1
        intervals = 1
        while not self._stopping.wait(max(0.0, started + intervals * self.every_s - time.monotonic())):
            elapsed = time.monotonic() - started
            last_step = max(last_step + 1, int(elapsed))
            self._sample(last_step)
            # A sample that took longer than an interval skips the deadlines it missed instead of catching up.
            intervals = max(intervals + 1, int((time.monotonic() - started) / self.every_s) + 1)

    def _sample(self, step: int) -> None:
        try:
            self.emit(self.sampler(), step)
        except Exception:
            if not self._complained:
                self._complained = True
                logger.warning("system metrics: a sample failed (later failures are not logged)", exc_info=True)
