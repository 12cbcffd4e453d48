"""The runs page with 10,000 runs and a query in its URL (issue 16, point 6): the API's read and the table drawn in
Chromium give the right rows and count. How fast is a benchmark's to say, not a timed test's (PRODUCT.md):
bench/bench_runs_page.py prints the figures and their ratio to the same read without a query (docs/BENCHMARKS.md)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.utils.many_runs import SCALE_QUERY, api_seconds, seconds_to_table, seed_runs
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

RUNS = 10_000

stack = api_only_stack("scale")


@pytest.fixture(scope="module")
def matching(stack: Stack) -> int:
    return seed_runs(f"sqlite:///{stack.home / 'trainboard.sqlite'}", RUNS)


def test_the_api_reads_a_query_over_10000_runs(stack: Stack, matching: int) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        _, total = api_seconds(client)
    assert total == matching
    assert 0 < matching < RUNS


def test_the_runs_page_draws_a_query_over_10000_runs(browser: Browser, stack: Stack, matching: int) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # a fresh profile: nothing cached
    page = context.new_page()
    seconds_to_table(page, stack.url)
    expect(page.locator('[data-testid="runs-total"]')).to_have_text(f"{matching:,} runs match")
    expect(page.locator('[data-testid="runs-table"] tr[data-run-id]')).to_have_count(50)
    assert page.locator('input[name="q"]').input_value() == SCALE_QUERY
    context.close()
