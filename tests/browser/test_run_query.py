"""The runs page's search box takes a query (issue 16, point 1): it narrows the table through the API, the URL
carries it with the sort, the columns and the selection, a fresh browser reproduces the view, the server sorts by a
config key across pages, and a bad query says where it went wrong next to the box."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import Watch, screenshot
from tests.utils.leases import external_run
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

TABLE = '[data-testid="runs-table"]'
SEARCH = 'input[name="q"]'

stack = api_only_stack("query")


def script_run(api: httpx.Client, name: str, tags: list[str], config: dict[str, Any], summary: dict[str, Any]) -> int:
    run_id, lease = external_run(api, "", name=name, tags=tags, config=config)
    reply = api.post(f"/runs/{run_id}/status", json={"status": "succeeded", "summary": summary}, headers=lease)
    assert reply.status_code == 200, reply.text
    return run_id


def shown_ids(page: Page) -> list[int]:
    return page.locator(f"{TABLE} tr[data-run-id]").evaluate_all("(rows) => rows.map((r) => +r.dataset.runId)")


def expect_rows(page: Page, ids: list[int]) -> None:
    """The table comes to show exactly these runs, in this order."""
    page.wait_for_function(
        "(ids) => [...document.querySelectorAll('tr[data-run-id]')].map((t) => +t.dataset.runId).join() === ids",
        arg=",".join(map(str, ids)),
    )


def url_query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).fragment.partition("?")[2])


@pytest.fixture
def fresh_page(browser: Browser, watch: Watch) -> Iterator[Page]:
    """Another browser context: no storage shared with `page`, as a colleague's browser opening a shared URL."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    other = context.new_page()
    other.on("console", watch.on_console)
    other.on("pageerror", watch.on_page_error)
    yield other
    context.close()


def test_a_query_narrows_the_table_and_a_fresh_browser_reproduces_the_view(
    page: Page, fresh_page: Page, stack: Stack, api: httpx.Client
) -> None:
    fast = script_run(api, "q adam fast", ["qfig"], {"optimizer": {"name": "adam", "lr": 0.01}}, {"best_acc": 0.95})
    slow = script_run(api, "q sgd slow", ["qfig"], {"optimizer": {"name": "sgd", "lr": 0.001}}, {"best_acc": 0.85})
    mid = script_run(api, "q momentum", ["qfig"], {"optimizer": {"name": "momentum", "lr": 0.1}}, {"best_acc": 0.92})
    script_run(api, "q other", ["qelse"], {"optimizer": {"name": "adam", "lr": 0.5}}, {"best_acc": 0.99})

    page.goto(f"{stack.url}/#/runs?cols=config.optimizer.lr")
    expect(page.locator(f"{TABLE} tr[data-run-id]")).to_have_count(4)
    expect(page.locator(SEARCH)).to_have_attribute("placeholder", re.compile(r"query: config\.optimizer\.lr >= 0\.01"))
    page.get_by_label("Query help").click()
    help_panel = page.locator(".query-help-panel")
    expect(help_panel).to_contain_text("tag:fig5")
    expect(help_panel).to_contain_text("~ contains, any case")
    screenshot(page, "runs_query_help")
    page.get_by_label("Query help").click()
    expect(help_panel).to_be_hidden()
    query = "tag:qfig and (config.optimizer.lr >= 0.01 or summary.best_acc < 0.9)"
    page.fill(SEARCH, query)
    expect_rows(page, [mid, slow, fast])  # newest first
    expect(page.locator('[data-testid="runs-total"]')).to_have_text("3 runs match")
    assert url_query(page)["q"] == [query]

    page.locator(f'{TABLE} thead th[data-col="config.optimizer.lr"] button.sort').click()
    expect_rows(page, [mid, fast, slow])  # highest lr first, sorted by the API
    page.locator(f'{TABLE} tr[data-run-id="{fast}"] input[type=checkbox]').check()
    expect(page.get_by_role("button", name="Compare 1 selected")).to_be_visible()
    page.wait_for_function("(id) => location.hash.includes('sel=' + id)", arg=str(fast))
    shared = url_query(page)
    assert shared["sort"] == ["config.optimizer.lr"] and shared["sel"] == [str(fast)]
    screenshot(page, "runs_query")

    fresh_page.goto(page.url)
    expect_rows(fresh_page, [mid, fast, slow])
    expect(fresh_page.locator(SEARCH)).to_have_value(query)
    expect(fresh_page.locator(f'{TABLE} tr[data-run-id="{fast}"] input[type=checkbox]')).to_be_checked()
    expect(fresh_page.get_by_role("button", name="Compare 1 selected")).to_be_visible()
    expect(fresh_page.locator(f'{TABLE} thead th[data-col="config.optimizer.lr"]')).to_be_visible()

    # the tab's own selection outlives an older URL: select another run on its page, then Back
    page.goto(f"{stack.url}/#/runs/{mid}")
    page.click("text=Select for compare")
    page.go_back()
    expect(page.get_by_role("button", name="Compare 2 selected")).to_be_visible()
    page.wait_for_function("(sel) => location.hash.includes('sel=' + sel)", arg=f"{fast},{mid}")
    expect(page.locator(f'{TABLE} tr[data-run-id="{mid}"] input[type=checkbox]')).to_be_checked()


def test_the_server_sorts_by_a_config_key_across_pages(page: Page, stack: Stack, api: httpx.Client) -> None:
    # the oldest run has the highest lr: sorted in the page, it would be on the second page of 25
    ids = [script_run(api, f"q page {i}", ["qpages"], {"lr": 1.0 - i / 100}, {}) for i in range(27)]
    page.goto(f"{stack.url}/#/runs?q=tag:qpages&cols=config.lr&limit=25")
    expect(page.locator(f"{TABLE} tr[data-run-id]")).to_have_count(25)
    assert shown_ids(page)[0] == ids[-1]
    page.locator(f'{TABLE} thead th[data-col="config.lr"] button.sort').click()  # numbers start high
    expect_rows(page, ids[:25])
    page.locator(f'{TABLE} thead th[data-col="config.lr"] button.sort').click()
    expect_rows(page, ids[::-1][:25])
    expect(page.locator('[data-testid="runs-total"]')).to_have_text("27 runs match")


def test_a_bad_query_says_where_next_to_the_box(page: Page, stack: Stack, api: httpx.Client, watch: Watch) -> None:
    kept = script_run(api, "q kept", ["qbad"], {"lr": 0.3}, {})
    allowed = re.compile(r"Failed to load resource: the server responded with a status of 422")
    watch.allowed.append(allowed)
    try:
        page.goto(f"{stack.url}/#/runs?q=tag:qbad")
        expect_rows(page, [kept])
        page.fill(SEARCH, "tag:qbad and config.lr >=")
        problem = page.locator('[data-testid="query-problem"]')
        expect(problem).to_be_visible()
        expect(problem).to_contain_text("at position 25: expected a value after '>='")
        expect(page.locator(SEARCH)).to_have_attribute("aria-invalid", "true")
        expect(page.locator(".banner-error")).to_be_hidden()  # told by the box, not as a failed page
        expect_rows(page, [kept])  # the rows of the last good query stay
        screenshot(page, "runs_query_error")
        page.fill(SEARCH, "tag:qbad and config.lr >= 0.2")
        expect(problem).to_be_hidden()
        expect_rows(page, [kept])
        page.fill(SEARCH, "(tag:qbad")
        expect(problem).to_contain_text("at position 9: expected ')' to close the '(' at position 0")
        expect(problem.locator("mark")).to_have_text(" ")  # the end of the query
    finally:
        page.close()  # its polling asks again with the bad query: no 422 may come after the pattern is gone
        watch.allowed.remove(allowed)
