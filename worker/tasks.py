"""Celery tasks: thin wrappers that hand a run id to the executor."""

from __future__ import annotations

from celery import Task, shared_task

from trainboard.settings import Settings
from worker import presence
from worker.celery_app import TRAIN_TASK
from worker.executor import execute_run


@shared_task(name=TRAIN_TASK, bind=True, acks_late=True)
def train_run(self: Task, run_id: int) -> str:
    """Train one run; the run's own status in the API says how it went."""
    with presence.executing(run_id):
        return execute_run(run_id, settings=Settings(), worker_name=str(self.request.hostname))
