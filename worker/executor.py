"""What a worker does with one run id: re-fetch it, check it is still wanted, train it, report the outcome."""

from __future__ import annotations

import logging
import traceback

from trainboard.client import Client
from trainboard.settings import Settings
from trainboard.spec import RunSpec
from worker.reporter import ApiReporter

logger = logging.getLogger(__name__)


def execute_run(run_id: int, *, settings: Settings, worker_name: str) -> str:
    """Train run ``run_id`` through the API; returns the status it ended with. Never raises for a bad run."""
    from worker.training.errors import Stopped
    from worker.training.run import train

    token = settings.token.get_secret_value() if settings.token else None
    with Client(settings.resolved_api_url, token or "") as client:
        run = client.get_run(run_id)
        if run["status"] != "queued":
            logger.info("run %s is %s: nothing to do", run_id, run["status"])
            return str(run["status"])
        run = client.report_status(run_id, status="running", worker=worker_name, epoch=0, progress=0.0)
        if run["status"] != "running":
            return str(run["status"])
        reporter = ApiReporter(client, run_id, worker_name=worker_name)
        try:
            spec = RunSpec.model_validate(run["spec"])
            summary = train(
                spec,
                data_dir=settings.resolved_data_dir,
                cache_dir=settings.home / "cache",
                run_dir=settings.home / "runs" / str(run_id),
                callback=reporter,
            )
        except Stopped:
            reporter.close()
            logger.info("run %s stopped: cancelled", run_id)
            return "cancelled"
        except Exception as exc:  # noqa: BLE001 - any failure of the run ends it failed; the worker lives on
            reporter.close()
            logger.error("run %s failed:\n%s", run_id, traceback.format_exc())
            client.report_status(run_id, status="failed", error=f"{type(exc).__name__}: {exc}", epoch=reporter.epoch)
            return "failed"
        reporter.close()
        final = client.report_status(run_id, status="succeeded", summary=summary.to_dict(), epoch=reporter.epoch)
        return str(final["status"])
