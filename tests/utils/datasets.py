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


def write_fashion_mnist(data_dir: Path, *, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """Write gzipped Fashion-MNIST IDX files under ``data_dir/FashionMNIST/raw`` (torchvision's layout)."""
    raw = data_dir / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, offset in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = learnable_digits(n, seed + offset)
        images = images.transpose(0, 2, 1).copy()  # vertical bands: not the MNIST files under another name
        for suffix, array in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            (raw / f"{prefix}-{suffix}.gz").write_bytes(gzip.compress(_idx_bytes(array)))
    return data_dir


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def coloured_square(rng: np.random.Generator, label: int, size: int) -> np.ndarray:
    """A size x size x 3 uint8 image of dim noise with a bright square whose place and colour say ``label``."""
    pixels = rng.integers(0, 60, size=(size, size, 3)).astype(np.uint8)
    cell = size // 4
    row, col = divmod(label % 16, 4)
    pixels[row * cell : (row + 1) * cell, col * cell : (col + 1) * cell, label % 3] = 250
    return pixels


def write_cifar10(data_dir: Path, *, n_per_batch: int = 60, n_test: int = 100, seed: int = 0) -> Path:
    """Write CIFAR-10's python version under ``data_dir/cifar-10-batches-py``: pickled dicts, as the real files."""
    import pickle

    root = data_dir / "cifar-10-batches-py"
    root.mkdir(parents=True, exist_ok=True)
    batches = [(f"data_batch_{i}", n_per_batch) for i in range(1, 6)] + [("test_batch", n_test)]
    for i, (name, n) in enumerate(batches):
        rng = np.random.default_rng(seed + i)
        labels = rng.integers(0, 10, size=n)
        images = np.stack([coloured_square(rng, int(label), 32) for label in labels])
        planes = images.transpose(0, 3, 1, 2).reshape(n, 3072)  # red plane, green plane, blue plane
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in labels], b"data": planes}
        batch[b"filenames"] = [f"{name}_{j}.png".encode() for j in range(n)]
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_cases_per_batch": n_per_batch}
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return data_dir


def write_image_folder(
    data_dir: Path,
    name: str,
    *,
    classes: tuple[str, ...] = ("apple", "banana", "cherry"),
    n_train: int = 10,
    n_test: int = 4,
    size: int = 40,
    seed: int = 0,
) -> Path:
    """Write ``data_dir/name/{train,test}/<class>/img*.{jpg,png}``, torchvision's ImageFolder layout (no test/ when
    ``n_test`` is 0)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n_per_class in (("train", n_train), ("test", n_test)):
        for label, class_name in enumerate(classes):
            folder = data_dir / name / split / class_name
            for i in range(n_per_class):
                folder.mkdir(parents=True, exist_ok=True)
                suffix = "png" if i % 2 else "jpg"
                Image.fromarray(coloured_square(rng, label, size)).save(folder / f"img{i}.{suffix}")
    return data_dir
