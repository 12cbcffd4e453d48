"""``test_predictions.bin``: every test example's prediction at the best epoch, and thumbnails of the wrong ones."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.worker.training.helpers import Recorder, small_spec
from trainboard import predictions_file
from worker.training import checkpoint
from worker.training.data import Data, load_data
from worker.training.device import resolve_accel
from worker.training.evaluate import predict
from worker.training.models import build_model
from worker.training.run import train


def test_the_artifact_holds_the_best_epochs_predictions(mnist_dir: Path, tmp_path: Path) -> None:
    spec = small_spec(epochs=2, optimizer={"lr": 0.002})
    rec = Recorder()
    run_dir = tmp_path / "run"
    summary = train(spec, data_dir=mnist_dir, cache_dir=tmp_path / "cache", run_dir=run_dir, callback=rec)
    blob, media_type = rec.artifacts[predictions_file.NAME]
    assert media_type == "application/octet-stream"
    stored = predictions_file.decode(blob)
    assert (stored.dataset, len(stored), stored.classes) == ("mnist", 200, [str(d) for d in range(10)])

    data = load_data(spec, data_dir=mnist_dir, cache_dir=tmp_path / "cache")
    model = build_model(spec, in_shape=data.shape, n_classes=10)
    best = checkpoint.load(checkpoint.best_path(run_dir), device=torch.device("cpu"))
    assert best["epoch"] == summary.best_epoch
    model.load_state_dict(best["model"])
    probs = predict(model, data.test, accel=resolve_accel("cpu", conv=False)).softmax(1)
    confidence, pred = probs.max(1)
    assert stored.labels == data.test.y.tolist()
    assert stored.preds == pred.tolist()
    assert all(abs(a - b) <= 0.5 / 255 + 1e-6 for a, b in zip(stored.confidences, confidence.tolist(), strict=True))
    accuracy = sum(p == y for p, y in zip(stored.preds, stored.labels, strict=True)) / 200
    assert abs(accuracy - summary.test_acc_at_best) < 1e-6

    wrong = [i for i, (p, y) in enumerate(zip(stored.preds, stored.labels, strict=True)) if p != y]
    assert wrong and sorted(stored.thumbnails) == wrong
    assert stored.shape == (28, 28, 1)
    first = wrong[0]
    expected = Data.pixels(data.test.x[first]).permute(1, 2, 0).contiguous().numpy().tobytes()
    assert stored.thumbnails[first] == expected
    # 5 bytes an example before compression, plus 784 per wrong one: compressed, well under that
    assert len(blob) < 5 * 200 + 784 * len(wrong)


def test_large_images_are_stored_as_small_thumbnails(dvc_dir: Path, tmp_path: Path) -> None:
    spec = small_spec(
        dataset="dogs-vs-cats", model={"arch": "vgg", "blocks": [4]}, optimizer={"name": "adam"}, epochs=1, batch_size=4
    )
    rec = Recorder()
    train(spec, data_dir=dvc_dir, cache_dir=tmp_path / "cache", run_dir=tmp_path / "run", callback=rec)
    stored = predictions_file.decode(rec.artifacts[predictions_file.NAME][0])
    assert stored.dataset == "dogs-vs-cats" and stored.classes == ["cat", "dog"]
    assert stored.shape == (32, 32, 3)
    assert all(len(p) == 32 * 32 * 3 for p in stored.thumbnails.values())
