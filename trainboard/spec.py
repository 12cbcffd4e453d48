"""The run spec: the one description of a training run shared by the API, the worker and the CLI.

Torch-free on purpose: the backend validates specs with it and must never import torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VGG_BLOCKS: dict[str, list[int]] = {
    "shallow": [16, 32, 64],
    "shallow-fat": [32, 64, 128],
    "deep": [32, 64, 128, 64, 32],
}

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
    def _blocks_fit_64px(cls, value: str | list[int]) -> str | list[int]:
        # Each block halves the 64x64 input; past six blocks nothing is left to pool.
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
    dataset: Literal["mnist", "dogs-vs-cats"] = "mnist"
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

    @model_validator(mode="after")
    def _arch_fits_dataset(self) -> RunSpec:
        if self.model.arch == "vgg" and self.dataset != "dogs-vs-cats":
            raise ValueError("model.arch 'vgg' takes 64x64 RGB input: use dataset 'dogs-vs-cats'")
        if self.dropout_schemes and not (self.model.arch == "mlp" and self.model.dropout > 0):
            raise ValueError("dropout_schemes needs an mlp with model.dropout > 0")
        return self

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
