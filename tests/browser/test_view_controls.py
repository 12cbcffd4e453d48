"""The views' controls that the other browser tests leave alone, each through the page as a user drives it: the run
page's actions, the runs table's selection, paging and empty state, the launch form's conv-block and dropout-scheme
widgets, the sweep view's curve metric. They wire one module of a view to another (views/<view>/*.js)."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

BASE = {"external": True, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}}


stack = api_only_stack("controls")


def external_run(api: httpx.Client, name: str, **spec: object) -> dict:
    response = api.post("/runs", json={**BASE, "name": name, **spec})
    assert response.status_code == 201, response.text
    return response.json()


def test_run_page_selects_for_compare_cancels_and_copies_the_config(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    run = external_run(api, "controls run")
    page.goto(f"{stack.url}/#/runs/{run['id']}")
    expect(page.locator(".run-title")).to_contain_text("controls run")
    page.click("text=Select for compare")
    expect(page.locator(".page-head .actions button.active")).to_have_text("✓ Selected for compare")
    expect(page.locator("#compare-count")).to_have_text("1")

    page.click("text=Copy JSON")  # headless Chromium may refuse the clipboard: either way the page says so
    told = re.compile("Config copied as JSON|The clipboard is not available")
    expect(page.locator(".toast").first).to_have_text(told)

    page.click("text=Cancel run")
    page.locator('dialog[data-testid="confirm"]').get_by_role("button", name="Yes, cancel").click()
    expect(page.locator('[data-testid="run-status"] .badge')).to_have_text("cancelled")
    expect(page.locator("text=Cancel run")).to_be_hidden()
    assert api.get(f"/runs/{run['id']}").json()["status"] == "cancelled"


def test_runs_table_selects_a_page_pages_and_clears_its_filters(page: Page, stack: Stack, api: httpx.Client) -> None:
    for i in range(26):
        external_run(api, f"paged {i}", tags=["paged"])
    page.goto(f"{stack.url}/#/runs?tag=paged")
    rows = page.locator('[data-testid="runs-table"] tbody tr')
    expect(rows).to_have_count(26)

    page.select_option('select[aria-label="Runs per page"]', "25")
    expect(page).to_have_url(re.compile(r"limit=25"))
    expect(rows).to_have_count(25)
    expect(page.locator(".pager")).to_contain_text("1–25 of 26")
    page.click("text=Next ›")
    expect(rows).to_have_count(1)
    expect(page.locator(".pager")).to_contain_text("26–26 of 26")
    expect(page).to_have_url(re.compile(r"offset=25"))
    page.click("text=‹ Prev")
    expect(rows).to_have_count(25)

    page.check('input[aria-label="Select all runs on this page"]')
    expect(page.locator(".page-head .actions button.primary")).to_have_text("Compare 25 selected")
    expect(page.locator("#compare-count")).to_have_text("25")
    page.click("text=Clear selection")
    expect(page.locator(".page-head .actions button.primary")).to_have_text("Compare")

    page.fill('input[name="q"]', "no run is called this")
    expect(page.locator(".empty-state")).to_contain_text("No runs match these filters.")
    page.click("text=Clear the filters")
    expect(page.locator('input[name="tag"]')).to_have_value("")
    expect(page.locator('input[name="q"]')).to_have_value("")
    expect(page).not_to_have_url(re.compile(r"tag=|q="))
    expect(rows.first).to_be_visible()


def _preview(page: Page) -> dict:
    text = page.locator('[data-testid="spec-preview"]').text_content() or ""
    return json.loads(text.split("\n", 1)[1])


def test_launch_grid_of_conv_blocks_and_the_dropout_schemes_preset(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.url}/#/launch")
    page.check('[name="grid-mode"]')
    page.check('[data-field="model.arch"] input[value="vgg"]')
    blocks = page.locator('[data-field="model.blocks"]')
    expect(blocks).to_be_visible()
    blocks.locator('input[value="shallow"]').check()
    blocks.locator('input[name="model.blocks.custom"]').fill("16, 32 | 8")
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("8 runs")  # 2 architectures × 4 block choices
    assert _preview(page)["grid"]["model.blocks"] == ["shallow", "deep", [16, 32], [8]]

    page.uncheck('[data-field="model.arch"] input[value="vgg"]')
    expect(blocks).to_be_hidden()
    expect(page.locator('[data-field="dropout_schemes"]')).to_be_hidden()  # an mlp without dropout
    page.fill('[name="model.dropout"]', "0.5")
    schemes = page.locator('[data-field="dropout_schemes"]')
    expect(schemes).to_be_visible()
    schemes.locator("text=10 … 100").click()
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("1 run")
    body = _preview(page)
    assert body["dropout_schemes"] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert body["model"]["dropout"] == 0.5 and "blocks" not in body["model"]


def test_sweep_view_keeps_its_curve_metric_and_heatmap_axes_in_the_url(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    grid = {"optimizer.lr": [0.1, 0.01], "batch_size": [32, 64]}
    sweep = api.post("/sweeps", json={"name": "controls sweep", "base": BASE, "grid": grid}).json()
    page.goto(f"{stack.url}/#/sweeps/{sweep['id']}?metric=valid_loss")
    expect(page.locator('[data-testid="results-table"] tbody tr')).to_have_count(4)
    expect(page.locator('select[name="curve-metric"]')).to_have_value("valid_loss")
    page.select_option('select[name="curve-metric"]', "test_acc")
    expect(page).to_have_url(re.compile(r"metric=test_acc"))
    page.select_option('select[name="heat-y"]', "")
    expect(page).not_to_have_url(re.compile(r"[?&]y="))  # "(none)" is the default: left out
    expect(page).to_have_url(re.compile(r"[?&]x=[^&]+.*metric=test_acc"))
    page.select_option('select[name="curve-metric"]', "valid_acc")  # the default leaves the URL
    expect(page).not_to_have_url(re.compile(r"metric="))
