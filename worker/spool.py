"""A run's undelivered metric points on local disk, oldest first, while the API cannot take them.

``$TRAINBOARD_HOME/spool/<run id>/`` holds numbered segment files of JSON lines, one point per line and at most
``segment_points`` points per file (one batch of the sender, ``trainboard.sender.MAX_BATCH_POINTS``), so a
segment is one POST when the API is back. It is the worker's overflow store
(``trainboard.sender.OverflowStore``): the sender writes its batches' points as it encoded them, and posts a
segment's lines joined into one body, without decoding them into Python objects. Only the reporter's sender
thread reads and writes them. A segment is deleted once the API has it; the directory goes when the run's
reporter closes with nothing left. The directory's ``.lock`` (an flock, released by the kernel when its process
dies) marks a spool whose writer is alive: :func:`leftover_spools` yields only the others, for any worker on
this machine to deliver. A line torn by a process killed mid-write is skipped.

Durability: a segment is fsynced, with its directory entry, when it closes (it is full, or the spool is closed
with points left in it), so a closed segment survives a power loss or a kernel crash. The open segment survives
the process dying (its writes are in the kernel's page cache) but not a power loss: syncing every append would
cost a disk flush per batch for as long as the API is down, and at most ``segment_points`` points are at risk.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from trainboard.sender import MAX_BATCH_POINTS

logger = logging.getLogger(__name__)

SEGMENT_POINTS = MAX_BATCH_POINTS
LOCK_NAME = ".lock"
SUFFIX = ".jsonl"


class Spool:
    """Points spooled for one run. Not thread-safe: one thread (the reporter's sender) owns it."""

    def __init__(self, directory: Path, *, segment_points: int = SEGMENT_POINTS) -> None:
        if segment_points < 1:
            raise ValueError("segment_points must be at least 1")
        self.directory = directory
        self.segment_points = segment_points
        self._lock_fd: int | None = None
        self._segments = _segments(directory)  # oldest first; includes leftovers of a dead process
        self._tail_points = 0  # points in the last segment, when this process may still append to it
        self._tail_open = False

    @property
    def empty(self) -> bool:
        return not self._segments

    @property
    def segments(self) -> int:
        return len(self._segments)

    def lock(self) -> bool:
        """Mark this spool as in use by a live process; False when another live process holds it."""
        if self._lock_fd is not None:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        self._segments = _segments(self.directory)  # what the last holder left, now that it cannot change
        return True

    def append(self, points: Sequence[str]) -> None:
        """Add points, each a JSON object on one line, after everything already spooled."""
        start = 0
        while start < len(points):
            if not self._tail_open or self._tail_points >= self.segment_points:
                self._new_segment()
            room = self.segment_points - self._tail_points
            chunk = points[start : start + room]
            lines = "\n".join(chunk) + "\n"
            with open(self._segments[-1], "a", encoding="utf-8") as file:
                file.write(lines)
                self._tail_points += len(chunk)
                if self._tail_points >= self.segment_points:
                    file.flush()
                    _sync(self._segments[-1], file.fileno())
            start += len(chunk)

    def oldest(self) -> tuple[Path, list[str]] | None:
        """The oldest segment and its points (JSON objects), or None when nothing is spooled."""
        while self._segments:
            segment = self._segments[0]
            try:
                return segment, _read(segment)
            except FileNotFoundError:  # delivered by another process in the meantime
                self._segments.pop(0)
        return None

    def remove(self, segment: Path) -> None:
        """Forget a delivered segment (always the oldest)."""
        segment.unlink(missing_ok=True)
        if self._segments and self._segments[0] == segment:
            self._segments.pop(0)
        if not self._segments:
            self._tail_open = False

    def close(self) -> None:
        """Sync the open segment, release the lock; remove the directory if nothing is left in it."""
        if self._tail_open and self._segments and self._tail_points:
            with contextlib.suppress(FileNotFoundError):  # read-only: a segment gone is not created again
                fd = os.open(self._segments[-1], os.O_RDONLY)
                try:
                    _sync(self._segments[-1], fd)
                finally:
                    os.close(fd)
            self._tail_open = False
        if self._lock_fd is not None and not self._segments:
            with contextlib.suppress(OSError):
                (self.directory / LOCK_NAME).unlink(missing_ok=True)
                self.directory.rmdir()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _new_segment(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        last = max((_sequence(p) for p in [*self._segments, *_segments(self.directory)]), default=0)
        self._segments.append(self.directory / f"{last + 1:012d}-{os.getpid()}{SUFFIX}")
        self._tail_points = 0
        self._tail_open = True


def leftover_spools(root: Path, *, skip: int | None = None) -> list[tuple[int, Spool]]:
    """The spools under ``root`` that no live process holds (their writer died), by run id, each locked for the
    caller, who must ``close()`` them all. ``skip`` is a run id to leave alone."""
    if not root.is_dir():
        return []
    found: list[tuple[int, Spool]] = []
    for directory in root.iterdir():
        if not directory.is_dir() or not directory.name.isdigit() or int(directory.name) == skip:
            continue
        spool = Spool(directory)
        if spool.lock():
            found.append((int(directory.name), spool))
    return sorted(found, key=lambda item: item[0])


def _sync(segment: Path, fd: int) -> None:
    """Put the segment's data on disk, and its name: a new file's directory entry is only durable once its
    directory is synced too."""
    os.fsync(fd)
    directory = os.open(segment.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _segments(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if p.name.endswith(SUFFIX)), key=lambda p: (_sequence(p), p.name))


def _sequence(path: Path) -> int:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def _read(segment: Path) -> list[str]:
    points: list[str] = []
    with open(segment, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            try:
                if isinstance(json.loads(line), dict):  # checked, then sent as it was written
                    points.append(line.rstrip("\n"))
            except json.JSONDecodeError:
                logger.warning("%s:%d: skipping a torn line (its writer died mid-write)", segment, number)
    return points
