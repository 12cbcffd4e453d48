"""The report's models, all returning logits (the loss applies softmax over each sample's classes).

- ``mlp``: flatten -> [Linear -> ReLU (-> Dropout p)] per hidden size -> Linear to the classes.
  784-800-800-10 has 1,276,810 parameters, as in the report.
- ``cnn``: fig4's MNIST conv body, small enough to train in seconds per epoch on a CPU:
  conv 3x3 32 -> [BN] -> ReLU -> max-pool 2 -> [dropout p/2] -> conv 3x3 64 -> [BN] -> ReLU ->
  max-pool 2 -> [dropout p/2] -> Linear 128 -> [BN] -> ReLU -> [dropout p] -> Linear to the classes.
  ``norm="batchnorm"`` uses the [BN] layers, ``norm="dropout"`` the dropout ones, with
  p = ``model.dropout`` (0.5 when it is left at 0, so the dropout variant always regularizes).
- ``vgg``: the report's "DeepBoi": per block conv 3x3 pad 1 -> BatchNorm2d -> ReLU -> max-pool 2,
  then Linear 1024 -> BatchNorm1d -> ReLU -> Linear 1024 -> BatchNorm1d -> ReLU -> Linear to the
  classes. shallow 5,274,882, shallow-fat 9,539,074 and deep 1,373,986 parameters on 64x64 RGB.

Every model takes the input shape and class count of its dataset (28x28 gray, CIFAR-10's 32x32 RGB, an image
folder at ``image_size``) and flattens with ``x.flatten(1)`` (sample by sample), never ``view(C*H*W, -1)``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from trainboard.spec import RunSpec

InitScheme = Literal["zero", "normal", "glorot"]
CNN_DEFAULT_DROPOUT = 0.5


class MLP(nn.Sequential):
    """Fully connected classifier; dropout (if any) follows each hidden ReLU."""

    def __init__(self, in_features: int, hidden: list[int], n_classes: int, dropout: float = 0.0) -> None:
        layers: list[nn.Module] = [nn.Flatten(1)]
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_classes))
        super().__init__(*layers)


class ConvNet(nn.Module):
    """A conv feature extractor followed by a fully connected classifier on the flattened features."""

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential) -> None:
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def mnist_cnn(in_shape: tuple[int, int, int], n_classes: int, *, norm: str, dropout: float) -> ConvNet:
    """fig4's conv body in its batch-norm or dropout variant (see the module docstring)."""
    channels, height, width = in_shape
    p = dropout or CNN_DEFAULT_DROPOUT
    batchnorm = norm == "batchnorm"
    features: list[nn.Module] = []
    for out in (32, 64):
        features += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out) if batchnorm else nn.Identity()]
        features += [nn.ReLU(), nn.MaxPool2d(2), nn.Identity() if batchnorm else nn.Dropout(p / 2)]
        channels = out
    flat = channels * (height // 4) * (width // 4)
    classifier = nn.Sequential(
        nn.Linear(flat, 128),
        nn.BatchNorm1d(128) if batchnorm else nn.Identity(),
        nn.ReLU(),
        nn.Identity() if batchnorm else nn.Dropout(p),
        nn.Linear(128, n_classes),
    )
    return ConvNet(nn.Sequential(*features), classifier)


def vgg(in_shape: tuple[int, int, int], n_classes: int, *, filters: list[int]) -> ConvNet:
    """The report's DeepBoi with one conv per block."""
    channels, height, width = in_shape
    features: list[nn.Module] = []
    for out in filters:
        features += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
        channels, height, width = out, height // 2, width // 2
    if height < 1 or width < 1:
        raise ValueError(f"{len(filters)} blocks pool a {in_shape[1]}x{in_shape[2]} image away to nothing")
    classifier = nn.Sequential(
        nn.Linear(channels * height * width, 1024),
        nn.BatchNorm1d(1024),
        nn.ReLU(),
        nn.Linear(1024, 1024),
        nn.BatchNorm1d(1024),
        nn.ReLU(),
        nn.Linear(1024, n_classes),
    )
    return ConvNet(nn.Sequential(*features), classifier)


def build_model(spec: RunSpec, *, in_shape: tuple[int, int, int], n_classes: int) -> nn.Module:
    """The spec's architecture for images of ``in_shape`` (C, H, W), with its init scheme applied."""
    arch = spec.model
    model: nn.Module
    if arch.arch == "mlp":
        model = MLP(in_shape[0] * in_shape[1] * in_shape[2], list(arch.hidden), n_classes, arch.dropout)
    elif arch.arch == "cnn":
        model = mnist_cnn(in_shape, n_classes, norm=arch.norm, dropout=arch.dropout)
    else:
        model = vgg(in_shape, n_classes, filters=arch.block_filters())
    init_weights(model, spec.init)
    return model


def init_weights(model: nn.Module, scheme: InitScheme) -> None:
    """Initialize every Linear and Conv weight (biases to zero; BatchNorm keeps its defaults).

    ``zero``: all weights 0. ``normal``: N(0, 1), the report's ``init.normal`` with its defaults.
    ``glorot``: ``xavier_uniform_`` with gain ``calculate_gain("relu")`` = sqrt(2).
    """
    gain = nn.init.calculate_gain("relu")
    for module in model.modules():
        if not isinstance(module, nn.Linear | nn.Conv2d):
            continue
        if scheme == "zero":
            nn.init.zeros_(module.weight)
        elif scheme == "normal":
            nn.init.normal_(module.weight, mean=0.0, std=1.0)
        elif scheme == "glorot":
            nn.init.xavier_uniform_(module.weight, gain=gain)
        else:
            raise ValueError(f"unknown init scheme {scheme!r}: use zero, normal or glorot")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def count_params(model: nn.Module) -> int:
    """Trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
