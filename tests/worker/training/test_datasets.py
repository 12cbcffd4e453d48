"""Fashion-MNIST, CIFAR-10 and image folders in torchvision's layouts: loading, clear errors, and whole runs
whose models fit each input shape and whose galleries name each dataset's classes."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.utils.datasets import CIFAR10_CLASSES, write_cifar10, write_fashion_mnist, write_image_folder
from tests.worker.training.helpers import Recorder, small_spec
from worker.training.data import load_data
from worker.training.errors import DataError
from worker.training.idx_files import FASHION_MNIST_CLASSES
from worker.training.run import train

FRUIT = ("apple", "banana", "cherry")


def _load(data_dir: Path, tmp_path: Path, **spec: Any):
    return load_data(small_spec(**spec), data_dir=data_dir, cache_dir=tmp_path / "cache")


def _train(data_dir: Path, tmp_path: Path, **spec: Any) -> Recorder:
    recorder = Recorder()
    cache_dir, run_dir = tmp_path / "cache", tmp_path / "run"
    train(small_spec(**spec), data_dir=data_dir, cache_dir=cache_dir, run_dir=run_dir, callback=recorder)
    return recorder


def _square_label(image: torch.Tensor) -> int:
    """The label ``coloured_square`` painted: the place (of 16 cells) and colour of the bright square."""
    side = image.shape[-1] // 4
    cells = image.float().unfold(1, side, side).unfold(2, side, side).mean(dim=(-1, -2))  # C x 4 x 4
    channel, cell = divmod(int(cells.argmax()), 16)
    assert channel == cell % 3
    return cell


def test_fashion_mnist_loads_from_its_own_folder_with_its_class_names(tmp_path: Path) -> None:
    data = _load(write_fashion_mnist(tmp_path / "data", n_train=100, n_test=30), tmp_path, dataset="fashion-mnist")
    assert data.classes == FASHION_MNIST_CLASSES and data.classes[9] == "Ankle boot"
    assert data.shape == (1, 28, 28) and data.train.x.dtype == torch.float32 and len(data.test) == 30


def test_missing_fashion_mnist_names_the_folder_expected(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        _load(tmp_path / "empty", tmp_path, dataset="fashion-mnist")
    assert str(tmp_path / "empty" / "FashionMNIST" / "raw") in str(caught.value)
    assert "$TRAINBOARD_DATA_DIR/FashionMNIST/raw/train-images-idx3-ubyte(.gz)" in str(caught.value)


def test_cifar10_batches_load_as_32px_rgb_with_the_label_names_of_batches_meta(tmp_path: Path) -> None:
    data_dir = write_cifar10(tmp_path / "data", n_per_batch=20, n_test=30)
    data = _load(data_dir, tmp_path, dataset="cifar10", valid_fraction=0.1)
    assert data.classes == CIFAR10_CLASSES
    assert data.shape == (3, 32, 32) and data.train.x.dtype == torch.uint8
    assert (len(data.train) + len(data.valid), len(data.test)) == (100, 30)
    for split in (data.train, data.test):  # the planes became channels: each square sits where its label says
        assert [_square_label(image) for image in split.x] == split.y.tolist()


def test_missing_cifar10_names_the_folder_expected(tmp_path: Path) -> None:
    data_dir = write_cifar10(tmp_path / "data", n_per_batch=5, n_test=5)
    (data_dir / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError) as caught:
        _load(data_dir, tmp_path, dataset="cifar10")
    assert str(data_dir / "cifar-10-batches-py") in str(caught.value) and "data_batch_3" in str(caught.value)


def test_a_cifar10_batch_that_is_not_plain_arrays_is_refused_unrun(tmp_path: Path) -> None:
    data_dir = write_cifar10(tmp_path / "data", n_per_batch=5, n_test=5)
    marker = tmp_path / "ran"
    evil = pickle.dumps({b"data": Path(marker).touch, b"labels": []})  # pickles a reference to a function
    (data_dir / "cifar-10-batches-py" / "test_batch").write_bytes(evil)
    with pytest.raises(DataError, match="test_batch"):
        _load(data_dir, tmp_path, dataset="cifar10")
    assert not marker.exists()


def test_an_image_folder_loads_its_sorted_class_folders_at_image_size(tmp_path: Path) -> None:
    data_dir = write_image_folder(tmp_path / "data", "fruit", classes=("cherry", "apple", "banana"), size=40)
    data = _load(data_dir, tmp_path, dataset="folder:fruit", image_size=48)
    assert data.classes == FRUIT and data.shape == (3, 48, 48) and data.train.x.dtype == torch.uint8
    assert (len(data.train) + len(data.valid), len(data.test)) == (30, 12)
    assert sorted(data.test.y.tolist()) == [0] * 4 + [1] * 4 + [2] * 4


def test_an_image_folder_without_test_holds_out_a_tenth_of_train(tmp_path: Path) -> None:
    data_dir = write_image_folder(tmp_path / "data", "fruit", n_train=10, n_test=0)
    data = _load(data_dir, tmp_path, dataset="folder:fruit", image_size=16)
    assert (len(data.train) + len(data.valid), len(data.test)) == (27, 3)


def test_a_missing_image_folder_names_the_path_and_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        _load(tmp_path / "data", tmp_path, dataset="folder:flowers")
    assert str(tmp_path / "data" / "flowers") in str(caught.value)
    assert "$TRAINBOARD_DATA_DIR/flowers/train/<class>/*.jpg" in str(caught.value)


def test_a_test_class_the_training_set_lacks_is_named(tmp_path: Path) -> None:
    data_dir = write_image_folder(tmp_path / "data", "fruit")
    write_image_folder(tmp_path / "data", "fruit", classes=("durian",), n_train=0, n_test=2)
    with pytest.raises(DataError, match="durian"):
        _load(data_dir, tmp_path, dataset="folder:fruit")


def _gallery(recorder: Recorder) -> list[dict[str, Any]]:
    for name in ("filters_first_layer.png", "misclassified_grid.png"):
        assert recorder.artifacts[name][1] == "image/png"
    entries = json.loads(recorder.artifacts["misclassified.json"][0])
    assert entries, "an under-trained model misclassifies something"
    for entry in entries:
        assert entry["image"] in recorder.artifacts
    return entries


@pytest.mark.parametrize("arch", ["mlp", "cnn", "vgg"])
def test_every_model_trains_on_cifar10_and_its_gallery_names_cifar_classes(tmp_path: Path, arch: str) -> None:
    data_dir = write_cifar10(tmp_path / "data", n_per_batch=16, n_test=40)
    model = {"arch": arch, "hidden": [32], "blocks": "deep"}  # deep: five blocks take 32x32 down to 1x1
    recorder = _train(data_dir, tmp_path, dataset="cifar10", model=model, epochs=1, batch_size=16, n_misclassified=40)
    assert recorder.epochs and 0 <= recorder.epochs[0][1]["test_acc"] <= 1
    entries = _gallery(recorder)
    assert all(e["true"] in CIFAR10_CLASSES and e["pred"] in CIFAR10_CLASSES for e in entries)
    if arch != "mlp":
        assert "filters_activation_max.png" in recorder.artifacts


def test_vgg_trains_on_an_image_folder_at_48px_and_its_gallery_names_the_folders(tmp_path: Path) -> None:
    data_dir = write_image_folder(tmp_path / "data", "fruit", n_train=8, n_test=6)
    spec = {"dataset": "folder:fruit", "image_size": 48, "model": {"arch": "vgg", "blocks": [4, 8]}, "epochs": 1}
    recorder = _train(data_dir, tmp_path, **spec, batch_size=4, n_misclassified=18, optimizer={"lr": 0.001})
    assert recorder.starts[0].steps_per_epoch == 6  # 24 images, 2 held out: 22 in batches of 4
    entries = _gallery(recorder)
    assert {e["true"] for e in entries} <= set(FRUIT) and {e["pred"] for e in entries} <= set(FRUIT)


def test_an_mlp_trains_on_fashion_mnist_and_its_gallery_names_the_garments(tmp_path: Path) -> None:
    data_dir = write_fashion_mnist(tmp_path / "data", n_train=300, n_test=100)
    recorder = _train(data_dir, tmp_path, dataset="fashion-mnist", epochs=1, optimizer={"lr": 0.001})
    entries = _gallery(recorder)
    assert all(e["true"] in FASHION_MNIST_CLASSES and e["pred"] in FASHION_MNIST_CLASSES for e in entries)
