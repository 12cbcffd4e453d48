"""The run page's Log card: the tail of what a run printed, growing live, searchable, and shown only as text."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import Watch, screenshot
from tests.utils.stack import Stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

HOSTILE = '<script>window.pwned = true</script><img src=x onerror="window.pwned = true">'


def _print(api: httpx.Client, run_id: int, first_line: int, lines: list[str]) -> None:
    reply = api.post(f"/runs/{run_id}/logs", json={"first_line": first_line, "lines": lines})
    assert reply.status_code == 200, reply.text


def test_the_log_card_shows_lines_live_filters_them_and_never_runs_them(
    page: Page, stack: Stack, api: httpx.Client, watch: Watch
) -> None:
    reply = api.post("/runs", json={"external": True, "name": "printing script"})
    assert reply.status_code == 201, reply.text
    run_id = reply.json()["id"]
    _print(api, run_id, 0, [f"warming up {n}" for n in range(1_000)])
    _print(api, run_id, 1_000, [f"warming up {n}" for n in range(1_000, 1_040)])
    _print(api, run_id, 1_040, [HOSTILE, "\x1b[1;31mred\x1b[0m and plain"])

    page.goto(f"{stack.url}/#/runs/{run_id}")
    card = page.get_by_test_id("log")
    lines = card.locator(".log-line")
    expect(lines).to_have_count(1_000)  # the tail: the last 1,000 of 1,042 lines
    expect(lines.last).to_have_text("red and plain")  # colour codes stripped
    expect(lines.nth(998)).to_have_text(HOSTILE)  # the markup is text on the page
    assert card.locator("script, img").count() == 0
    assert page.evaluate("window.pwned") is None
    expect(card.get_by_test_id("log-count")).to_have_text("1,042 lines · showing the last 1,000")

    card.get_by_role("button", name="Load earlier").click()
    expect(lines).to_have_count(1_042)
    expect(lines.first).to_have_text("warming up 0")

    body = card.get_by_test_id("log-lines")
    body.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    _print(api, run_id, 1_042, ["epoch 1: loss=0.50", "saving checkpoint"])
    _print(api, run_id, 1_044, ["Epoch 2: loss=0.25"])
    expect(lines.last).to_have_text("Epoch 2: loss=0.25")  # over the live stream, no reload
    expect(lines).to_have_count(1_045)
    assert body.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight") < 30, "it follows the bottom"

    card.get_by_placeholder("Search the log").fill("EPOCH")
    expect(lines).to_have_text(["epoch 1: loss=0.50", "Epoch 2: loss=0.25"])
    expect(lines.locator("mark")).to_have_text(["epoch", "Epoch"])
    expect(card.get_by_test_id("log-count")).to_contain_text("2 matching")
    _print(api, run_id, 1_045, ["epoch 3: loss=0.125", "not this one"])
    expect(lines).to_have_count(3)  # a live line that matches joins the filtered view
    screenshot(page, "run-log")

    card.get_by_placeholder("Search the log").fill("")
    expect(lines).to_have_count(1_047)
    assert page.evaluate("window.pwned") is None
    assert watch.errors == []
