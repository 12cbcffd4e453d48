"""Folders of images: Dogs vs Cats, and any ``folder:NAME`` laid out as torchvision's ``ImageFolder`` expects.

Dogs vs Cats lives in ``<data_dir>/dogs-vs-cats/`` as ``{train,test}/{cat,dog}/*.jpg`` or Kaggle's flat
``train/cat.N.jpg``; an image folder ``NAME`` in ``<data_dir>/NAME/{train,test}/<class>/*`` (JPEG or PNG), its
classes the sorted names of the folders in ``train/``. Without a ``test/`` folder a tenth of the training images
becomes the test set (the same files whatever the seed). Every image is resized to ``size`` x ``size`` RGB.

Images are decoded once into a uint8 cache under ``cache_dir``, keyed by the size and the sorted (relative path,
label, size, mtime_ns) of every image, so any changed, added or removed file rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from worker.training.errors import DataError

logger = logging.getLogger(__name__)

Pair = tuple[torch.Tensor, torch.Tensor]
Labeled = list[tuple[Path, int]]
DOGS_VS_CATS_CLASSES = ("cat", "dog")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
FLAT_TEST_FRACTION = 0.1
_CACHE_VERSION = 2


def dogs_vs_cats_missing_message(root: Path) -> str:
    return (
        f"Dogs vs Cats images not found in {root}. Put them in $TRAINBOARD_DATA_DIR/dogs-vs-cats/ as "
        "train/{cat,dog}/*.jpg and test/{cat,dog}/*.jpg, or as Kaggle's flat train/cat.N.jpg, train/dog.N.jpg."
    )


def load_dogs_vs_cats(data_dir: Path, *, cache_dir: Path, size: int = 64) -> tuple[Pair, Pair]:
    """Train and test (uint8 images N x 3 x size x size, int64 labels 0 = cat, 1 = dog), via the cache."""
    root = data_dir / "dogs-vs-cats"
    train_files, test_files = find_dogs_vs_cats(root)
    return load_cached(root, train_files, test_files, cache_dir=cache_dir, size=size, classes=DOGS_VS_CATS_CLASSES)


def load_image_folder(data_dir: Path, name: str, *, cache_dir: Path, size: int) -> tuple[Pair, Pair, tuple[str, ...]]:
    """Train and test (uint8 images N x 3 x size x size, int64 labels) of ``data_dir/name``, and its class names."""
    root = data_dir / name
    classes = find_classes(root)
    train_files = labeled_files(root / "train", classes)
    if not train_files:
        raise DataError(folder_missing_message(root, name))
    test_files = labeled_files(root / "test", classes) if (root / "test").is_dir() else []
    if (root / "test").is_dir():
        unknown = sorted(p.name for p in (root / "test").iterdir() if p.is_dir() and p.name not in classes)
        if unknown:
            raise DataError(f"{root / 'test'}: class folder(s) {', '.join(unknown)} are not in {root / 'train'}")
    if not test_files:
        train_files, test_files = carve_test(train_files, fraction=FLAT_TEST_FRACTION)
    train, test = load_cached(root, train_files, test_files, cache_dir=cache_dir, size=size, classes=classes)
    return train, test, classes


def folder_missing_message(root: Path, name: str) -> str:
    return (
        f"image folder '{name}' not found in {root}. Put its images in $TRAINBOARD_DATA_DIR/{name}/train/<class>/*.jpg "
        f"(and $TRAINBOARD_DATA_DIR/{name}/test/<class>/*.jpg; without it a tenth of train is the test set), "
        "one folder per class, as torchvision's ImageFolder reads them."
    )


def find_classes(root: Path) -> tuple[str, ...]:
    """The class names of an image folder: the sorted names of the folders in ``root/train`` that hold images."""
    train = root / "train"
    if not train.is_dir():
        raise DataError(folder_missing_message(root, root.name))
    classes = tuple(sorted(p.name for p in train.iterdir() if p.is_dir() and any(map(_is_image, p.iterdir()))))
    if len(classes) < 2:
        found = f"only '{classes[0]}'" if classes else "none"
        raise DataError(f"{train}: needs at least two class folders holding images, found {found}")
    return classes


def labeled_files(split_dir: Path, classes: tuple[str, ...]) -> Labeled:
    files = [(path, label) for label, name in enumerate(classes) for path in sorted((split_dir / name).glob("*"))]
    return [(path, label) for path, label in files if _is_image(path)]


def find_dogs_vs_cats(root: Path) -> tuple[Labeled, Labeled]:
    """Labelled train and test files: ``{train,test}/{cat,dog}/`` folders, or Kaggle's flat ``train/``."""
    train_dir = root / "train"
    if any((train_dir / name).is_dir() for name in DOGS_VS_CATS_CLASSES):
        train = labeled_files(train_dir, DOGS_VS_CATS_CLASSES)
        test = labeled_files(root / "test", DOGS_VS_CATS_CLASSES) if (root / "test").is_dir() else []
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


def load_cached(
    root: Path, train: Labeled, test: Labeled, *, cache_dir: Path, size: int, classes: tuple[str, ...]
) -> tuple[Pair, Pair]:
    """The decoded train and test images of ``root``, from the cache when no file changed since it was written."""
    key = _cache_key(root, train, test, size=size, classes=classes)
    root_tag = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    prefix = f"{root.name}-{root_tag}-{size}px"
    cache_path = cache_dir / f"{prefix}-{key[:20]}.pt"
    if cache_path.exists():
        try:
            cached = torch.load(cache_path, weights_only=True)
            return (cached["train_x"], cached["train_y"]), (cached["test_x"], cached["test_y"])
        except Exception as exc:  # noqa: BLE001 - a broken cache is rebuilt, never fatal
            logger.warning("ignoring unreadable cache %s: %s", cache_path, exc)
    logger.info("decoding %d images from %s into %s", len(train) + len(test), root, cache_path)
    train_xy, test_xy = _decode_all(train, size), _decode_all(test, size)
    tensors = {"train_x": train_xy[0], "train_y": train_xy[1], "test_x": test_xy[0], "test_y": test_xy[1]}
    _write_cache(cache_path, tensors)
    for stale in cache_dir.glob(f"{prefix}-*.pt"):
        if stale != cache_path:
            stale.unlink(missing_ok=True)
    return train_xy, test_xy


def _cache_key(root: Path, train: Labeled, test: Labeled, *, size: int, classes: tuple[str, ...]) -> str:
    entries = []
    for split, files in (("train", train), ("test", test)):
        for path, label in files:
            stat = path.stat()
            entries.append((split, str(path.relative_to(root)), label, stat.st_size, stat.st_mtime_ns))
    entries.sort()
    payload = json.dumps({"version": _CACHE_VERSION, "size": size, "classes": classes, "files": entries})
    return hashlib.sha256(payload.encode()).hexdigest()


def decode_image(path: Path, size: int = 64) -> np.ndarray:
    """One image as size x size x 3 uint8 RGB; DataError naming the file when it cannot be decoded."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: let the decoder downscale by DCT, much faster
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot decode this image ({exc}); replace or delete the file") from exc


def _decode_all(files: Labeled, size: int) -> Pair:
    paths = [path for path, _ in files]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # PIL decodes without the GIL
        images = list(pool.map(lambda path: decode_image(path, size), paths))
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([label for _, label in files], dtype=torch.int64)
    return x, y


def _write_cache(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(tensors, tmp)
    os.replace(tmp, path)
