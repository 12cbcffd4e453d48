"""What the `trainboard` command prints: numbers a person reads at a glance, the `ls` table with any run's summary,
and `watch`'s lines for any run's keys. Pure formatting, no HTTP: the CLI hands these the API's replies."""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

MAX_NAME_CHARS = 32
MAX_TEXT_CHARS = 40
# The report's per-epoch keys (train_acc, valid_loss, …) of a built-in run, logged with the epoch as their step.
EPOCH_KEY_SUFFIXES = ("_acc", "_loss")


def format_number(value: Any) -> str:
    """Four significant digits (0.777999997138977 → 0.778), whole numbers without a point, no exponent below
    10^15; anything else as text. None is how the API stores a NaN or infinite point."""
    if value is None:
        return "nan"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, float):
        text = str(value)
        return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if 1e4 <= abs(value) < 1e15:
        return f"{value:.0f}"
    return f"{value:.4g}"


def flat_items(mapping: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """A nested mapping's leaves as ("a.b", value), in key order; lists are left out (no room in a line)."""
    for key in sorted(mapping):
        value = mapping[key]
        if isinstance(value, Mapping):
            yield from flat_items(value, f"{prefix}{key}.")
        elif not isinstance(value, list):
            yield f"{prefix}{key}", value


def key_values(items: Mapping[str, Any]) -> str:
    return "  ".join(f"{key} {format_number(value)}" for key, value in flat_items(items))


def runs_table(runs: list[dict[str, Any]], *, width: int | None = None) -> list[str]:
    """`trainboard ls`: one line a run, with every key of its summary (whatever the run put there); lines are cut
    at ``width`` characters when given (the terminal's)."""
    name_width = min(max((len(run["name"]) for run in runs), default=4), MAX_NAME_CHARS)
    lines = [f"{'id':>5}  {'status':<10} {'epoch':>5}  {'name':<{name_width}}  summary"]
    for run in runs:
        name = run["name"] if len(run["name"]) <= name_width else run["name"][: name_width - 1] + "…"
        summary = key_values(run.get("summary") or {}) or "-"
        lines.append(f"{run['id']:>5}  {run['status']:<10} {run['epoch']:>5}  {name:<{name_width}}  {summary}")
    if width:
        lines = [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
    return lines


def terminal_width() -> int | None:
    """The terminal's width when stdout is one; None (no cutting) when it goes to a file or a pipe."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


class RunWatch:
    """`trainboard watch`: a run's live stream as lines. Status changes print at once. A built-in run's report
    keys print one line an epoch (``epoch 2  train_acc 0.91  valid_acc 0.9 …``); every other key, the run's own,
    prints its latest value, the keys logged at one step on one line, at most every ``every_s`` seconds (a run
    logging each step would otherwise scroll faster than anyone reads) and before each status line."""

    def __init__(
        self,
        run_id: int,
        *,
        external: bool,
        write: Callable[[str], None] = print,
        every_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run_id = run_id
        self.external = external
        self.write = write
        self.every_s = every_s
        self.clock = clock
        self._pending: dict[str, tuple[int, Any]] = {}
        self._printed_at = -math.inf

    def status(self, data: Mapping[str, Any]) -> None:
        self.flush()
        progress = f"progress {100 * data['progress']:.0f} %"
        self.write(f"[run {self.run_id}] {data['status']} epoch {data['epoch']} {progress}")
        if data.get("error"):
            self.write(f"[run {self.run_id}] error: {data['error']}")

    def metrics(self, data: Mapping[str, Any]) -> None:
        epochs: dict[int, dict[str, Any]] = {}
        for key, series in data.items():
            if not isinstance(series, Mapping) or not series.get("step"):
                continue  # "seq", or a key with no points
            if not self.external and key.endswith(EPOCH_KEY_SUFFIXES):
                for step, value in zip(series["step"], series["value"], strict=True):
                    epochs.setdefault(step, {})[key] = value
            else:
                self._pending[key] = (series["step"][-1], series["value"][-1])
        for epoch in sorted(epochs):
            self.write(f"[run {self.run_id}] epoch {epoch}  {key_values(epochs[epoch])}")
        if self.clock() - self._printed_at >= self.every_s:
            self.flush()

    def flush(self) -> None:
        """Print the latest values not printed yet, one line a step."""
        by_step: dict[int, dict[str, Any]] = {}
        for key, (step, value) in self._pending.items():
            by_step.setdefault(step, {})[key] = value
        for step in sorted(by_step):
            self.write(f"[run {self.run_id}] step {step}  {key_values(by_step[step])}")
        if self._pending:
            self._pending.clear()
            self._printed_at = self.clock()
