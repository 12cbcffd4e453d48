"""MNIST and Fashion-MNIST from torchvision's on-disk layout: ``<data_dir>/<Folder>/raw/`` IDX files, plain or .gz.

Both are four IDX files of unsigned bytes (28x28 images, labels 0-9). MNIST is downloaded by torchvision when
missing and the machine is online; Fashion-MNIST never is: a missing file is a ``DataError`` saying where it goes.
"""

from __future__ import annotations

import gzip
import logging
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from worker.training.errors import DataError

logger = logging.getLogger(__name__)

Pair = tuple[torch.Tensor, torch.Tensor]
MNIST_CLASSES = tuple(str(d) for d in range(10))
# torchvision.datasets.FashionMNIST.classes
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_missing_message(raw: Path, folder: str) -> str:
    names = ", ".join(name for pair in IDX_FILES.values() for name in pair)
    return (
        f"{folder} not found in {raw}. Put the four IDX files ({names}), plain or .gz, in "
        f"$TRAINBOARD_DATA_DIR/{folder}/raw/ (e.g. $TRAINBOARD_DATA_DIR/{folder}/raw/train-images-idx3-ubyte(.gz))"
    )


def mnist_missing_message(raw: Path) -> str:
    suffix = ", or run once on a machine with internet access so torchvision can download them."
    return idx_missing_message(raw, "MNIST") + suffix


def download_mnist(data_dir: Path) -> None:
    """Let torchvision fetch MNIST into ``data_dir/MNIST/raw`` (fails fast when offline)."""
    from torchvision import datasets

    for train in (True, False):
        datasets.MNIST(root=str(data_dir), train=train, download=True)


def load_mnist(data_dir: Path) -> tuple[Pair, Pair]:
    """Train and test (uint8 images N x 1 x 28 x 28, int64 labels) from ``data_dir/MNIST/raw``."""
    raw = data_dir / "MNIST" / "raw"
    if not idx_present(raw):
        logger.info("MNIST not in %s; trying a torchvision download", raw)
        try:
            download_mnist(data_dir)
        except Exception as exc:  # noqa: BLE001 - any download failure means "put the files there yourself"
            raise DataError(f"{mnist_missing_message(raw)} (download failed: {exc})") from exc
        if not idx_present(raw):
            raise DataError(mnist_missing_message(raw))
    return read_idx_splits(raw)


def load_fashion_mnist(data_dir: Path) -> tuple[Pair, Pair]:
    """Train and test (uint8 images N x 1 x 28 x 28, int64 labels) from ``data_dir/FashionMNIST/raw``."""
    raw = data_dir / "FashionMNIST" / "raw"
    if not idx_present(raw):
        raise DataError(
            f"{idx_missing_message(raw, 'FashionMNIST')}; "
            "torchvision.datasets.FashionMNIST(root=$TRAINBOARD_DATA_DIR, download=True) puts them there."
        )
    return read_idx_splits(raw)


def idx_present(raw: Path) -> bool:
    return all(_idx_path(raw, name).exists() for pair in IDX_FILES.values() for name in pair)


def read_idx_splits(raw: Path) -> tuple[Pair, Pair]:
    """The train and test images (N x 1 x 28 x 28 uint8) and labels (int64, 0-9) in ``raw``."""
    splits = []
    for images_name, labels_name in IDX_FILES.values():
        images_path, labels_path = _idx_path(raw, images_name), _idx_path(raw, labels_name)
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(f"{images_path}: expected 28x28 images, found shape {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images in {images_path}")
        if labels.size and int(labels.max()) > 9:
            raise DataError(f"{labels_path}: label {int(labels.max())} is not one of the 10 classes (0-9)")
        splits.append((torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))))
    return splits[0], splits[1]


def _idx_path(raw: Path, name: str) -> Path:
    plain = raw / name
    return plain if plain.exists() else raw / f"{name}.gz"


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped when its name ends in .gz) as an array."""
    try:
        blob = path.read_bytes()
        if path.suffix == ".gz":
            blob = gzip.decompress(blob)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read it ({exc}); replace it with a good copy") from exc
    if len(blob) < 4 or blob[:3] != b"\x00\x00\x08":
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad header); replace it with a good copy")
    ndim = blob[3]
    start = 4 + 4 * ndim
    if len(blob) < start:
        raise DataError(f"{path}: truncated inside its header; replace it with a good copy")
    dims = struct.unpack(f">{ndim}I", blob[4:start])
    expected = start + math.prod(dims)
    if len(blob) != expected:
        raise DataError(
            f"{path}: truncated or corrupt: {len(blob)} bytes, expected {expected} for shape {dims}; "
            "replace it with a good copy"
        )
    return np.frombuffer(blob, dtype=np.uint8, offset=start).reshape(dims)
