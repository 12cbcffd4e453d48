"""Tiny datasets the tests write themselves, laid out as TRAINBOARD_DATA_DIR expects."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def _idx_bytes(array: np.ndarray) -> bytes:
    type_code = 0x08  # unsigned byte
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def learnable_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 images whose label is written as a bright horizontal band: easy to learn in one epoch."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 2 + int(label) * 2
        images[i, row : row + 2, 4:24] = 255
    return images, labels


def write_mnist(data_dir: Path, *, n_train: int = 600, n_test: int = 200, seed: int = 0, gz: bool = False) -> Path:
    """Write MNIST IDX files under ``data_dir/MNIST/raw`` (torchvision's layout); returns ``data_dir``."""
    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, offset in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = learnable_digits(n, seed + offset)
        for suffix, array in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            data = _idx_bytes(array)
            path = raw / f"{prefix}-{suffix}"
            if gz:
                (raw / f"{path.name}.gz").write_bytes(gzip.compress(data))
            else:
                path.write_bytes(data)
    return data_dir


def write_dogs_vs_cats(
    data_dir: Path, *, n_per_class: int = 8, flat: bool = False, size: int = 48, seed: int = 0
) -> Path:
    """Write small JPEGs: cats reddish, dogs bluish. ``flat`` uses Kaggle's ``train/cat.N.jpg`` layout."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = data_dir / "dogs-vs-cats"
    for split in ("train",) if flat else ("train", "test"):
        for label, channel in (("cat", 0), ("dog", 2)):
            folder = root / split if flat else root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                pixels = rng.integers(0, 80, size=(size, size, 3)).astype(np.uint8)
                pixels[..., channel] = 220
                Image.fromarray(pixels).save(folder / f"{label}.{i}.jpg", quality=90)
    return data_dir
