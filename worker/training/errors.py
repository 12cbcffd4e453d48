"""Errors the training core raises on purpose, so the worker and the CLI can tell users what to do."""

from __future__ import annotations


class DataError(Exception):
    """The dataset is missing, unreadable or corrupt; the message says which file and where files belong."""


class Aborted(Exception):
    """The callback asked to abort the run now (cancelled, or taken over); the last completed epoch is checkpointed."""
