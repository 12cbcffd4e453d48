"""How an attempt ends: its outcome reported to the API (a built-in run's or a command run's)."""

from __future__ import annotations

import logging
from typing import Any

from trainboard.client import ApiError, Client

logger = logging.getLogger(__name__)


def report_outcome(client: Client, run_id: int, **fields: Any) -> str:
    """Report how the attempt ended; returns the run's status, or "preempted" when the run was taken over."""
    try:
        final = client.report_status(run_id, **fields)
    except ApiError as exc:
        if exc.status_code != 409:
            raise
        logger.warning("run %s: this attempt's outcome was refused, the run was taken over: %s", run_id, exc)
        return "preempted"
    return str(final["status"])
