"""Datasets as whole tensors on the training device, whichever of the built-in loop's datasets a spec names.

``mnist`` and ``fashion-mnist`` (IDX files: ``idx_files.py``), ``cifar10`` (pickled batches: ``cifar_files.py``),
``dogs-vs-cats`` and ``folder:NAME`` (folders of images resized to ``image_size``: ``image_files.py``), each in
torchvision's on-disk layout under the data dir. They fit in memory (full MNIST is 188 MB as float32, CIFAR-10's
60,000 images 184 MB as uint8, Dogs vs Cats at 64x64 307 MB as uint8), so the loop batches by indexing device
tensors: no DataLoader, no per-sample Python. MNIST and Fashion-MNIST are stored as float32 in [0, 1] (what
torchvision's ``ToTensor`` gives, as in the report); colour images stay uint8 and ``Data.inputs`` scales each batch
to [-1, 1] on the device.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from trainboard.spec import DEFAULT_IMAGE_SIZE, RunSpec
from worker.training.cifar_files import load_cifar10
from worker.training.errors import DataError
from worker.training.idx_files import FASHION_MNIST_CLASSES, MNIST_CLASSES, load_fashion_mnist, load_mnist
from worker.training.image_files import DOGS_VS_CATS_CLASSES, load_dogs_vs_cats, load_image_folder

logger = logging.getLogger(__name__)


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
    (train_x, train_y), (test_x, test_y), classes = _load_files(spec, data_dir=data_dir, cache_dir=cache_dir)
    if spec.dataset in ("mnist", "fashion-mnist"):
        train_x, test_x = train_x.float().div_(255.0), test_x.float().div_(255.0)
    train, valid = split_validation(
        Split(train_x, train_y), fraction=spec.valid_fraction, seed=spec.seed, limit=spec.limit_train
    )
    return Data(spec.dataset, train, valid, Split(test_x, test_y), classes)


def _load_files(
    spec: RunSpec, *, data_dir: Path, cache_dir: Path
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor], tuple[str, ...]]:
    """Train and test images (uint8, N x C x H x W) with int64 labels, and the class names."""
    size = spec.image_size or DEFAULT_IMAGE_SIZE
    folder = spec.folder_name()
    if folder is not None:
        return load_image_folder(data_dir, folder, cache_dir=cache_dir, size=size)
    if spec.dataset == "mnist":
        return (*load_mnist(data_dir), MNIST_CLASSES)
    if spec.dataset == "fashion-mnist":
        return (*load_fashion_mnist(data_dir), FASHION_MNIST_CLASSES)
    if spec.dataset == "cifar10":
        return load_cifar10(data_dir)
    return (*load_dogs_vs_cats(data_dir, cache_dir=cache_dir, size=size), DOGS_VS_CATS_CLASSES)


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
