"""Hands committed runs to the Celery workers, by id."""

from __future__ import annotations

import logging

from celery import Celery

from backend.models import Run
from worker.celery_app import TRAIN_TASK

logger = logging.getLogger(__name__)


def enqueue(celery: Celery, runs: list[Run]) -> None:
    """Send each run's id to its queue. Call only after the runs are committed: the task re-reads them."""
    for run in runs:
        if run.external or run.status != "queued":
            continue
        celery.send_task(TRAIN_TASK, args=[run.id], queue=run.queue)
        logger.info("run %s enqueued on %r", run.id, run.queue)
