"""The runs page with 10,000 runs and a query: the API's read and, in Chromium, navigation → rows drawn.

.venv/bin/python bench/bench_runs_page.py            # 10,000 runs, SQLite (the embedded default)
.venv/bin/python bench/bench_runs_page.py --runs 50000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import httpx
from common import banner, running_stack

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS
from tests.utils.many_runs import SCALE_QUERY, api_seconds, seconds_to_table, seed_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=7)
    args = parser.parse_args()
    banner(f"runs page: {args.runs} runs, q={SCALE_QUERY!r}")
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), workers=0) as stack:
        matching = seed_runs(f"sqlite:///{stack.home / 'trainboard.sqlite'}", args.runs)
        with httpx.Client(base_url=stack.url, timeout=30) as client:
            api_seconds(client)  # warm: the first read loads the page cache
            api = [api_seconds(client) for _ in range(args.turns)]
            plain = [api_seconds(client, "") for _ in range(args.turns)]  # the baseline: the same page, no query
        assert all(total == matching for _, total in api), "the API counted other runs than the query matches"
        print(f"GET /api/runs?q=…  {matching} of {args.runs} match   {_figures([s for s, _ in api])}")
        print(f"GET /api/runs (no query, baseline)         {_figures([s for s, _ in plain])}")
        ratio = statistics.median(s for s, _ in api) / statistics.median(s for s, _ in plain)
        print(f"query / baseline (medians)                 {ratio:.2f}")
        print(f"browser, navigation → rows drawn        {_figures(_browser_turns(stack.url, args.turns))}")


def _browser_turns(url: str, turns: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        seconds = []
        for _ in range(turns + 1):  # a fresh context each turn (an empty cache); the first warms the server
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            seconds.append(seconds_to_table(context.new_page(), url))
            context.close()
        browser.close()
    return seconds[1:]


def _figures(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"best {min(ms):7.1f} ms   median {statistics.median(ms):7.1f} ms   worst {max(ms):7.1f} ms"


if __name__ == "__main__":
    main()
