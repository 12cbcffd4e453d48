"""CIFAR-10 from torchvision's on-disk layout: ``<data_dir>/cifar-10-batches-py/`` (the "python version").

``data_batch_1`` … ``data_batch_5`` and ``test_batch`` are pickled dicts with ``b"data"`` (N x 3072 uint8: the
red, green and blue 32x32 planes of each image) and ``b"labels"``; ``batches.meta`` names the classes in
``b"label_names"``. Read directly (no torchvision, no download): a missing file is a ``DataError`` saying where
it goes.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from worker.training.errors import DataError

Pair = tuple[torch.Tensor, torch.Tensor]
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
PIXELS = 3 * 32 * 32


def cifar10_missing_message(root: Path) -> str:
    names = ", ".join([*TRAIN_BATCHES, TEST_BATCH, META])
    return (
        f"CIFAR-10 not found in {root}. Put the python version's files ({names}) in "
        f"$TRAINBOARD_DATA_DIR/{FOLDER}/ (unpack cifar-10-python.tar.gz in $TRAINBOARD_DATA_DIR, or run once, "
        "online: torchvision.datasets.CIFAR10(root=$TRAINBOARD_DATA_DIR, download=True))."
    )


def load_cifar10(data_dir: Path) -> tuple[Pair, Pair, tuple[str, ...]]:
    """Train and test (uint8 images N x 3 x 32 x 32, int64 labels) and the class names, from ``data_dir``."""
    root = data_dir / FOLDER
    if not all((root / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH, META)):
        raise DataError(cifar10_missing_message(root))
    names = _unpickle(root / META).get(b"label_names")
    if not isinstance(names, list) or not names:
        raise DataError(f"{root / META}: no b'label_names' list; replace it with a good copy")
    classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    train = _read_batches([root / name for name in TRAIN_BATCHES], len(classes))
    test = _read_batches([root / TEST_BATCH], len(classes))
    return train, test, classes


def _read_batches(paths: list[Path], n_classes: int) -> Pair:
    images, labels = [], []
    for path in paths:
        batch = _unpickle(path)
        data, batch_labels = batch.get(b"data"), batch.get(b"labels")
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
            raise DataError(f"{path}: b'data' is not an N x {PIXELS} uint8 array; replace it with a good copy")
        if not isinstance(batch_labels, list) or len(batch_labels) != data.shape[0]:
            raise DataError(f"{path}: b'labels' does not hold one label per image; replace it with a good copy")
        y = np.asarray(batch_labels, dtype=np.int64)
        if y.size and not 0 <= int(y.min()) <= int(y.max()) < n_classes:
            raise DataError(f"{path}: label {int(y.max())} is not one of the {n_classes} classes in {META}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(y)
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts, lists, bytes and numpy arrays, and refuses any other class (a pickle can run code)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: a CIFAR-10 batch holds only arrays and lists")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict[Any, Any]:
    try:
        with path.open("rb") as file:
            loaded = _ArraysOnly(file, encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: cannot read it ({exc}); replace it with a good copy") from exc
    if not isinstance(loaded, dict):
        raise DataError(f"{path}: not a pickled dict as CIFAR-10's python version holds; replace it with a good copy")
    return loaded
