"""Any config or summary key as a runs-table column, a run's config as a tree, and a compare legend naming the
config keys that differ, for runs whose scripts sent free-form configs (issue 14, point 2)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import Watch, screenshot
from tests.utils.leases import external_run
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

TABLE = '[data-testid="runs-table"]'


stack = api_only_stack("columns")


def script_run(api: httpx.Client, name: str, tag: str, config: dict[str, Any], summary: dict[str, Any]) -> int:
    """A script's own run with this config and summary, and three points of valid_acc (its writes carry its lease)."""
    run_id, lease = external_run(api, "", name=name, tags=[tag], config=config)
    if summary:
        reply = api.post(f"/runs/{run_id}/status", json={"summary": summary}, headers=lease)
        assert reply.status_code == 200, reply.text
    points = [{"key": "valid_acc", "step": s, "value": 0.1 * s + 0.01 * run_id} for s in range(1, 4)]
    reply = api.post(f"/runs/{run_id}/metrics", json={"points": points}, headers=lease)
    assert reply.status_code == 200, reply.text
    return run_id


def expect_order(page: Page, ids: list[int]) -> None:
    """The table's rows come to be in this order (the next read redraws them)."""
    page.wait_for_function(
        "(ids) => [...document.querySelectorAll('tr[data-run-id]')].map((t) => +t.dataset.runId).join() === ids",
        arg=",".join(map(str, ids)),
    )


def cell(page: Page, run_id: int, col: str) -> Any:
    return page.locator(f'{TABLE} tr[data-run-id="{run_id}"] td[data-col="{col}"]')


def test_any_config_or_summary_key_becomes_a_sortable_column_kept_in_the_url(
    page: Page, stack: Stack, api: httpx.Client, watch: Watch
) -> None:
    a = script_run(api, "cols a", "cols", {"lr": 0.01, "optimizer": {"name": "adam"}}, {"best_acc": 0.7})
    b = script_run(api, "cols b", "cols", {"lr": 0.1, "optimizer": {"name": "sgd"}}, {"best_acc": 0.95})
    c = script_run(api, "cols c", "cols", {"lr": 0.001, "optimizer": {"name": "adamw"}}, {"best_acc": 0.8})

    page.goto(f"{stack.url}/#/runs?tag=cols")
    expect(page.locator(f"{TABLE} tbody tr")).to_have_count(3)
    menu = page.locator('[data-testid="columns"]')
    menu.locator("summary").click()
    items = menu.locator(".columns-item")
    expect(items).to_have_count(3)  # config.lr, config.optimizer.name, summary.best_acc
    assert items.evaluate_all("(ls) => ls.map((l) => l.dataset.key)") == [
        "config.lr",
        "config.optimizer.name",
        "summary.best_acc",
    ]
    menu.locator('input[value="config.lr"]').check()
    menu.locator('input[value="summary.best_acc"]').check()
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")

    expect(cell(page, a, "config.lr")).to_have_text("0.01")
    expect(cell(page, b, "config.lr")).to_have_text("0.1")
    expect(cell(page, c, "summary.best_acc")).to_have_text("0.8")
    expect(cell(page, a, "config.lr")).to_have_attribute("data-label", "lr")  # a labelled value on a phone's card
    expect(page.locator(f'{TABLE} thead th[data-col="config.lr"]')).to_have_text(re.compile("^lr"))
    assert "cols=config.lr,summary.best_acc" in page.url
    screenshot(page, "runs_columns")

    page.reload()
    expect(cell(page, b, "summary.best_acc")).to_have_text("0.95")
    expect(cell(page, c, "config.lr")).to_have_text("0.001")

    # sorted in the page by a chosen column: high to low first, then the other way; the order is in the URL
    page.locator(f'{TABLE} thead th[data-col="summary.best_acc"] button.sort').click()
    expect(page.locator(f'{TABLE} thead th[data-col="summary.best_acc"]')).to_have_attribute("aria-sort", "descending")
    expect_order(page, [b, c, a])
    page.locator(f'{TABLE} thead th[data-col="config.lr"] button.sort').click()
    page.locator(f'{TABLE} thead th[data-col="config.lr"] button.sort').click()
    expect(page.locator(f'{TABLE} thead th[data-col="config.lr"]')).to_have_attribute("aria-sort", "ascending")
    expect_order(page, [c, a, b])
    assert "sort=config.lr" in page.url and "order=asc" in page.url
    page.reload()
    expect(page.locator(f'{TABLE} thead th[data-col="config.lr"]')).to_have_attribute("aria-sort", "ascending")
    expect_order(page, [c, a, b])

    # a plain #/runs keeps the last choice (and puts it in the URL, to share); removing a column removes it
    page.goto(f"{stack.url}/#/runs?tag=cols&offset=0")
    page.goto(f"{stack.url}/#/runs")
    # the previous view's header can still be on screen for a moment: wait for the new route's URL, not the header
    expect(page).to_have_url(re.compile(r"#/runs\?.*cols=config\.lr,summary\.best_acc"))
    expect(page.locator(f'{TABLE} thead th[data-col="summary.best_acc"]')).to_be_visible()
    menu.locator("summary").click()
    menu.locator('input[value="config.lr"]').uncheck()
    expect(page.locator(f'{TABLE} thead th[data-col="config.lr"]')).to_have_count(0)
    expect(cell(page, a, "summary.best_acc")).to_have_text("0.7")
    assert "config.lr" not in page.url and "sort=" not in page.url
    assert watch.errors == []


def test_the_run_page_shows_a_free_form_config_as_a_folding_tree(page: Page, stack: Stack, api: httpx.Client) -> None:
    markup = "<img src=x onerror=\"document.body.dataset.pwned='1'\">"
    config = {
        "lr": 0.0003,
        "optimizer": {"name": "adamw", "betas": [0.9, 0.999], "schedule": {"kind": "cosine", "warmup": 500}},
        "note": markup,
    }
    run_id = script_run(api, "tree run", "tree", config, {"best_acc": 0.5})

    page.goto(f"{stack.url}/#/runs/{run_id}")
    tree = page.locator('[data-testid="config"]')
    kind = tree.locator('[data-key="optimizer.schedule.kind"]')
    expect(kind).to_have_text(re.compile(r"^kind:?\s*cosine$"))
    expect(tree.locator('[data-key="optimizer.betas"]')).to_contain_text("[0.9, 0.999]")
    expect(tree.locator('[data-key="lr"]')).to_contain_text("0.0003")
    # a value is text, never markup: the script's string shows as typed and runs nothing
    expect(tree.locator('[data-key="note"]')).to_contain_text(markup)
    assert tree.locator("img").count() == 0
    assert page.evaluate("document.body.dataset.pwned") is None

    # a nested mapping folds and unfolds
    tree.locator('[data-key="optimizer"] > details > summary').click()
    expect(kind).to_be_hidden()
    expect(tree.locator('[data-key="optimizer"] > details > summary')).to_contain_text("3 keys")
    tree.locator('[data-key="optimizer"] > details > summary').click()
    expect(kind).to_be_visible()
    screenshot(page, "run_config_tree")


def test_compare_names_only_the_config_keys_that_differ(page: Page, stack: Stack, api: httpx.Client) -> None:
    base = {"seed": 1, "data": {"path": "/tmp/x"}}
    a = script_run(api, "cmp a", "cmpfree", {**base, "lr": 0.01, "optimizer": {"name": "adam"}}, {})
    b = script_run(api, "cmp b", "cmpfree", {**base, "lr": 0.1, "optimizer": {"name": "adam"}}, {})

    page.goto(f"{stack.url}/#/compare?ids={a},{b}")
    page.wait_for_function(
        "() => (document.querySelector('[data-chart=compare]')?.data || [])"
        ".filter((t) => t.x.length === 3).length === 2"
    )
    names = page.evaluate("document.querySelector('[data-chart=compare]').data.map((t) => t.name)")
    assert names == [f"#{a} lr=0.01", f"#{b} lr=0.1"]
    expect(page.locator('[data-testid="compare-count"]')).to_have_text("2 runs · differ in lr")
    expect(page.locator(f'[data-testid="compare-table"] tr[data-run-id="{b}"] td[data-key="lr"]')).to_have_text("0.1")


def test_on_a_phone_a_chosen_column_is_a_labelled_value_and_the_menu_fits(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    run_id = script_run(api, "phone cols", "phonecols", {"lr": 0.5, "optimizer": {"name": "adam"}}, {"best_acc": 0.6})
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{stack.url}/#/runs?tag=phonecols&cols=config.optimizer.name")
    value = cell(page, run_id, "config.optimizer.name")
    expect(value).to_have_text("adam")
    label = value.evaluate("(td) => getComputedStyle(td, '::before').content")
    assert label == '"optimizer.name"'
    page.locator('[data-testid="columns"] summary').click()
    panel = page.locator(".columns-panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
