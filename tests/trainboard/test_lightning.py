"""`TrainboardLogger`, Lightning's logger interface, fitting a tiny LightningModule on CPU against a real API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.stack import REPO, Stack, api_only_stack
from trainboard import Client

pytest.importorskip("lightning", reason="the Lightning logger needs `pip install lightning` (in the dev extra)")

# A user's script as they would write it: a LightningModule, a Trainer, our logger in the Trainer.
SCRIPT = """
import sys
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from trainboard.integrations.lightning import TrainboardLogger

FAIL = sys.argv[1] == "fail"

class Tiny(L.LightningModule):
    def __init__(self, lr=0.1, hidden=8):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def training_step(self, batch, _):
        x, y = batch
        if FAIL and self.global_step == 5:
            raise RuntimeError("loss went to nan")
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val acc", (self.net(x).argmax(1) == y).float().mean(), on_epoch=True)

    def on_validation_epoch_end(self):
        self.logger.log_image("inputs", [torch.rand(3, 8, 8)], step=self.current_epoch, caption=["noise"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

torch.manual_seed(0)
x = torch.randn(64, 4)
data = TensorDataset(x, (x[:, 0] > 0).long())
logger = TrainboardLogger(name="lit tiny", tags=["lightning"], log_model=True, system_metrics=False)
trainer = L.Trainer(
    max_epochs=2, logger=logger, accelerator="cpu", log_every_n_steps=1, enable_progress_bar=False,
    enable_model_summary=False, callbacks=[ModelCheckpoint(dirpath=sys.argv[2], save_last=True)],
)
print(logger.experiment.id, flush=True)
trainer.fit(Tiny(lr=0.05), DataLoader(data, batch_size=8), DataLoader(data, batch_size=32))
"""


stack = api_only_stack("lightning")


def _fit(stack: Stack, tmp_path: Path, how: str) -> tuple[subprocess.CompletedProcess[str], int]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TRAINBOARD_API_URL": stack.url}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, how, str(tmp_path / "ckpt")],
        capture_output=True, text=True, timeout=240, env=env, cwd=REPO,
    )  # fmt: skip
    assert done.stdout.strip(), done.stderr[-3000:]
    return done, int(done.stdout.split()[0])


def test_a_lightning_fit_is_tracked_hyperparameters_metrics_images_checkpoints(stack: Stack, tmp_path: Path) -> None:
    done, run_id = _fit(stack, tmp_path, "ok")
    assert done.returncode == 0, done.stderr[-3000:]
    with Client(stack.url, token="") as client:
        run = client.get_run(run_id)
        assert run["status"] == "succeeded"  # at the script's exit: a successful fit leaves it open until then
        assert run["config"] == {"lr": 0.05, "hidden": 8} and run["spec"]["tags"] == ["lightning"]
        metrics = client.metrics(run_id)
        assert len(metrics["train/loss"]["step"]) == 16  # 8 batches x 2 epochs, logged every step
        assert len(metrics["val_acc"]["step"]) == 2  # "val acc" is not a key: the space became "_"
        assert metrics["epoch"]["value"][-1] == 1
        files = {item["name"] for item in client.request("GET", f"/runs/{run_id}/artifacts")}
        media = client.request("GET", f"/runs/{run_id}/artifacts/media.json")
        assert [(entry["step"], entry["caption"]) for entry in media["inputs"]] == [(0, "noise"), (1, "noise")]
        assert {entry["file"] for entry in media["inputs"]} <= files
        assert "last.ckpt" in files, files  # log_model: the checkpoints Lightning saved


def test_a_failing_fit_ends_the_run_failed_with_the_error(stack: Stack, tmp_path: Path) -> None:
    done, run_id = _fit(stack, tmp_path, "fail")
    assert done.returncode != 0
    with Client(stack.url, token="") as client:
        run = client.get_run(run_id)
        assert run["status"] == "failed"
        assert "RuntimeError: loss went to nan" in run["error"]
        assert len(client.metrics(run_id, ["train/loss"])["train/loss"]["step"]) == 5
