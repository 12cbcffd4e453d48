"""The runs page stays quick with 10,000 runs and a query in its URL (issue 16, point 6): the API's read and the
table drawn in Chromium, each well under a second here (bench/bench_runs_page.py prints the figures; the bounds
leave room for a busy 2-core machine: see docs/BENCHMARKS.md)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.utils.many_runs import SCALE_QUERY, api_seconds, seconds_to_table, seed_runs
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

RUNS = 10_000
BOUND_S = 2.0  # the goal is 1 s; measured here: about 0.06 s for the read, 0.5-0.9 s to the rows drawn

stack = api_only_stack("scale")


@pytest.fixture(scope="module")
def matching(stack: Stack) -> int:
    return seed_runs(f"sqlite:///{stack.home / 'trainboard.sqlite'}", RUNS)


def test_the_api_reads_a_query_over_10000_runs_in_well_under_a_second(stack: Stack, matching: int) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        turns = [api_seconds(client) for _ in range(3)]
    assert {total for _, total in turns} == {matching}
    assert 0 < matching < RUNS
    assert min(seconds for seconds, _ in turns) < BOUND_S


def test_the_runs_page_draws_a_query_over_10000_runs_in_well_under_a_second(
    browser: Browser, stack: Stack, matching: int
) -> None:
    seconds = []
    for _ in range(3):  # a fresh browser profile each time: nothing cached
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        seconds.append(seconds_to_table(page, stack.url))
        expect(page.locator('[data-testid="runs-total"]')).to_have_text(f"{matching:,} runs match")
        expect(page.locator('[data-testid="runs-table"] tr[data-run-id]')).to_have_count(50)
        assert page.locator('input[name="q"]').input_value() == SCALE_QUERY
        context.close()
    assert min(seconds) < BOUND_S, f"navigation → rows drawn: {seconds}"
