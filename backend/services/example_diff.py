"""Which test examples changed between two built-in runs: the ones A gets wrong and B right ("fixed by B") and
the reverse ("broken by B"), from each run's ``test_predictions.bin`` (``trainboard/predictions_file.py``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from backend.models import Run
from backend.services import artifacts
from backend.services.png import encode_png
from trainboard import predictions_file
from trainboard.predictions_file import Predictions, PredictionsFileError


class ExampleDiffError(ValueError):
    """A pair of runs that cannot be compared example by example; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Changed:
    """The examples on which two runs disagree about being right, each side most confidently wrong first."""

    dataset: str
    n: int
    acc_a: float
    acc_b: float
    fixed: list[dict[str, Any]]
    broken: list[dict[str, Any]]


def load_predictions(session: Session, *, root: Path, run_id: int) -> Predictions:
    """A built-in run's stored test predictions; ``ExampleDiffError`` saying why when there are none."""
    run = session.get(Run, run_id)
    if run is None:
        raise ExampleDiffError(f"run {run_id} not found", status=404)
    if run.external or run.command is not None:
        kind = "a script's run" if run.external else "a command run"
        raise ExampleDiffError(f"run {run_id} is {kind}: only built-in runs store test predictions", status=422)
    path = artifacts.resolve(root, run_id, predictions_file.NAME)
    if path is None or not path.is_file():
        raise ExampleDiffError(
            f"run {run_id} has no test predictions: a built-in run stores them when it finishes "
            f"(status {run.status!r}; runs from before this version have none)",
            status=409,
        )
    stat = path.stat()
    try:
        return _read(str(path), stat.st_mtime_ns, stat.st_size)
    except PredictionsFileError as error:
        raise ExampleDiffError(f"run {run_id}: {error}", status=409) from None


def changed_examples(session: Session, *, root: Path, a: int, b: int) -> Changed:
    """Fixed and broken examples between runs ``a`` and ``b``, which must be on the same test set."""
    if a == b:
        raise ExampleDiffError("pick two different runs to compare", status=422)
    first = load_predictions(session, root=root, run_id=a)
    second = load_predictions(session, root=root, run_id=b)
    if (first.dataset, len(first), first.classes) != (second.dataset, len(second), second.classes):
        raise ExampleDiffError(
            f"run {a} was tested on {first.dataset} ({len(first)} examples), run {b} on {second.dataset} "
            f"({len(second)} examples): only runs on the same test set can be compared",
            status=422,
        )
    right_a = [p == y for p, y in zip(first.preds, first.labels, strict=True)]
    right_b = [p == y for p, y in zip(second.preds, second.labels, strict=True)]
    fixed = [i for i in range(len(first)) if not right_a[i] and right_b[i]]
    broken = [i for i in range(len(first)) if right_a[i] and not right_b[i]]
    fixed.sort(key=lambda i: -first.confidences[i])
    broken.sort(key=lambda i: -second.confidences[i])
    n = max(1, len(first))
    return Changed(
        dataset=first.dataset,
        n=len(first),
        acc_a=sum(right_a) / n,
        acc_b=sum(right_b) / n,
        fixed=[_example(first, second, i, image_run=a, wrong=first) for i in fixed],
        broken=[_example(first, second, i, image_run=b, wrong=second) for i in broken],
    )


def thumbnail_png(session: Session, *, root: Path, run_id: int, index: int) -> bytes | None:
    """The PNG thumbnail of test example ``index`` as run ``run_id`` stored it (the ones it got wrong), or None."""
    predictions = load_predictions(session, root=root, run_id=run_id)
    pixels = predictions.thumbnails.get(index)
    if pixels is None:
        return None
    height, width, channels = predictions.shape
    return encode_png(pixels, height=height, width=width, channels=channels)


def _example(
    first: Predictions, second: Predictions, index: int, *, image_run: int, wrong: Predictions
) -> dict[str, Any]:
    """One changed example: its label, both runs' predictions and confidences, and where its thumbnail is (the run
    that got it wrong stored it; null past that run's thumbnail cap)."""
    names = first.classes
    image = f"/api/runs/{image_run}/test-images/{index}.png" if index in wrong.thumbnails else None
    return {
        "index": index,
        "label": names[first.labels[index]],
        "pred_a": names[first.preds[index]],
        "conf_a": round(first.confidences[index], 2),
        "pred_b": names[second.preds[index]],
        "conf_b": round(second.confidences[index], 2),
        "image": image,
    }


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int, size: int) -> Predictions:
    """A decoded file, kept while it is unchanged: a page of thumbnails reads the same file once, not per image."""
    return predictions_file.decode(Path(path).read_bytes())
