"""Thousands of finished runs written straight into a stack's database (one bulk insert), for the runs page at scale."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx
from sqlalchemy import create_engine, insert

from backend.models import Run, utcnow
from backend.services.runs import tags_column

if TYPE_CHECKING:
    from playwright.sync_api import Page

OPTIMIZERS = ("sgd", "momentum", "adam")
SCALE_QUERY = "config.optimizer.lr >= 0.01 and summary.best_valid_acc > 0.9 and tag:scale"


def seed_runs(database_url: str, n: int, *, seed: int = 0) -> int:
    """Insert ``n`` succeeded built-in runs with varied configs and summaries; how many match SCALE_QUERY."""
    rng = random.Random(seed)
    now = utcnow()
    rows = []
    matching = 0
    for i in range(n):
        lr = rng.choice((0.001, 0.005, 0.01, 0.02, 0.1))
        acc = round(rng.uniform(0.5, 0.99), 4)
        tags = ["scale"] if i % 2 else ["other"]
        matching += lr >= 0.01 and acc > 0.9 and tags == ["scale"]
        spec = {
            "name": f"scale {i}",
            "tags": tags,
            "dataset": "mnist",
            "model": {"arch": "mlp", "hidden": [64]},
            "optimizer": {"name": rng.choice(OPTIMIZERS), "lr": lr, "weight_decay": 0.0},
            "batch_size": rng.choice((16, 32, 64)),
            "epochs": 5,
        }
        summary = {"best_valid_acc": acc, "test_acc_at_best": acc - 0.01, "best_epoch": 3, "duration_s": 12.5}
        created = now - timedelta(seconds=n - i)
        rows.append(
            {
                "name": spec["name"],
                "spec": spec,
                "config": spec,
                "status": "succeeded",
                "tags": tags_column(tags),
                "dataset": "mnist",
                "arch": "mlp",
                "batch_size": spec["batch_size"],
                "lr": lr,
                "best_valid_acc": acc,
                "test_acc_at_best": acc - 0.01,
                "duration_s": 12.5,
                "epoch": 5,
                "progress": 1.0,
                "summary": summary,
                "created_at": created,
                "started_at": created,
                "finished_at": created + timedelta(seconds=12.5),
            }
        )
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(insert(Run), rows)
    engine.dispose()
    return matching


def api_seconds(client: httpx.Client, query: str = SCALE_QUERY) -> tuple[float, int]:
    """One ``GET /api/runs?q=…`` (the runs page's read: its first page of 50): seconds, and the total it counted."""
    start = time.perf_counter()
    reply = client.get("/api/runs", params={"q": query, "limit": 50} if query else {"limit": 50})
    elapsed = time.perf_counter() - start
    reply.raise_for_status()
    return elapsed, int(reply.headers["X-Total-Count"])


# Noted by the page itself: the moment the first row is in the DOM (Playwright's polling would add its own delay).
ROWS_AT = """
new MutationObserver((_, observer) => {
  if (document.querySelector('[data-testid="runs-table"] tr[data-run-id]')) {
    window.__rowsAt = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""


def seconds_to_table(page: Page, url: str, query: str = SCALE_QUERY) -> float:
    """Open the runs page with ``query`` in its URL; seconds from the navigation's start to the rows drawn."""
    page.add_init_script(ROWS_AT)
    page.goto(f"{url}/#/runs?{urlencode({'q': query})}")
    page.wait_for_function("() => window.__rowsAt !== undefined")
    return float(page.evaluate("window.__rowsAt")) / 1000
