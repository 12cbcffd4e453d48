"""The outbox of every sender of points (``trainboard/sender.py``): points logged and not yet acknowledged.

The tracking client's ``log()`` and the worker reporter's ``on_points()`` append raw numbers to per-key arrays
(:attr:`Outbox.appenders`, under :attr:`Outbox.lock`); the sender thread :meth:`~Outbox.take`\\ s them, swapping
in fresh arrays, and posts them in batches (:meth:`~Outbox.next_batch`), dropping a batch from the outbox only once
the API acknowledged it, or once it is spooled (:meth:`~Outbox.acknowledge`). Arrays hold raw numbers: no Python
object per point stays alive, so a fast training loop pays neither allocator nor garbage-collector time for the
queue.
"""

from __future__ import annotations

import collections
import threading
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trainboard.limits import METRIC_KEY


class _Series:
    """Points of one key taken by the sender: parallel arrays and how many of them are acknowledged."""

    __slots__ = ("key", "steps", "values", "done")

    def __init__(self, key: str, steps: array[int], values: array[float]) -> None:
        self.key = key
        self.steps = steps
        self.values = values
        self.done = 0


def batch_body(parts: Sequence[str]) -> bytes:
    """The POST body of points already encoded one by one as JSON objects (a batch's, or a spool segment's)."""
    return ('{"points":[' + ",".join(parts) + "]}").encode()


def _number(value: float) -> str:
    # JSON has no NaN or infinity: send null (value - value is 0.0 only for finite numbers).
    return repr(value) if value - value == 0.0 else "null"


@dataclass
class Batch:
    """Points from the head of the outbox, as (key, steps, values) slices in the order logged, and where each
    series it read from ends."""

    slices: list[tuple[str, array[int], array[float]]] = field(default_factory=list)
    consumed: list[tuple[_Series, int]] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(len(steps) for _, steps, _ in self.slices)

    @property
    def body(self) -> bytes:
        """The batch as one POST body, per key as arrays: ``{"series": {"<key>": {"step": [...], "value": [...]}}}``
        (the API parses it about ten times as fast as points one by one). A key taken twice is one entry, its
        points in the order logged."""
        merged: dict[str, tuple[list[str], list[str]]] = {}
        for key, steps, values in self.slices:
            step_parts, value_parts = merged.setdefault(key, ([], []))
            step_parts.append(",".join(map(str, steps)))
            value_parts.append(",".join(map(_number, values)))
        # Keys are checked against trainboard.limits.METRIC_KEY, whose characters need no JSON escaping.
        series = ",".join(
            f'"{key}":{{"step":[{",".join(s)}],"value":[{",".join(v)}]}}' for key, (s, v) in merged.items()
        )
        return f'{{"series":{{{series}}}}}'.encode()

    @property
    def parts(self) -> list[str]:
        """Each point as a JSON object ``{"key", "step", "value"}``, the way a spool segment keeps them."""
        return [
            f'{{"key":"{key}","step":{step},"value":{_number(value)}}}'
            for key, steps, values in self.slices
            for step, value in zip(steps, values, strict=True)
        ]


class Outbox:
    """Points logged and not yet acknowledged. ``log()`` fills the buffers; one sender thread takes them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # What log() fills: key -> (steps, values), and their .append. take() swaps in fresh arrays under the
        # lock and owns the old ones from then on.
        self.buffers: dict[str, tuple[array[int], array[float]]] = {}
        self.appenders: dict[str, tuple[Callable[[Any], None], Callable[[int], None]]] = {}
        self.buffered = 0  # points in buffers
        self.taken = 0  # points taken by the sender, not yet acknowledged
        self._series: collections.deque[_Series] = collections.deque()

    @property
    def pending(self) -> int:
        """Points logged but not yet acknowledged."""
        with self.lock:
            return self.buffered + self.taken

    def add_key(self, key: str) -> None:
        """Start buffering ``key`` (call with the lock held)."""
        steps: array[int] = array("q")
        values: array[float] = array("d")
        self.buffers[key] = (steps, values)
        self.appenders[key] = (values.append, steps.append)

    def extend(self, points: Iterable[tuple[str, int, float]]) -> int:
        """Buffer (key, step, value) triples, e.g. the worker's ``Point``\\ s; returns how many are buffered now.

        A key seen for the first time must match ``trainboard.limits.METRIC_KEY`` (ValueError naming it)."""
        with self.lock:
            appenders = self.appenders
            count = 0
            try:
                for key, step, value in points:
                    try:
                        append_value, append_step = appenders[key]
                    except KeyError:
                        self.add_key(_checked_key(key))
                        append_value, append_step = appenders[key]
                    append_value(value)  # first: a value that is not a number leaves no step behind
                    append_step(step)
                    count += 1
            finally:
                self.buffered += count
            return self.buffered

    def take(self) -> None:
        """Move what log() buffered to the sender's side; log() continues on fresh arrays."""
        with self.lock:
            if not self.buffered:
                return
            taken = self.buffers
            self.buffers, self.appenders = {}, {}
            for key in taken:
                self.add_key(key)
            for key, (steps, values) in taken.items():
                if steps:
                    self._series.append(_Series(key, steps, values))
            self.taken += self.buffered
            self.buffered = 0

    def next_batch(self, max_points: int) -> Batch:
        """Up to ``max_points`` taken points, oldest first; they stay until acknowledged."""
        batch = Batch()
        room = max_points
        for series in self._series:
            if not room:
                break
            end = min(len(series.steps), series.done + room)
            batch.slices.append((series.key, series.steps[series.done : end], series.values[series.done : end]))
            batch.consumed.append((series, end))
            room -= end - series.done
        return batch

    def acknowledge(self, batch: Batch) -> None:
        """The API answered for ``batch`` (stored, or refused for good): drop its points from the outbox."""
        for series, end in batch.consumed:
            series.done = end
            if end == len(series.steps):
                self._series.popleft()
        with self.lock:
            self.taken -= batch.points

    def drop_all(self) -> int:
        """Forget every point, logged or taken; returns how many."""
        with self.lock:
            dropped = self.taken + self.buffered
            self._series.clear()
            self.taken = 0
            for steps, values in self.buffers.values():
                del steps[:], values[:]
            self.buffered = 0
            return dropped


def _checked_key(key: str) -> str:
    if not METRIC_KEY.fullmatch(key):
        raise ValueError(f"metric key {key!r}: use 1 to 64 characters among letters, digits and _ . : / -")
    return key
