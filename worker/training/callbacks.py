"""Hooks the training loop fires. Logging, streaming, progress bars and cancellation live here, never inline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


class Point(NamedTuple):
    """One metric value: per-epoch keys use the epoch (1, 2, ...) as step, per-iteration keys the global step."""

    key: str
    step: int
    value: float


@dataclass(frozen=True)
class TrainStart:
    n_params: int
    epochs: int
    steps_per_epoch: int
    start_epoch: int  # 1 on a fresh run; later when resumed from a checkpoint
    device: str


class Callback:
    """Base class: override what you need. All methods are called from the training thread."""

    def on_train_start(self, info: TrainStart) -> None:
        """Called once the model and data are ready, before the first step."""

    def on_points(self, points: list[Point]) -> None:
        """A batch of metric points (per-iteration ones arrive in flushes, not one call per step)."""

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        """After each epoch's evaluation; ``metrics`` holds that epoch's train/valid/test loss and acc."""

    def on_summary(self, summary: dict[str, Any]) -> None:
        """The summary so far, after each epoch (and once when a run resumes): parameters, best epoch, its
        accuracies, duration. The final summary, returned by ``train``, adds ``gen_gap``."""

    def on_artifact(self, name: str, data: bytes, media_type: str) -> None:
        """A file the run produced (filters image, misclassified gallery, ...)."""

    def should_abort(self) -> bool:
        """Polled between steps and epochs; True aborts the run at once (cancellation): ``Aborted`` is raised."""
        return False

    def should_finish(self) -> bool:
        """Polled after each epoch; True ends training there, as early stopping does (a sweep's early
        termination): the best epoch so far is kept, and the run completes with its summary and artifacts."""
        return False
