"""Checkpoints: ``last.pt`` after every epoch (everything needed to continue) and ``best.pt``.

A checkpoint is a plain dict of tensors and builtins (loadable with ``weights_only=True``):
``model``, ``optimizer``, ``config`` (the run spec), ``epoch``, ``step`` (global iteration),
``history`` (per-epoch metrics), ``best`` (epoch, valid_acc, epochs since), ``best_model`` (the
best epoch's weights, so resuming never depends on a second file) and ``elapsed_s``.
Files are written to a temporary name and renamed, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

FORMAT = 1
# Spec fields that may change between a checkpoint and its resumption (more epochs is fine).
_FREE_ON_RESUME = {"name", "tags", "epochs", "device", "early_stopping", "dropout_schemes", "n_misclassified"}


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def last_path(run_dir: Path) -> Path:
    return checkpoint_dir(run_dir) / "last.pt"


def best_path(run_dir: Path) -> Path:
    return checkpoint_dir(run_dir) / "best.pt"


def save(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load(path: Path, *, device: torch.device) -> dict[str, Any]:
    """Read a checkpoint onto ``device``."""
    state: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
    if state.get("format") != FORMAT:
        raise ValueError(f"{path}: checkpoint format {state.get('format')!r}, this worker reads {FORMAT}")
    return state


def check_resumable(saved: dict[str, Any], current: dict[str, Any], *, path: Path) -> None:
    """Refuse to continue a checkpoint under a spec that would train a different model."""
    changed = sorted(
        key for key in set(saved) | set(current) if key not in _FREE_ON_RESUME and saved.get(key) != current.get(key)
    )
    if changed:
        raise ValueError(f"{path} was written for a different run spec (changed: {', '.join(changed)})")
