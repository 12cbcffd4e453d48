"""The report's seven figures as ready-made sweeps, at the report's full scale or a quick one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from backend.services.sweeps import Range, SweepIn

Scale = Literal["full", "quick"]

REPORT_MLP: dict[str, Any] = {
    "dataset": "mnist",
    "model": {"arch": "mlp", "hidden": [800, 800]},
    "init": "glorot",
    "optimizer": {"name": "sgd", "lr": 0.02},
    "batch_size": 64,
    "epochs": 100,
}
# The report does not give its L2 coefficient; 1e-3 visibly shrinks fig2's norm within a few epochs at lr 0.02.
WEIGHT_DECAY = 1e-3
DOGS_BEST: dict[str, Any] = {
    "dataset": "dogs-vs-cats",
    "model": {"arch": "vgg", "blocks": "shallow-fat"},
    "optimizer": {"name": "adam", "lr": 0.001},
    "batch_size": 16,
    "epochs": 25,
    "n_misclassified": 36,
}


@dataclass(frozen=True)
class Preset:
    id: str
    title: str
    description: str
    base: dict[str, Any]
    grid: dict[str, list[Any] | Range] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)

    def sweep(self, scale: Scale) -> SweepIn:
        base = _merge(self.base, self.quick) if scale == "quick" else dict(self.base)
        base["tags"] = [self.id, scale]
        return SweepIn(name=f"{self.id} ({scale})", base=base, grid=self.grid)

    def describe(self) -> dict[str, Any]:
        n_runs = 1
        for values in self.grid.values():
            n_runs *= len(values) if isinstance(values, list) else 1
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "n_runs": n_runs,
            "grid": self.grid,
            "scales": {scale: self.sweep(scale).base for scale in ("full", "quick")},
        }


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


PRESETS: dict[str, Preset] = {
    p.id: p
    for p in [
        Preset(
            "fig1",
            "Figure 1: test error per epoch, weight decay vs none",
            "MNIST MLP 784-800-800-10, ReLU, SGD lr 0.02, batch 64, Glorot init, 100 epochs, with and without L2.",
            REPORT_MLP,
            {"optimizer.weight_decay": [0.0, WEIGHT_DECAY]},
            {"epochs": 10, "limit_train": 5000},
        ),
        Preset(
            "fig2",
            "Figure 2: L2 norm of all parameters after every update",
            "The two runs of Figure 1; their per-iteration param_norm is the figure.",
            REPORT_MLP,
            {"optimizer.weight_decay": [0.0, WEIGHT_DECAY]},
            {"epochs": 10, "limit_train": 5000},
        ),
        Preset(
            "fig3",
            "Figure 3: dropout inference schemes, accuracy vs N",
            "MLP with dropout p=0.5; after training, (i) weights x 0.5, (ii) N masks averaging pre-softmax outputs, "
            "(iii) N masks averaging softmax predictions, N = 10..100.",
            _merge(REPORT_MLP, {"model": {"dropout": 0.5}, "dropout_schemes": list(range(10, 101, 10))}),
            {},
            {"epochs": 10, "limit_train": 5000},
        ),
        Preset(
            "fig4",
            "Figure 4: CNN on MNIST, dropout vs batch norm",
            "The same conv body, one with dropout, one with batch norm; test error per epoch.",
            {
                "dataset": "mnist",
                "model": {"arch": "cnn"},
                "optimizer": {"name": "sgd", "lr": 0.02},
                "batch_size": 64,
                "epochs": 10,
            },
            {"model.norm": ["dropout", "batchnorm"]},
            {"epochs": 3, "limit_train": 5000},
        ),
        Preset(
            "fig5",
            "Figure 5: Dogs vs Cats grid search (3 architectures x 5 batch sizes)",
            "VGG-style DeepBoi, Adam defaults, 25 epochs; the best validation epoch picks the model.",
            {**DOGS_BEST, "model": {"arch": "vgg"}},
            {"model.blocks": ["shallow", "shallow-fat", "deep"], "batch_size": [4, 8, 16, 32, 64]},
            {"epochs": 3, "limit_train": 1000},
        ),
        Preset(
            "fig6",
            "Figure 6: filters of the best model",
            "The report's best configuration (shallow-fat, batch 16); first-layer kernels and activation maximization.",
            DOGS_BEST,
            {},
            {"epochs": 3, "limit_train": 1000},
        ),
        Preset(
            "fig7",
            "Figure 7: misclassified test images",
            "The report's best configuration; 36 misclassified test images with predicted label and confidence.",
            DOGS_BEST,
            {},
            {"epochs": 3, "limit_train": 1000},
        ),
    ]
}
