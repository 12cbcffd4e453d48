"""Errors the training core raises on purpose, so the worker and the CLI can tell users what to do."""

from __future__ import annotations


class DataError(Exception):
    """The dataset is missing, unreadable or corrupt; the message says which file and where files belong."""


class Stopped(Exception):
    """The callback asked the run to stop (cancellation); the last completed epoch is checkpointed."""
