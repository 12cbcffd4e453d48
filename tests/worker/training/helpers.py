"""Helpers for the training-core tests: a callback that records everything and a quick spec."""

from __future__ import annotations

from typing import Any

from trainboard.spec import RunSpec
from worker.training.callbacks import Callback, Point, TrainStart


class Recorder(Callback):
    """Keeps every point, epoch, artifact and start event; ``abort_when`` decides ``should_abort``."""

    def __init__(self, abort_when: Any = None) -> None:
        self.points: list[Point] = []
        self.epochs: list[tuple[int, dict[str, float]]] = []
        self.artifacts: dict[str, tuple[bytes, str]] = {}
        self.starts: list[TrainStart] = []
        self.summaries: list[dict[str, Any]] = []
        self.abort_when = abort_when

    def on_train_start(self, info: TrainStart) -> None:
        self.starts.append(info)

    def on_points(self, points: list[Point]) -> None:
        self.points.extend(points)

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        self.epochs.append((epoch, dict(metrics)))

    def on_summary(self, summary: dict[str, Any]) -> None:
        self.summaries.append(dict(summary))

    def on_artifact(self, name: str, data: bytes, media_type: str) -> None:
        self.artifacts[name] = (data, media_type)

    def should_abort(self) -> bool:
        return bool(self.abort_when and self.abort_when(self))

    def series(self, key: str) -> list[tuple[int, float]]:
        return [(p.step, p.value) for p in self.points if p.key == key]


def small_spec(**overrides: Any) -> RunSpec:
    """A spec that trains in about a second on the CPU: a small MLP on the tiny MNIST."""
    base: dict[str, Any] = {
        "dataset": "mnist",
        "model": {"arch": "mlp", "hidden": [64]},
        "optimizer": {"name": "sgd", "lr": 0.05},
        "batch_size": 16,
        "epochs": 2,
        "device": "cpu",
        "n_misclassified": 4,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return RunSpec.model_validate(base)
