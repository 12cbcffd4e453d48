"""Loading MNIST and Dogs vs Cats: layouts, splits, the decode cache, and clear errors for bad files."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.utils.datasets import write_dogs_vs_cats, write_mnist
from tests.worker.training.helpers import small_spec
from worker.training import idx_files, image_files
from worker.training.data import augment, load_data
from worker.training.errors import DataError
from worker.training.idx_files import load_mnist
from worker.training.image_files import load_dogs_vs_cats

SHARED_DATA = Path("/work/shared/data")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_loads_from_plain_or_gzipped_idx(tmp_path: Path, gz: bool) -> None:
    write_mnist(tmp_path, n_train=50, n_test=20, gz=gz)
    (train_x, train_y), (test_x, test_y) = load_mnist(tmp_path)
    assert train_x.shape == (50, 1, 28, 28) and train_x.dtype == torch.uint8
    assert test_x.shape == (20, 1, 28, 28) and test_y.shape == (20,)
    assert int(train_y.max()) <= 9


def test_validation_split_is_held_out_deterministic_and_limit_caps_training(mnist_dir: Path, tmp_path: Path) -> None:
    spec = small_spec(valid_fraction=0.2, limit_train=100, seed=3)
    first = load_data(spec, data_dir=mnist_dir, cache_dir=tmp_path / "cache")
    again = load_data(spec, data_dir=mnist_dir, cache_dir=tmp_path / "cache")
    assert (len(first.train), len(first.valid), len(first.test)) == (100, 120, 200)
    assert torch.equal(first.valid.x, again.valid.x) and torch.equal(first.train.y, again.train.y)
    assert first.train.x.dtype == torch.float32 and first.train.x.min() >= 0.0 and first.train.x.max() <= 1.0
    train_rows = {row.numpy().tobytes() for row in first.train.x}
    assert not any(row.numpy().tobytes() in train_rows for row in first.valid.x)
    other_seed = load_data(small_spec(valid_fraction=0.2, seed=4), data_dir=mnist_dir, cache_dir=tmp_path / "cache")
    assert not torch.equal(first.valid.x, other_seed.valid.x)


def test_truncated_idx_names_the_file(mnist_dir: Path) -> None:
    path = mnist_dir / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="train-images-idx3-ubyte") as caught:
        load_mnist(mnist_dir)
    assert str(path) in str(caught.value) and "truncated" in str(caught.value)


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    write_mnist(tmp_path, n_train=50, n_test=20, gz=True)
    path = tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path)
    assert str(path) in str(caught.value)


def test_missing_mnist_says_where_to_put_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(data_dir: Path) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(idx_files, "download_mnist", offline)
    with pytest.raises(DataError) as caught:
        load_mnist(tmp_path / "empty")
    message = str(caught.value)
    assert "$TRAINBOARD_DATA_DIR/MNIST/raw/train-images-idx3-ubyte(.gz)" in message
    assert str(tmp_path / "empty" / "MNIST" / "raw") in message
    assert "network is unreachable" in message


def test_missing_dogs_vs_cats_says_where_to_put_the_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\$TRAINBOARD_DATA_DIR/dogs-vs-cats/.*train/\{cat,dog\}/\*\.jpg"):
        load_dogs_vs_cats(tmp_path, cache_dir=tmp_path / "cache")


def _is_cat(image: torch.Tensor) -> bool:
    """The test images are reddish for cats and bluish for dogs."""
    return bool(image[0].float().mean() > image[2].float().mean())


def test_dogs_vs_cats_folder_layout_loads_64px_rgb(dvc_dir: Path, tmp_path: Path) -> None:
    data = load_data(
        small_spec(dataset="dogs-vs-cats", valid_fraction=0.25), data_dir=dvc_dir, cache_dir=tmp_path / "cache"
    )
    assert data.classes == ("cat", "dog")
    assert data.train.x.shape[1:] == (3, 64, 64) and data.train.x.dtype == torch.uint8
    assert (len(data.train), len(data.valid), len(data.test)) == (18, 6, 24)
    for split in (data.train, data.valid, data.test):
        assert [_is_cat(image) for image in split.x] == [label == 0 for label in split.y.tolist()]


def test_kaggle_flat_layout_takes_labels_from_names_and_carves_a_test_set(tmp_path: Path) -> None:
    write_dogs_vs_cats(tmp_path, n_per_class=15, flat=True)
    (train_x, train_y), (test_x, test_y) = load_dogs_vs_cats(tmp_path, cache_dir=tmp_path / "cache")
    assert (len(train_y), len(test_y)) == (27, 3)  # 10 % of 30 held out as the test set
    for x, y in ((train_x, train_y), (test_x, test_y)):
        assert [_is_cat(image) for image in x] == [label == 0 for label in y.tolist()]
    (_, again_y), (again_test_x, _) = load_dogs_vs_cats(tmp_path, cache_dir=tmp_path / "other-cache")
    assert torch.equal(again_test_x, test_x) and torch.equal(again_y, train_y)


def test_non_rgb_images_are_converted(tmp_path: Path) -> None:
    write_dogs_vs_cats(tmp_path, n_per_class=3)
    gray = tmp_path / "dogs-vs-cats" / "train" / "cat" / "cat.0.jpg"
    Image.open(gray).convert("L").save(gray)
    (train_x, _), _ = load_dogs_vs_cats(tmp_path, cache_dir=tmp_path / "cache")
    assert train_x.shape == (6, 3, 64, 64)


def test_decode_cache_is_reused_and_rebuilt_when_a_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dogs_vs_cats(tmp_path, n_per_class=4)
    cache = tmp_path / "cache"
    decoded: list[Path] = []
    real_decode = image_files.decode_image

    def counting(path: Path, size: int = 64) -> np.ndarray:
        decoded.append(path)
        return real_decode(path, size)

    monkeypatch.setattr(image_files, "decode_image", counting)
    (first_x, _), _ = load_dogs_vs_cats(tmp_path, cache_dir=cache)
    assert len(decoded) == 16
    load_dogs_vs_cats(tmp_path, cache_dir=cache)
    assert len(decoded) == 16  # served from the cache

    changed = tmp_path / "dogs-vs-cats" / "train" / "cat" / "cat.0.jpg"
    Image.new("RGB", (48, 48), (0, 255, 0)).save(changed)
    (second_x, _), _ = load_dogs_vs_cats(tmp_path, cache_dir=cache)
    assert len(decoded) == 32
    assert not torch.equal(first_x, second_x)
    assert len(list(cache.glob("*.pt"))) == 1  # the stale cache is gone

    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same bytes
    load_dogs_vs_cats(tmp_path, cache_dir=cache)
    assert len(decoded) == 48


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_jpeg_names_the_file(tmp_path: Path, damage: str) -> None:
    write_dogs_vs_cats(tmp_path, n_per_class=3, size=128)
    bad = tmp_path / "dogs-vs-cats" / "test" / "dog" / "dog.1.jpg"
    blob = bad.read_bytes()
    bad.write_bytes(b"this is not a jpeg" if damage == "garbage" else blob[: len(blob) // 2])
    with pytest.raises(DataError) as caught:
        load_dogs_vs_cats(tmp_path, cache_dir=tmp_path / "cache")
    assert str(bad) in str(caught.value)


def test_augment_crops_and_flips_reproducibly() -> None:
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    first = augment(images, generator=torch.Generator().manual_seed(0), pad=2)
    again = augment(images, generator=torch.Generator().manual_seed(0), pad=2)
    assert first.shape == images.shape and torch.equal(first, again)
    unchanged = augment(images, generator=torch.Generator().manual_seed(0), pad=0)
    for original, out in zip(images, unchanged, strict=True):  # no padding: only flips remain
        assert torch.equal(out, original) or torch.equal(out, original.flip(-1))
    uint8 = augment(images.to(torch.uint8), generator=torch.Generator().manual_seed(1))
    assert uint8.dtype == torch.uint8


def test_gzip_of_a_bad_idx_header_is_rejected(tmp_path: Path) -> None:
    write_mnist(tmp_path, n_train=10, n_test=10)
    path = tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    path.unlink()
    (path.parent / f"{path.name}.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04junk"))
    with pytest.raises(DataError, match="not an IDX file"):
        load_mnist(tmp_path)


@pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw").is_dir(), reason="the shared real data is not on this machine")
def test_real_mnist_subset_loads(tmp_path: Path) -> None:
    data = load_data(small_spec(), data_dir=SHARED_DATA, cache_dir=tmp_path)
    assert (len(data.train), len(data.valid), len(data.test)) == (4500, 500, 10000)
    assert sorted(torch.bincount(data.test.y).tolist())[0] > 800  # all ten digits present
