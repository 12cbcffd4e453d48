"""The worker's Celery app, for ``celery -A worker.celery_app:app ...`` (e.g. flower).

The queue contract itself (task name, queues, how the app is built) is ``trainboard.queue``, shared with the API;
its names are re-exported here so the worker side keeps reading them from its own package.
"""

from __future__ import annotations

from celery import Celery

from trainboard.queue import QUEUES, TRAIN_TASK, declare_queues, make_celery, queue_for_device

__all__ = ["QUEUES", "TRAIN_TASK", "declare_queues", "make_celery", "queue_for_device"]


def __getattr__(name: str) -> Celery:
    # `celery -A worker.celery_app:app ...` gets an app built from the environment on first use, so importing
    # this module has no side effects.
    if name == "app":
        app = make_celery()
        app.conf.imports = ("worker.tasks",)
        globals()["app"] = app
        return app
    raise AttributeError(name)
