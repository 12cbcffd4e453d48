"""The run spec: the one description of a training run shared by the API, the worker and the CLI.

Torch-free on purpose: the backend validates specs with it and must never import torch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VGG_BLOCKS: dict[str, list[int]] = {
    "shallow": [16, 32, 64],
    "shallow-fat": [32, 64, 128],
    "deep": [32, 64, 128, 64, 32],
}

# The built-in loop's datasets with the shape of one image (channels, height, width); None: resized to image_size.
BUILTIN_DATASETS: dict[str, tuple[int, int, int] | None] = {
    "mnist": (1, 28, 28),
    "fashion-mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "dogs-vs-cats": None,
}
FOLDER_PREFIX = "folder:"  # "folder:NAME": TRAINBOARD_DATA_DIR/NAME/{train,test}/<class>/*.jpg
FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DEFAULT_IMAGE_SIZE = 64
MIN_IMAGE_SIZE = 8
MAX_IMAGE_SIZE = 256
MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 4096
MAX_NAME_LENGTH = 200
MAX_TAGS = 32

Channels = Annotated[int, Field(ge=1, le=1024)]
HiddenSize = Annotated[int, Field(ge=1, le=8192)]
Tag = Annotated[str, Field(min_length=1, max_length=64)]
DropoutN = Annotated[int, Field(ge=1, le=1000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    arch: Literal["mlp", "cnn", "vgg"] = "mlp"
    hidden: list[HiddenSize] = Field(default_factory=lambda: [800, 800], min_length=1, max_length=8)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    norm: Literal["batchnorm", "dropout"] = "batchnorm"
    blocks: Literal["shallow", "shallow-fat", "deep"] | list[Channels] = "deep"

    @field_validator("blocks")
    @classmethod
    def _at_most_six_blocks(cls, value: str | list[int]) -> str | list[int]:
        # Each block halves the input; past six blocks not even a 64x64 image has anything left to pool.
        if isinstance(value, list) and not 1 <= len(value) <= 6:
            raise ValueError("a list of blocks needs between 1 and 6 filter counts")
        return value

    def block_filters(self) -> list[int]:
        """The VGG filter counts, with names like "deep" resolved."""
        return VGG_BLOCKS[self.blocks] if isinstance(self.blocks, str) else list(self.blocks)


class OptimizerSpec(_Strict):
    name: Literal["sgd", "momentum", "adam"] = "sgd"
    lr: float = Field(default=0.02, gt=0.0, le=10.0)
    weight_decay: float = Field(default=0.0, ge=0.0, le=1.0)


class EarlyStoppingSpec(_Strict):
    patience: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)


class RunSpec(_Strict):
    name: str = Field(default="", max_length=MAX_NAME_LENGTH)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    dataset: str = Field(default="mnist", max_length=200)
    image_size: int | None = Field(default=None, ge=MIN_IMAGE_SIZE, le=MAX_IMAGE_SIZE)
    model: ModelSpec = Field(default_factory=ModelSpec)
    init: Literal["zero", "normal", "glorot"] = "glorot"
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    batch_size: int = Field(default=64, ge=1, le=MAX_BATCH_SIZE)
    epochs: int = Field(default=10, ge=1, le=MAX_EPOCHS)
    early_stopping: EarlyStoppingSpec = Field(default_factory=EarlyStoppingSpec)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    limit_train: int | None = Field(default=None, ge=1)
    dropout_schemes: list[DropoutN] = Field(default_factory=list, max_length=100)
    valid_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    augment: bool = False
    n_misclassified: int = Field(default=36, ge=0, le=400)
    external: bool = False

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        if value in BUILTIN_DATASETS:
            return value
        if not value.startswith(FOLDER_PREFIX):
            names = ", ".join(f"'{name}'" for name in BUILTIN_DATASETS)
            raise ValueError(f"'{value}' is not a dataset: use {names} or 'folder:NAME'")
        if not FOLDER_NAME.fullmatch(value[len(FOLDER_PREFIX) :]):
            raise ValueError(
                f"'{value}': NAME in 'folder:NAME' is one folder under TRAINBOARD_DATA_DIR: 1 to 64 letters, "
                "digits, '.', '_' or '-', starting with a letter or digit (no '/', no '..')"
            )
        return value

    @model_validator(mode="after")
    def _arch_fits_dataset(self) -> RunSpec:
        if self.image_size is not None and BUILTIN_DATASETS.get(self.dataset):
            _, height, width = self.input_shape()
            raise ValueError(
                f"image_size: {self.dataset} images are {height}x{width}; image_size applies to "
                "'dogs-vs-cats' and 'folder:NAME' datasets only"
            )
        if self.model.arch == "vgg":
            side = min(self.input_shape()[1:])
            n_blocks = len(self.model.block_filters())
            if side >> n_blocks < 1:
                resize = "" if BUILTIN_DATASETS.get(self.dataset) else " or a larger image_size"
                raise ValueError(
                    f"model.blocks: {n_blocks} blocks halve a {side}x{side} {self.dataset} image {n_blocks} times, "
                    f"to nothing: use at most {side.bit_length() - 1} blocks{resize}"
                )
        if self.dropout_schemes and not (self.model.arch == "mlp" and self.model.dropout > 0):
            raise ValueError("dropout_schemes needs an mlp with model.dropout > 0")
        return self

    def input_shape(self) -> tuple[int, int, int]:
        """Channels, height and width of one image the model takes."""
        fixed = BUILTIN_DATASETS.get(self.dataset)
        if fixed is not None:
            return fixed
        size = self.image_size or DEFAULT_IMAGE_SIZE
        return 3, size, size

    def folder_name(self) -> str | None:
        """NAME of a "folder:NAME" dataset, else None."""
        return self.dataset[len(FOLDER_PREFIX) :] if self.dataset.startswith(FOLDER_PREFIX) else None

    def display_name(self) -> str:
        """The name shown in lists: the given one, or one built from the architecture."""
        return self.name or f"{self.model.arch}-{self.dataset}"


def load_spec_file(path: str | Path) -> RunSpec:
    """Read a run spec from a YAML or JSON file (JSON is YAML)."""
    data: Any = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a run spec is a mapping of keys to values")
    return RunSpec.model_validate(data)


def set_dotted(data: dict[str, Any], dotted_key: str, value: Any) -> None:
    """Set ``data["a"]["b"] = value`` for ``"a.b"``, creating the nested mappings on the way."""
    *parents, leaf = dotted_key.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"{dotted_key}: {part} is not a mapping")
        node = child
    node[leaf] = value
