"""Fixtures for the training core: tiny datasets written into tmp_path, never downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.utils.datasets import write_dogs_vs_cats, write_mnist

# The tests' models are tiny: one intra-op thread is faster, and on a busy 2-core machine two
# OpenMP threads waiting for each other make small ops up to 8x slower.
torch.set_num_threads(1)


@pytest.fixture
def mnist_dir(tmp_path: Path) -> Path:
    return write_mnist(tmp_path / "data", n_train=600, n_test=200)


@pytest.fixture
def dvc_dir(tmp_path: Path) -> Path:
    return write_dogs_vs_cats(tmp_path / "data", n_per_class=12)
