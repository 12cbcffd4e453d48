"""Datasets as whole tensors on the training device: MNIST from IDX files, Dogs vs Cats from JPEGs.

Both datasets fit in memory (full MNIST is 188 MB as float32, full Dogs vs Cats at 64x64 is 307 MB
as uint8), so the loop batches by indexing device tensors: no DataLoader, no per-sample Python.
MNIST is stored as float32 in [0, 1] (what torchvision's ``ToTensor`` gives, as in the report);
Dogs vs Cats stays uint8 and ``Data.inputs`` scales each batch to [-1, 1] on the device.

Dogs vs Cats images are decoded once into a uint8 cache under ``cache_dir``, keyed by the sorted
(relative path, size, mtime_ns) of every image, so any changed, added or removed file rebuilds it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from trainboard.spec import RunSpec
from worker.training.errors import DataError

logger = logging.getLogger(__name__)

MNIST_CLASSES = tuple(str(d) for d in range(10))
DOGS_VS_CATS_CLASSES = ("cat", "dog")
IMAGE_SIZE = 64
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
FLAT_TEST_FRACTION = 0.1
_CACHE_VERSION = 1
_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class Split:
    """Images ``x`` (N x C x H x W: float32 in [0, 1] or uint8) and int64 labels ``y``, on one device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: torch.device) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class Data:
    """The three splits of one dataset and its class names."""

    name: str
    train: Split
    valid: Split
    test: Split
    classes: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Channels, height, width of one image."""
        c, h, w = self.train.x.shape[1:]
        return int(c), int(h), int(w)

    def to(self, device: torch.device) -> Data:
        return replace(self, train=self.train.to(device), valid=self.valid.to(device), test=self.test.to(device))

    @staticmethod
    def inputs(x: torch.Tensor) -> torch.Tensor:
        """The model's float input for stored images: uint8 becomes [-1, 1], float passes through."""
        if x.is_floating_point():
            return x
        return x.float().mul_(2.0 / 255.0).sub_(1.0)

    @staticmethod
    def pixels(x: torch.Tensor) -> torch.Tensor:
        """Stored images as uint8 (N x C x H x W) for pictures."""
        if x.dtype == torch.uint8:
            return x
        return x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def load_data(spec: RunSpec, *, data_dir: Path, cache_dir: Path) -> Data:
    """Load the spec's dataset on the CPU, hold out its validation split and apply ``limit_train``."""
    if spec.dataset == "mnist":
        (train_x, train_y), (test_x, test_y) = load_mnist(data_dir)
        classes = MNIST_CLASSES
        train_x, test_x = train_x.float().div_(255.0), test_x.float().div_(255.0)
    else:
        (train_x, train_y), (test_x, test_y) = load_dogs_vs_cats(data_dir, cache_dir=cache_dir)
        classes = DOGS_VS_CATS_CLASSES
    train, valid = split_validation(
        Split(train_x, train_y), fraction=spec.valid_fraction, seed=spec.seed, limit=spec.limit_train
    )
    return Data(spec.dataset, train, valid, Split(test_x, test_y), classes)


def split_validation(full: Split, *, fraction: float, seed: int, limit: int | None) -> tuple[Split, Split]:
    """Hold out ``fraction`` of the training set (a seeded permutation), then cap the rest at ``limit``."""
    n = len(full)
    n_valid = min(max(1, round(n * fraction)), n - 1)
    if n_valid < 1:
        raise DataError(f"the training set has {n} example(s): too few to hold out a validation split")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    valid_idx, train_idx = perm[:n_valid], perm[n_valid:]
    if limit is not None:
        train_idx = train_idx[:limit]
    return Split(full.x[train_idx], full.y[train_idx]), Split(full.x[valid_idx], full.y[valid_idx])


def augment(x: torch.Tensor, *, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop of the zero-padded batch plus a random horizontal flip, per image, in one gather."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = torch.randint(0, 2 * pad + 1, (2, n, 1), generator=generator, device=x.device)
    rows = offsets[0] + torch.arange(h, device=x.device)
    cols = offsets[1] + torch.arange(w, device=x.device)
    flip = torch.rand(n, 1, generator=generator, device=x.device) < 0.5
    cols = torch.where(flip, cols.flip(1), cols)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channel = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


# --- MNIST -------------------------------------------------------------------------------------


def mnist_missing_message(raw: Path) -> str:
    names = ", ".join(name for pair in _MNIST_FILES.values() for name in pair)
    return (
        f"MNIST not found in {raw}. Put the four IDX files ({names}), plain or .gz, in "
        "$TRAINBOARD_DATA_DIR/MNIST/raw/ (e.g. $TRAINBOARD_DATA_DIR/MNIST/raw/train-images-idx3-ubyte(.gz)), "
        "or run once on a machine with internet access so torchvision can download them."
    )


def download_mnist(data_dir: Path) -> None:
    """Let torchvision fetch MNIST into ``data_dir/MNIST/raw`` (fails fast when offline)."""
    from torchvision import datasets

    for train in (True, False):
        datasets.MNIST(root=str(data_dir), train=train, download=True)


def load_mnist(data_dir: Path) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Train and test (uint8 images N x 1 x 28 x 28, int64 labels) from ``data_dir/MNIST/raw``."""
    raw = data_dir / "MNIST" / "raw"
    if not _mnist_present(raw):
        logger.info("MNIST not in %s; trying a torchvision download", raw)
        try:
            download_mnist(data_dir)
        except Exception as exc:  # noqa: BLE001 - any download failure means "put the files there yourself"
            raise DataError(f"{mnist_missing_message(raw)} (download failed: {exc})") from exc
        if not _mnist_present(raw):
            raise DataError(mnist_missing_message(raw))
    splits = []
    for images_name, labels_name in _MNIST_FILES.values():
        images_path, labels_path = _idx_path(raw, images_name), _idx_path(raw, labels_name)
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(f"{images_path}: expected 28x28 images, found shape {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images in {images_path}")
        if labels.size and int(labels.max()) > 9:
            raise DataError(f"{labels_path}: label {int(labels.max())} is not a digit")
        splits.append((torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))))
    return splits[0], splits[1]


def _mnist_present(raw: Path) -> bool:
    return all(_idx_path(raw, name).exists() for pair in _MNIST_FILES.values() for name in pair)


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


# --- Dogs vs Cats ------------------------------------------------------------------------------

Labeled = list[tuple[Path, int]]


def dogs_vs_cats_missing_message(root: Path) -> str:
    return (
        f"Dogs vs Cats images not found in {root}. Put them in $TRAINBOARD_DATA_DIR/dogs-vs-cats/ as "
        "train/{cat,dog}/*.jpg and test/{cat,dog}/*.jpg, or as Kaggle's flat train/cat.N.jpg, train/dog.N.jpg."
    )


def load_dogs_vs_cats(
    data_dir: Path, *, cache_dir: Path
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Train and test (uint8 images N x 3 x 64 x 64, int64 labels 0 = cat, 1 = dog), via the cache."""
    root = data_dir / "dogs-vs-cats"
    train_files, test_files = find_dogs_vs_cats(root)
    key = _cache_key(root, train_files, test_files)
    root_tag = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    cache_path = cache_dir / f"dogs-vs-cats-{root_tag}-{key[:20]}.pt"
    if cache_path.exists():
        try:
            cached = torch.load(cache_path, weights_only=True)
            return (cached["train_x"], cached["train_y"]), (cached["test_x"], cached["test_y"])
        except Exception as exc:  # noqa: BLE001 - a broken cache is rebuilt, never fatal
            logger.warning("ignoring unreadable cache %s: %s", cache_path, exc)
    logger.info("decoding %d images from %s into %s", len(train_files) + len(test_files), root, cache_path)
    train, test = _decode_all(train_files), _decode_all(test_files)
    _write_cache(cache_path, {"train_x": train[0], "train_y": train[1], "test_x": test[0], "test_y": test[1]})
    for stale in cache_dir.glob(f"dogs-vs-cats-{root_tag}-*.pt"):
        if stale != cache_path:
            stale.unlink(missing_ok=True)
    return train, test


def find_dogs_vs_cats(root: Path) -> tuple[Labeled, Labeled]:
    """Labelled train and test files: ``{train,test}/{cat,dog}/`` folders, or Kaggle's flat ``train/``."""
    train_dir = root / "train"
    if any((train_dir / name).is_dir() for name in DOGS_VS_CATS_CLASSES):
        train = _folder_files(train_dir)
        test = _folder_files(root / "test") if (root / "test").is_dir() else []
    else:
        train = _flat_files(train_dir)
        test = []
    if not train:
        raise DataError(dogs_vs_cats_missing_message(root))
    if not test:
        train, test = carve_test(train, fraction=FLAT_TEST_FRACTION)
    return train, test


def carve_test(files: Labeled, *, fraction: float) -> tuple[Labeled, Labeled]:
    """Split off a test set: the files whose name hashes sort first, so it never depends on the seed."""
    ranked = sorted(files, key=lambda item: hashlib.sha1(item[0].name.encode()).hexdigest())
    n_test = max(1, math.ceil(len(ranked) * fraction))
    return sorted(ranked[n_test:]), sorted(ranked[:n_test])


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _folder_files(split_dir: Path) -> Labeled:
    return [
        (path, label)
        for label, name in enumerate(DOGS_VS_CATS_CLASSES)
        for path in sorted((split_dir / name).glob("*"))
        if _is_image(path)
    ]


def _flat_files(train_dir: Path) -> Labeled:
    if not train_dir.is_dir():
        return []
    files = []
    for path in sorted(train_dir.iterdir()):
        prefix = path.name.split(".", 1)[0].lower()
        if _is_image(path) and prefix in DOGS_VS_CATS_CLASSES:
            files.append((path, DOGS_VS_CATS_CLASSES.index(prefix)))
        elif _is_image(path):
            logger.warning("skipping %s: a flat layout needs names like cat.N.jpg or dog.N.jpg", path)
    return files


def _cache_key(root: Path, train: Labeled, test: Labeled) -> str:
    entries = []
    for split, files in (("train", train), ("test", test)):
        for path, label in files:
            stat = path.stat()
            entries.append((split, str(path.relative_to(root)), label, stat.st_size, stat.st_mtime_ns))
    entries.sort()
    payload = json.dumps({"version": _CACHE_VERSION, "size": IMAGE_SIZE, "files": entries})
    return hashlib.sha256(payload.encode()).hexdigest()


def decode_image(path: Path, size: int = IMAGE_SIZE) -> np.ndarray:
    """One image as size x size x 3 uint8 RGB; DataError naming the file when it cannot be decoded."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: let the decoder downscale by DCT, much faster
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot decode this image ({exc}); replace or delete the file") from exc


def _decode_all(files: Labeled) -> tuple[torch.Tensor, torch.Tensor]:
    paths = [path for path, _ in files]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # PIL decodes without the GIL
        images = list(pool.map(decode_image, paths))
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([label for _, label in files], dtype=torch.int64)
    return x, y


def _write_cache(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(tensors, tmp)
    os.replace(tmp, path)
