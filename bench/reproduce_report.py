"""Accuracy evidence on real data: the report's fig1, fig3 and fig5 runs through ``train()``, no server.

    .venv/bin/python bench/reproduce_report.py --data-dir /work/shared/data [--only fig1,fig3,fig5]
        [--epochs-fig1 30] [--epochs-fig3 30] [--epochs-fig5 10] [--out /tmp/trainboard-evidence]

Each run's summary and per-epoch metrics go to ``OUT/<run>/result.json`` and its artifacts (filters,
misclassified gallery) beside it; a table of the numbers is printed. The shared data is a subset:
5,000 MNIST training images (4,500 after the validation split) and 2,000 + 2,000 Dogs vs Cats
photos, so absolute accuracies sit below the report's, which trained on the full sets.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from trainboard.spec import RunSpec
from worker.training.callbacks import Callback, Point
from worker.training.run import train

FIG1 = {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [800, 800]}, "init": "glorot", "batch_size": 64}


class Collect(Callback):
    """Keeps per-epoch metrics and fig3 points in memory and writes artifacts to a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.epochs: dict[int, dict[str, float]] = {}
        self.fig3: dict[str, dict[int, float]] = {}
        self.last_norm = float("nan")

    def on_points(self, points: list[Point]) -> None:
        for point in points:
            if point.key.startswith("dropout_"):
                self.fig3.setdefault(point.key, {})[point.step] = point.value
            elif point.key == "param_norm":
                self.last_norm = point.value

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        self.epochs[epoch] = dict(metrics, param_norm=self.last_norm)
        print(
            f"    epoch {epoch:3d}  train_loss {metrics['train_loss']:.4f}  valid_acc {metrics['valid_acc']:.4f}  "
            f"test_acc {metrics['test_acc']:.4f}  |w| {self.last_norm:.2f}",
            flush=True,
        )

    def on_artifact(self, name: str, data: bytes, media_type: str) -> None:
        (self.folder / name).write_bytes(data)


def run(name: str, spec: dict[str, Any], *, data_dir: Path, out: Path) -> dict[str, Any]:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\n== {name}: {json.dumps(spec)}", flush=True)
    collect = Collect(folder)
    started = time.perf_counter()
    summary = train(
        RunSpec.model_validate({**spec, "name": name, "device": "cpu"}),
        data_dir=data_dir,
        cache_dir=out / "cache",
        run_dir=folder,
        callback=collect,
    )
    result = {"summary": summary.to_dict(), "epochs": collect.epochs, "fig3": collect.fig3}
    (folder / "result.json").write_text(json.dumps(result, indent=1))
    s = summary
    print(
        f"   -> {time.perf_counter() - started:.0f} s; best epoch {s.best_epoch}: valid {s.best_valid_acc:.2%}, "
        f"test {s.test_acc_at_best:.2%}, gap {s.gen_gap:.2%}; {s.n_params:,} parameters",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("/tmp/trainboard-evidence"))
    parser.add_argument("--only", default="fig1,fig3,fig5")
    parser.add_argument("--epochs-fig1", type=int, default=30)
    parser.add_argument("--epochs-fig3", type=int, default=30)
    parser.add_argument("--epochs-fig5", type=int, default=10)
    parser.add_argument("--weight-decay", type=float, default=0.001, help="fig1's L2 run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    only = set(args.only.split(","))
    results: dict[str, dict[str, Any]] = {}
    common = {"data_dir": args.data_dir, "out": args.out}
    if "fig1" in only:
        for label, wd in (("fig1-no-decay", 0.0), ("fig1-weight-decay", args.weight_decay)):
            spec = {**FIG1, "optimizer": {"name": "sgd", "lr": 0.02, "weight_decay": wd}, "epochs": args.epochs_fig1}
            results[label] = run(label, spec, **common)
    if "fig3" in only:
        spec = {
            **FIG1,
            "model": {"arch": "mlp", "hidden": [800, 800], "dropout": 0.5},
            "optimizer": {"name": "sgd", "lr": 0.02},
            "epochs": args.epochs_fig3,
            "dropout_schemes": list(range(10, 101, 10)),
        }
        results["fig3-dropout"] = run("fig3-dropout", spec, **common)
        for key, series in results["fig3-dropout"]["fig3"].items():
            print(f"   {key:<24} " + " ".join(f"N={n}:{v:.4f}" for n, v in sorted(series.items())))
    if "fig5" in only:
        spec = {
            "dataset": "dogs-vs-cats",
            "model": {"arch": "vgg", "blocks": "deep"},
            "optimizer": {"name": "adam", "lr": 0.001},
            "batch_size": 16,
            "epochs": args.epochs_fig5,
        }
        results["fig5-vgg-deep-b16"] = run("fig5-vgg-deep-b16", spec, **common)
    print("\nsummary")
    for name, result in results.items():
        s = result["summary"]
        print(
            f"  {name:<20} best epoch {s['best_epoch']:3d}  valid {s['best_valid_acc']:.4f}  "
            f"test@best {s['test_acc_at_best']:.4f}  gap {s['gen_gap']:+.4f}  {s['duration_s']:.0f} s"
        )


if __name__ == "__main__":
    main()
