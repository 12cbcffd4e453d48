"""PyTorch Lightning's logger interface for trainboard::

    from lightning.pytorch import Trainer
    from trainboard.integrations.lightning import TrainboardLogger

    trainer = Trainer(max_epochs=10, logger=TrainboardLogger(name="lit cnn", tags=["lightning"]))
    trainer.fit(model, datamodule)

The run is created (``trainboard.init``: API URL and token from the environment) on first use, on the rank-0
process only. ``save_hyperparameters()`` lands in the run's config, every ``self.log(...)`` in its metrics (Lightning
adds ``epoch``: pick it as the run page's x axis), and ``logger.log_image(key, images, step, caption)`` in its media
panel. ``log_model=True`` uploads each checkpoint Lightning saves. A failed or interrupted fit ends the run
``failed`` or ``cancelled``; a successful one leaves it open for ``trainer.test`` and the like, and it ends
``succeeded`` when the script exits (or call ``logger.experiment.finish()``), as Lightning's W&B logger does.
"""

from __future__ import annotations

import re
import sys
from argparse import Namespace
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.logger import _convert_params, _sanitize_callable_params
from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

import trainboard
from trainboard.limits import METRIC_KEY_CHARS, METRIC_KEY_MAX_CHARS
from trainboard.script_run import ScriptRun
from trainboard.tracking import outcome_of

NOT_A_KEY_CHAR = re.compile(rf"[^{METRIC_KEY_CHARS}]")


class TrainboardLogger(Logger):
    """Lightning's ``Logger`` for a trainboard run; the arguments are ``trainboard.init``'s."""

    def __init__(
        self,
        name: str | None = None,
        config: Mapping[str, Any] | Namespace | None = None,
        tags: Iterable[str] = (),
        api_url: str | None = None,
        token: str | None = None,
        *,
        log_model: bool = False,
        **init_options: Any,
    ) -> None:
        super().__init__()
        self._name = name
        self._init: dict[str, Any] = {"name": name, "config": config, "tags": list(tags), "api_url": api_url}
        self._init.update(token=token, **init_options)
        self._log_model = log_model
        self._run: ScriptRun | None = None
        self._saved: set[str] = set()

    @property
    @rank_zero_experiment
    def experiment(self) -> ScriptRun:
        """The trainboard run (created on first use, on rank 0)."""
        if self._run is None:
            self._run = trainboard.init(**self._init)
        return self._run

    @property
    def name(self) -> str:
        return self._name or "trainboard"

    @property
    def version(self) -> int | None:
        """The run's id, once the run exists."""
        return self._run.id if self._run is not None else None

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        """Into the run's config (sent as it changes); values that are not JSON are stored as their text."""
        params = _sanitize_callable_params(_convert_params(params))
        self.experiment.config.update(params)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Lightning's metrics at ``step`` (its global step); tensors become numbers, and a name with characters a
        key may not hold has them replaced by ``_``."""
        values = {metric_key(key): float(value) for key, value in metrics.items()}
        if step is None:
            self.experiment.log(values)
        else:
            self.experiment.log(values, step=step)

    @rank_zero_only
    def log_image(
        self, key: str, images: Sequence[Any], step: int | None = None, caption: Sequence[str] | None = None
    ) -> None:
        """Images (tensors, arrays, PIL images or paths) under ``key``, as ``WandbLogger.log_image`` takes them;
        several at one step are one image each under ``key/0``, ``key/1``, …"""
        captions = list(caption) if caption is not None else [None] * len(images)
        if len(captions) != len(images):
            raise ValueError(f"caption: {len(captions)} captions for {len(images)} images")
        key = metric_key(key)
        for index, (image, text) in enumerate(zip(images, captions, strict=True)):
            name = key if len(images) == 1 else f"{key}/{index}"
            self.experiment.log_image(name, image, step=step, caption=text)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """With ``log_model=True``, each new checkpoint file goes to the run's files (``run.restore`` brings it
        back)."""
        callback = checkpoint_callback
        path = getattr(callback, "last_model_path", "") or getattr(callback, "best_model_path", "")
        if self._log_model and path and path not in self._saved and Path(path).is_file():
            self._saved.add(path)
            self.experiment.save(path)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """A fit that raised ends the run ``failed`` with the exception, or ``cancelled`` after Ctrl-C (Lightning
        says "failed" for both, from inside its handler: the exception is the one being handled); a successful
        fit leaves the run open (see above)."""
        if self._run is None or status != "failed":
            return
        handling = sys.exc_info()[1]
        if handling is None:
            self._run.finish("failed", error="the Lightning fit failed")
            return
        final, error = outcome_of(handling)
        self._run.finish(final, error=error)


def metric_key(name: str) -> str:
    """A Lightning metric name as a trainboard key: characters a key may not hold become ``_``; at most
    ``METRIC_KEY_MAX_CHARS``."""
    return NOT_A_KEY_CHAR.sub("_", name)[:METRIC_KEY_MAX_CHARS] or "_"
