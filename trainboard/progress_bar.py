"""A terminal progress bar for `trainboard train`, and the artifacts it writes to the output folder."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from trainboard.cli_output import key_values
from worker.training.callbacks import Callback, Point, TrainStart


class ProgressBar(Callback):
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.bar: tqdm | None = None  # type: ignore[type-arg]
        self.step = 0

    def on_train_start(self, info: TrainStart) -> None:
        total = info.epochs * info.steps_per_epoch
        self.step = (info.start_epoch - 1) * info.steps_per_epoch
        self.bar = tqdm(total=total, initial=self.step, unit="step", dynamic_ncols=True)

    def on_points(self, points: list[Point]) -> None:
        steps = [p.step for p in points if p.key == "loss"]
        if self.bar is not None and steps and max(steps) > self.step:
            self.bar.update(max(steps) - self.step)
            self.step = max(steps)
            losses = [p.value for p in points if p.key == "loss"]
            self.bar.set_postfix(loss=f"{losses[-1]:.4f}")

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        if self.bar is not None:
            # Above the bar, on stderr with it: stdout carries only the summary `train` prints at the end.
            self.bar.write(f"epoch {epoch}: {key_values(metrics)}", file=sys.stderr)

    def on_artifact(self, name: str, data: bytes, media_type: str) -> None:
        folder = self.out_dir / "artifacts"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
