"""System metrics: what a run's ``system/`` charts would show, on this machine and on a (faked) GPU machine."""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil
import pynvml
import pytest

from trainboard.limits import METRIC_KEY
from trainboard.system_metrics import GIB, SystemMonitor, SystemSampler

HOST_KEYS = {"system/cpu_percent", "system/ram_gb", "system/ram_percent", "system/proc_rss_gb"}
GPU_FIELDS = {"util_percent", "mem_gb", "mem_percent", "temp_c", "power_w"}


def test_host_keys_are_there_and_sane() -> None:
    sampler = SystemSampler()
    busy_until = time.monotonic() + 0.3
    while time.monotonic() < busy_until:  # a busy CPU shows
        pass
    points = sampler()
    assert set(points) >= HOST_KEYS
    assert all(METRIC_KEY.fullmatch(key) for key in points), points
    assert 0 < points["system/cpu_percent"] <= 100
    total_gb = psutil.virtual_memory().total / GIB
    assert 0 < points["system/ram_gb"] < total_gb
    assert 0 < points["system/ram_percent"] <= 100
    assert 0.01 < points["system/proc_rss_gb"] < points["system/ram_gb"]

    ballast = bytearray(300 * 2**20)  # 300 MiB this process touches (zero-filled)
    grown = sampler()["system/proc_rss_gb"] - points["system/proc_rss_gb"]
    assert 0.25 < grown < 0.35, f"RSS grew by {grown} GiB for 0.29 GiB"
    del ballast


def test_without_nvml_there_are_no_gpu_keys_and_no_noise(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_library() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_library)
    caplog.set_level(logging.DEBUG, logger="trainboard.system_metrics")
    sampler = SystemSampler()
    samples = [sampler() for _ in range(5)]
    assert all(set(points) == HOST_KEYS for points in samples), samples[0]
    assert sampler.gpu_count == 0
    assert len(caplog.records) <= 1 and all(r.levelno == logging.DEBUG for r in caplog.records), caplog.text


@dataclass
class FakeGpu:
    util: int
    used_gib: float
    total_gib: float
    temp: int
    milliwatts: int | None  # None: the board cannot measure its power


@dataclass
class FakeNvml:
    """A machine's GPUs behind pynvml's own functions, answering with pynvml's own types."""

    gpus: list[FakeGpu]
    uuids: dict[str, int] = field(default_factory=dict)
    power_calls: int = 0
    shut_down: bool = False

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("Init", "Shutdown", "DeviceGetCount", "DeviceGetHandleByIndex", "DeviceGetHandleByUUID",
                     "DeviceGetUtilizationRates", "DeviceGetMemoryInfo", "DeviceGetTemperature",
                     "DeviceGetPowerUsage"):  # fmt: skip
            monkeypatch.setattr(pynvml, f"nvml{name}", getattr(self, name))

    def gpu(self, handle: Any) -> FakeGpu:
        return self.gpus[ctypes.cast(handle, ctypes.c_void_p).value - 1]  # type: ignore[operator]

    def Init(self) -> None:  # noqa: N802 - pynvml's names
        pass

    def Shutdown(self) -> None:  # noqa: N802
        self.shut_down = True

    def DeviceGetCount(self) -> int:  # noqa: N802
        return len(self.gpus)

    def DeviceGetHandleByIndex(self, index: int) -> Any:  # noqa: N802
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return ctypes.cast(ctypes.c_void_p(index + 1), pynvml.c_nvmlDevice_t)

    def DeviceGetHandleByUUID(self, uuid: str) -> Any:  # noqa: N802
        if uuid not in self.uuids:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return self.DeviceGetHandleByIndex(self.uuids[uuid])

    def DeviceGetUtilizationRates(self, handle: Any) -> pynvml.c_nvmlUtilization_t:  # noqa: N802
        return pynvml.c_nvmlUtilization_t(gpu=self.gpu(handle).util, memory=0)

    def DeviceGetMemoryInfo(self, handle: Any) -> pynvml.c_nvmlMemory_t:  # noqa: N802
        gpu = self.gpu(handle)
        used, total = int(gpu.used_gib * GIB), int(gpu.total_gib * GIB)
        return pynvml.c_nvmlMemory_t(total=total, free=total - used, used=used)

    def DeviceGetTemperature(self, handle: Any, sensor: int) -> int:  # noqa: N802
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self.gpu(handle).temp

    def DeviceGetPowerUsage(self, handle: Any) -> int:  # noqa: N802
        self.power_calls += 1
        milliwatts = self.gpu(handle).milliwatts
        if milliwatts is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return milliwatts


def four_gpus() -> FakeNvml:
    return FakeNvml(
        gpus=[
            FakeGpu(util=10, used_gib=1.0, total_gib=80.0, temp=40, milliwatts=100_000),
            FakeGpu(util=20, used_gib=2.0, total_gib=80.0, temp=41, milliwatts=110_000),
            FakeGpu(util=95, used_gib=60.0, total_gib=80.0, temp=77, milliwatts=612_500),
            FakeGpu(util=0, used_gib=0.5, total_gib=40.0, temp=30, milliwatts=None),
        ],
        uuids={"GPU-aaaa": 3},
    )


def gpu_points(points: dict[str, float]) -> dict[str, float]:
    return {key: value for key, value in points.items() if key.startswith("system/gpu")}


def test_every_gpu_is_reported_when_all_are_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = four_gpus()
    nvml.install(monkeypatch)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    points = SystemSampler()()
    assert all(METRIC_KEY.fullmatch(key) for key in points), points
    expected = {f"system/gpu{i}/{name}" for i in range(4) for name in GPU_FIELDS} - {"system/gpu3/power_w"}
    assert set(gpu_points(points)) == expected
    assert points["system/gpu2/util_percent"] == 95
    assert points["system/gpu2/mem_gb"] == 60.0 and points["system/gpu2/mem_percent"] == 75.0
    assert points["system/gpu2/temp_c"] == 77 and points["system/gpu2/power_w"] == 612.5


def test_cuda_visible_devices_picks_and_renumbers_the_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = four_gpus()
    nvml.install(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    points = gpu_points(SystemSampler()())
    assert {key.split("/")[1] for key in points} == {"gpu0", "gpu1"}
    assert points["system/gpu0/util_percent"] == 95 and points["system/gpu0/temp_c"] == 77  # the machine's GPU 2
    assert points["system/gpu1/util_percent"] == 10 and points["system/gpu1/temp_c"] == 40  # the machine's GPU 0

    # As CUDA reads the list: up to its first entry that names no GPU; a UUID names one; empty means none.
    for visible, machine_gpus in [("1,7,0", [1]), ("GPU-aaaa,2", [3, 2]), ("GPU-nope,2", []), ("", []),
                                  ("0,0", [0]), ("-1", [])]:  # fmt: skip
        sampler = SystemSampler(visible_devices=visible)
        points = gpu_points(sampler())
        seen = [points[f"system/gpu{i}/temp_c"] for i in range(sampler.gpu_count)]
        assert seen == [nvml.gpus[g].temp for g in machine_gpus], visible
        assert sum(key.endswith("/temp_c") for key in points) == len(machine_gpus), visible


def test_a_reading_the_gpu_cannot_give_is_left_out_and_not_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = four_gpus()
    nvml.install(monkeypatch)
    sampler = SystemSampler(visible_devices="3")
    samples = [gpu_points(sampler()) for _ in range(3)]
    assert all(set(points) == {f"system/gpu0/{name}" for name in GPU_FIELDS - {"power_w"}} for points in samples)
    assert nvml.power_calls == 1
    sampler.close()
    assert nvml.shut_down and gpu_points(sampler()) == {}


@dataclass
class Recorder:
    emitted: list[tuple[float, int, dict[str, float]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, points: dict[str, float], step: int) -> None:
        with self.lock:
            self.emitted.append((time.monotonic(), step, points))


def test_the_monitor_emits_at_its_interval_and_stops_promptly() -> None:
    recorder = Recorder()
    monitor = SystemMonitor(SystemSampler(), recorder, every_s=0.2)
    started = time.monotonic()
    monitor.start()
    time.sleep(1.1)
    before_stop = time.monotonic()
    monitor.stop()
    assert time.monotonic() - before_stop < 0.2, "stop() returns within the interval"
    count = len(recorder.emitted)
    time.sleep(0.5)
    assert len(recorder.emitted) == count, "nothing after stop()"
    assert 4 <= count <= 6, recorder.emitted
    offsets = [at - started for at, _, _ in recorder.emitted]
    assert offsets[0] > 0.15, "the first sample waits one interval: a CPU percentage needs one"
    assert all(0.1 < b - a < 0.35 for a, b in zip(offsets, offsets[1:], strict=False)), offsets
    steps = [step for _, step, _ in recorder.emitted]
    assert steps == sorted(set(steps)), "steps never repeat"
    assert all(set(points) >= HOST_KEYS for _, _, points in recorder.emitted)


def test_the_monitors_steps_are_seconds_since_start() -> None:
    recorder = Recorder()
    with SystemMonitor(lambda: {"system/cpu_percent": 1.0}, recorder, every_s=1.0):
        time.sleep(3.3)
    assert [step for _, step, _ in recorder.emitted] == [1, 2, 3]


def test_a_failing_emit_is_logged_once_and_sampling_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def emit(points: dict[str, float], step: int) -> None:
        calls.append(step)
        raise ConnectionError("API down")

    with SystemMonitor(lambda: {"system/cpu_percent": 1.0}, emit, every_s=0.05):
        time.sleep(0.4)
    assert len(calls) >= 4
    assert [r.levelno for r in caplog.records if r.name == "trainboard.system_metrics"] == [logging.WARNING]
