"""A sweep's early termination acted on by a real worker: the weak run is told to stop, finishes its epoch and
ends `succeeded` with the reason, while the good run trains to the end."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.utils.datasets import write_mnist
from tests.utils.stack import running_stack

EPOCHS = 3
SWEEP = {
    "name": "early stop",
    "base": {
        "dataset": "mnist",
        "model": {"arch": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "batch_size": 32,
        "epochs": EPOCHS,
        "seed": 1,
        "device": "cpu",
        "n_misclassified": 0,
    },
    # In grid order, and one worker trains them in that order: the good run has reached every epoch by the time
    # the zero-initialised one (which learns nothing: every hidden unit stays the same) reports its first.
    "grid": {"init": ["glorot", "zero"]},
    "early_termination": {"method": "median", "min_epochs": 1, "min_peers": 1},
}


def test_a_worker_finishes_the_epoch_and_ends_a_stopped_run_succeeded(tmp_path: Path) -> None:
    data = write_mnist(tmp_path / "data", n_train=300, n_test=100)
    with running_stack(tmp_path, data_dir=data) as stack:
        created = httpx.post(f"{stack.url}/api/sweeps", json=SWEEP)
        assert created.status_code == 201, created.text
        good_id, weak_id = created.json()["runs"]
        good = stack.wait_for_run(good_id, {"succeeded", "failed"}, timeout=90)
        weak = stack.wait_for_run(weak_id, {"succeeded", "failed"}, timeout=90)

    assert good["status"] == "succeeded", good["error"]
    assert good["epoch"] == EPOCHS and good["stop_requested"] is None
    assert good["summary"]["stop_reason"] is None
    assert good["summary"]["best_valid_acc"] > 0.5, "the tiny task is learnable"

    assert weak["status"] == "succeeded", weak["error"]  # a stopped run is never a failure
    reason = weak["stop_requested"]
    assert reason is not None and reason.startswith("median rule at epoch 1: "), reason
    assert weak["summary"]["stop_reason"] == reason, "the worker reports why it ended early"
    assert weak["status_detail"] == f"stopped early: {reason}"
    assert weak["epoch"] < EPOCHS, "the worker trained every epoch instead of stopping when told to"
    assert 1 <= weak["summary"]["best_epoch"] <= weak["epoch"]
