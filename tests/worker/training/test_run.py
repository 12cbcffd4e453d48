"""``train()`` end to end on tiny data: learning, tracking, reproducibility, stopping, checkpoints, artifacts."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.worker.training.helpers import Recorder, small_spec
from worker.training import checkpoint
from worker.training import run as run_module
from worker.training.errors import Aborted
from worker.training.evaluate import evaluate as real_evaluate
from worker.training.run import EPOCH_KEYS, train


def _train(spec_kwargs: dict, data_dir: Path, run_dir: Path, callback: Recorder | None = None, resume: bool = False):
    callback = callback or Recorder()
    summary = train(
        small_spec(**spec_kwargs),
        data_dir=data_dir,
        cache_dir=run_dir.parent / "cache",
        run_dir=run_dir,
        callback=callback,
        resume=resume,
    )
    return summary, callback


def test_loss_falls_and_the_summary_is_consistent(mnist_dir: Path, tmp_path: Path) -> None:
    summary, rec = _train({"epochs": 3}, mnist_dir, tmp_path / "run")
    losses = [value for _, value in rec.series("loss")]
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10
    assert [epoch for epoch, _ in rec.epochs] == [1, 2, 3]
    test_acc = dict(rec.series("test_acc"))
    assert test_acc[3] > 0.9
    assert summary.n_params == 784 * 64 + 64 + 64 * 10 + 10
    assert summary.best_valid_acc == dict(rec.series("valid_acc"))[summary.best_epoch]
    assert summary.test_acc_at_best == test_acc[summary.best_epoch]
    assert -1 <= summary.gen_gap <= 1 and summary.duration_s > 0 and not summary.finished_early
    assert set(summary.to_dict()) == {
        "n_params", "best_epoch", "best_valid_acc", "test_acc_at_best", "gen_gap", "duration_s", "stopped_early"
    }  # fmt: skip


def test_metrics_follow_the_contract(mnist_dir: Path, tmp_path: Path) -> None:
    _, rec = _train({"epochs": 2, "batch_size": 8}, mnist_dir, tmp_path / "run")
    start = rec.starts[0]
    assert (start.start_epoch, start.epochs, start.steps_per_epoch, start.device) == (1, 2, 68, "cpu")
    for key in ("loss", "param_norm"):
        assert [step for step, _ in rec.series(key)] == list(range(1, 2 * 68 + 1))  # global iteration from 1
    for key in EPOCH_KEYS:
        assert [step for step, _ in rec.series(key)] == [1, 2]
        assert all(value == metrics[key] for (_, value), (_, metrics) in zip(rec.series(key), rec.epochs, strict=True))
    for key in ("train_acc", "valid_acc", "test_acc"):
        assert all(0.0 <= value <= 1.0 for _, value in rec.series(key))


def test_param_norm_is_the_l2_norm_of_all_parameters_after_the_update(mnist_dir: Path, tmp_path: Path) -> None:
    _, rec = _train({"epochs": 1}, mnist_dir, tmp_path / "run")
    model = checkpoint.load(checkpoint.last_path(tmp_path / "run"), device=torch.device("cpu"))["model"]
    expected = torch.linalg.vector_norm(torch.cat([p.flatten() for p in model.values()])).item()
    assert rec.series("param_norm")[-1][1] == pytest.approx(expected, rel=1e-5)


def test_runs_with_the_same_seed_reproduce_exactly_on_cpu(mnist_dir: Path, tmp_path: Path) -> None:
    spec = {"epochs": 2, "model": {"dropout": 0.3}}
    first, rec1 = _train(spec, mnist_dir, tmp_path / "a")
    second, rec2 = _train(spec, mnist_dir, tmp_path / "b")
    assert rec1.points == rec2.points
    assert (first.best_epoch, first.gen_gap) == (second.best_epoch, second.gen_gap)
    _, rec3 = _train({**spec, "seed": 1}, mnist_dir, tmp_path / "c")
    assert rec3.series("loss") != rec1.series("loss")


def test_cnn_reproduces_too(mnist_dir: Path, tmp_path: Path) -> None:
    spec = {"epochs": 1, "model": {"arch": "cnn", "norm": "batchnorm"}, "limit_train": 160}
    _, rec1 = _train(spec, mnist_dir, tmp_path / "a")
    _, rec2 = _train(spec, mnist_dir, tmp_path / "b")
    assert rec1.points == rec2.points


def test_should_abort_raises_aborted_within_50_steps(mnist_dir: Path, tmp_path: Path) -> None:
    rec = Recorder(abort_when=lambda r: len(r.points) > 0)
    with pytest.raises(Aborted):
        _train({"epochs": 3, "batch_size": 4}, mnist_dir, tmp_path / "run", callback=rec)
    assert max(step for step, _ in rec.series("loss")) == 50
    assert rec.epochs == []


def test_early_stopping_picks_and_restores_the_best_epoch(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted = iter([0.50, 0.80, 0.60, 0.70, 0.90, 0.95])  # best at epoch 2, then two epochs without progress
    restored: dict[str, torch.Tensor] = {}

    def scripted_evaluate(model, split, *, accel):  # type: ignore[no-untyped-def]
        loss, acc = real_evaluate(model, split, accel=accel)
        return (loss, next(scripted)) if len(split) == 60 else (loss, acc)  # the validation split

    def capture(spec, model, data, accel):  # type: ignore[no-untyped-def]
        restored.update({k: v.clone() for k, v in model.state_dict().items()})
        return []

    monkeypatch.setattr(run_module, "evaluate", scripted_evaluate)
    monkeypatch.setattr(run_module, "_artifacts", capture)
    summary, rec = _train({"epochs": 6, "early_stopping": {"patience": 2}}, mnist_dir, tmp_path / "run")
    assert [epoch for epoch, _ in rec.epochs] == [1, 2, 3, 4]
    assert (summary.best_epoch, summary.best_valid_acc, summary.finished_early) == (2, 0.80, True)
    assert summary.to_dict()["stopped_early"] is True, "the stored summary keeps its key"
    assert summary.test_acc_at_best == rec.epochs[1][1]["test_acc"]
    best = checkpoint.load(checkpoint.best_path(tmp_path / "run"), device=torch.device("cpu"))
    last = checkpoint.load(checkpoint.last_path(tmp_path / "run"), device=torch.device("cpu"))
    assert best["epoch"] == 2 and last["epoch"] == 4
    assert all(torch.equal(restored[k], best["model"][k]) for k in best["model"])
    assert not all(torch.equal(restored[k], last["model"][k]) for k in last["model"])


def test_resume_continues_at_the_next_epoch_and_matches_an_uninterrupted_run(mnist_dir: Path, tmp_path: Path) -> None:
    spec = {"epochs": 4, "model": {"dropout": 0.2}}
    _, whole = _train(spec, mnist_dir, tmp_path / "whole")

    cancel_after_2 = Recorder(abort_when=lambda r: len(r.epochs) == 2)
    with pytest.raises(Aborted):
        _train(spec, mnist_dir, tmp_path / "run", callback=cancel_after_2)
    summary, resumed = _train(spec, mnist_dir, tmp_path / "run", resume=True)

    assert resumed.starts[0].start_epoch == 3
    assert [e for e, _ in cancel_after_2.epochs] == [1, 2] and [e for e, _ in resumed.epochs] == [3, 4]
    # The resumed half re-sends the restored epochs' metrics (what a dead worker may not have delivered); the
    # API stores (key, step) once, keeping the first value, so that is how the two halves add up.
    restored = sorted(p for p in resumed.points if p.key in EPOCH_KEYS and p.step <= 2)
    assert restored == sorted(p for p in cancel_after_2.points if p.key in EPOCH_KEYS)
    stored: dict[tuple[str, int], float] = {}
    for p in cancel_after_2.points + resumed.points:
        stored.setdefault((p.key, p.step), p.value)
    assert Counter(key for key, step in stored if key in EPOCH_KEYS) == Counter({key: 4 for key in EPOCH_KEYS})
    assert sorted(stored.items()) == sorted(((p.key, p.step), p.value) for p in whole.points)  # the same numbers
    assert summary.best_epoch == max(range(1, 5), key=lambda e: (dict(whole.series("valid_acc"))[e], -e))


def test_the_summary_so_far_follows_every_epoch_and_a_resume(mnist_dir: Path, tmp_path: Path) -> None:
    """A cancelled or failed run keeps a summary: after each epoch the callback has the best epoch so far and its
    accuracies; a resumed run has it again before its first new epoch."""
    spec = {"epochs": 3}
    cancel_after_2 = Recorder(abort_when=lambda r: len(r.epochs) == 2)
    with pytest.raises(Aborted):
        _train(spec, mnist_dir, tmp_path / "run", callback=cancel_after_2)
    assert len(cancel_after_2.summaries) == 2
    valid = dict(cancel_after_2.series("valid_acc"))
    test = dict(cancel_after_2.series("test_acc"))
    for after, summary in enumerate(cancel_after_2.summaries, 1):
        best = max(range(1, after + 1), key=lambda e: (valid[e], -e))
        assert summary["best_epoch"] == best and summary["best_valid_acc"] == valid[best]
        assert summary["test_acc_at_best"] == test[best] and summary["n_params"] > 0 and summary["duration_s"] > 0
    final, resumed = _train(spec, mnist_dir, tmp_path / "run", resume=True)
    assert resumed.summaries[0] == cancel_after_2.summaries[-1] | {"duration_s": resumed.summaries[0]["duration_s"]}
    last = resumed.summaries[-1]
    assert (last["best_epoch"], last["best_valid_acc"]) == (final.best_epoch, final.best_valid_acc)


def test_resume_refuses_a_checkpoint_of_another_model(mnist_dir: Path, tmp_path: Path) -> None:
    _train({"epochs": 1}, mnist_dir, tmp_path / "run")
    with pytest.raises(ValueError, match="model"):
        _train({"epochs": 2, "model": {"hidden": [32]}}, mnist_dir, tmp_path / "run", resume=True)


def test_checkpoints_hold_what_resuming_needs(mnist_dir: Path, tmp_path: Path) -> None:
    _train({"epochs": 2}, mnist_dir, tmp_path / "run")
    last = checkpoint.load(checkpoint.last_path(tmp_path / "run"), device=torch.device("cpu"))
    assert {"model", "optimizer", "config", "epoch", "history", "best", "best_model"} <= set(last)
    assert last["epoch"] == 2 and len(last["history"]["valid_acc"]) == 2
    assert last["config"]["model"]["hidden"] == [64]


def _png(blob: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(blob))
    image.load()
    return image


def test_mlp_run_produces_filters_and_misclassified_gallery(mnist_dir: Path, tmp_path: Path) -> None:
    _, rec = _train({"epochs": 1, "n_misclassified": 5, "optimizer": {"lr": 0.001}}, mnist_dir, tmp_path / "run")
    names = set(rec.artifacts)
    assert {"filters_first_layer.png", "misclassified.json", "misclassified_grid.png"} <= names
    assert "filters_activation_max.png" not in names  # conv models only
    entries = json.loads(rec.artifacts["misclassified.json"][0])
    assert len(entries) == 5
    assert [e["image"] for e in entries] == [f"misclassified_{i}.png" for i in range(5)]
    for entry in entries:
        assert entry["true"] != entry["pred"] and entry["true"] in "0123456789" and 0.1 <= entry["confidence"] <= 1
        assert _png(rec.artifacts[entry["image"]][0]).size == (84, 84)
    confidences = [e["confidence"] for e in entries]
    assert confidences == sorted(confidences, reverse=True)
    assert _png(rec.artifacts["filters_first_layer.png"][0]).mode == "RGB"
    assert all(media == "image/png" for name, (_, media) in rec.artifacts.items() if name.endswith(".png"))


def test_vgg_run_on_dogs_vs_cats_produces_conv_artifacts(dvc_dir: Path, tmp_path: Path) -> None:
    spec = {
        "dataset": "dogs-vs-cats",
        "model": {"arch": "vgg", "blocks": [4, 8]},
        "optimizer": {"name": "adam", "lr": 0.001},
        "batch_size": 4,
        "epochs": 1,
        "augment": True,
        "n_misclassified": 36,
    }
    summary, rec = _train(spec, dvc_dir, tmp_path / "run")
    assert summary.n_params > 0 and rec.starts[0].steps_per_epoch == 6
    for name in ("filters_first_layer.png", "filters_activation_max.png", "misclassified_grid.png"):
        _png(rec.artifacts[name][0])
    entries = json.loads(rec.artifacts["misclassified.json"][0])
    assert all(e["true"] in ("cat", "dog") and e["pred"] in ("cat", "dog") for e in entries)
    per_image = {name for name in rec.artifacts if name.startswith("misclassified_") and name[-5].isdigit()}
    assert {e["image"] for e in entries} == per_image


def test_fig3_dropout_schemes_are_reported_per_n(mnist_dir: Path, tmp_path: Path) -> None:
    spec = {"epochs": 2, "model": {"dropout": 0.5}, "dropout_schemes": [1, 5, 20]}
    _, rec = _train(spec, mnist_dir, tmp_path / "run")
    for key in ("dropout_scale_acc", "dropout_presoftmax_acc", "dropout_postsoftmax_acc"):
        assert [step for step, _ in rec.series(key)] == [1, 5, 20]
    assert len({value for _, value in rec.series("dropout_scale_acc")}) == 1
    scale = rec.series("dropout_scale_acc")[0][1]
    assert abs(rec.series("dropout_presoftmax_acc")[-1][1] - scale) < 0.05


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error(mnist_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="device 'cuda'"):
        _train({"device": "cuda"}, mnist_dir, tmp_path / "run")
    _, rec = _train({"device": "auto", "epochs": 1}, mnist_dir, tmp_path / "auto")
    assert rec.starts[0].device == "cpu"
