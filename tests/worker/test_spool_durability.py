"""The spool's durability: a closed segment (full, or left when the spool closes) is fsynced, file and directory,
and a fresh Spool on the same directory reads it back whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from worker.spool import Spool


def _points(first: int, count: int) -> list[str]:
    """Points as the sender spools them: each one JSON object."""
    return [json.dumps({"key": "loss", "step": step, "value": step / 10}) for step in range(first, first + count)]


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What os.fsync was called on: the file a descriptor names (directories too)."""
    calls: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    return calls


def test_a_full_segment_is_synced_with_its_directory_and_survives(tmp_path: Path, synced: list[str]) -> None:
    directory = tmp_path / "spool" / "7"
    spool = Spool(directory, segment_points=3)
    assert spool.lock()
    spool.append(_points(0, 4))  # one full segment, and one point in the next, still open
    full, open_one = sorted(directory.glob("*.jsonl"))
    assert synced == [str(full), str(directory)], "the full segment is synced, the open one is not yet"

    # as a process starting after a crash sees it: the closed segment whole, oldest first
    after = Spool(directory, segment_points=3)
    assert after.oldest() == (full, _points(0, 3))
    after.remove(full)
    assert after.oldest() == (open_one, _points(3, 1))
    spool.close()


def test_closing_the_spool_syncs_the_open_segment(tmp_path: Path, synced: list[str]) -> None:
    directory = tmp_path / "spool" / "8"
    spool = Spool(directory, segment_points=100)
    assert spool.lock()
    spool.append(_points(0, 5))
    assert synced == []
    spool.close()
    (segment,) = directory.glob("*.jsonl")
    assert synced == [str(segment), str(directory)]
    assert Spool(directory).oldest() == (segment, _points(0, 5))


def test_an_empty_spool_closes_without_syncing(tmp_path: Path, synced: list[str]) -> None:
    directory = tmp_path / "spool" / "9"
    spool = Spool(directory, segment_points=2)
    assert spool.lock()
    spool.append(_points(0, 1))
    oldest = spool.oldest()
    assert oldest is not None
    spool.remove(oldest[0])
    spool.close()
    assert synced == [] and not directory.exists()
