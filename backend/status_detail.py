"""A run's status in words, e.g. why a queued run has not started: one text for the API's ``RunOut`` and for
the status events the run page reads live (so the browser keeps no copy of these rules)."""

from __future__ import annotations


def status_in_words(*, status: str, queue: str, external: bool, worker: str | None, stop_requested: str | None) -> str:
    if status == "queued":
        return (
            "waiting for a GPU (cuda) worker"
            if queue == "cuda"
            else f"waiting for a {queue} worker".replace("a any worker", "a worker")
        )
    if status == "running" and stop_requested:
        return f"finishing early: {stop_requested}"
    if status == "succeeded" and stop_requested:
        return f"stopped early: {stop_requested}"
    if status == "running":
        return "tracked by your script" if external else f"running on {worker or 'a worker'}"
    return status
