"""A script's own run (any config, any keys: no spec of the built-in loop) opens in every view without an error."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import Watch, screenshot
from tests.utils.stack import Stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py


def test_a_free_form_runs_page_row_and_compare_render_without_errors(
    page: Page, stack: Stack, api: httpx.Client, watch: Watch
) -> None:
    config = {"lr": 0.003, "optimizer": {"name": "adamw", "betas": [0.9, 0.999]}, "model": "resnet18"}
    reply = api.post("/runs", json={"external": True, "name": "my script", "tags": ["mine"], "config": config})
    assert reply.status_code == 201, reply.text
    run = reply.json()
    points = [{"key": key, "step": s, "value": 1.0 / (s + 1)} for key in ("train/loss", "lr") for s in range(50)]
    assert api.post(f"/runs/{run['id']}/metrics", json={"points": points}).status_code == 200
    assert api.post(f"/runs/{run['id']}/status", json={"summary": {"best_acc": 0.9}}).status_code == 200

    page.goto(f"{stack.url}/#/runs/{run['id']}")
    expect(page.locator(".run-title")).to_contain_text("my script")
    page.wait_for_timeout(500)  # the charts' and the gallery's requests come back
    # what the script sent is its config, key by key; no built-in spec words like "batch undefined"
    expect(page.locator(".run-subtitle")).to_have_text("a run tracked by its own script · tags: mine")
    # its own keys are charted; the report's charts, whose keys it never logged, are not shown waiting for them
    expect(page.locator('[data-chart="acc"]')).to_be_hidden()
    expect(page.locator('[data-chart="iter_loss"]')).to_be_hidden()
    config_card = page.locator(".config-body")
    expect(config_card.locator('[data-key="optimizer.name"] .tree-value')).to_have_text("adamw")
    expect(config_card.locator('[data-key="lr"] .tree-value')).to_have_text("0.003")
    expect(config_card.locator('[data-key="model"] .tree-value')).to_have_text("resnet18")
    screenshot(page, "free-form-run")

    page.goto(f"{stack.url}/#/runs?tag=mine")
    row = page.locator('[data-testid="runs-table"] tbody tr', has_text="my script")
    expect(row).to_be_visible()
    expect(row.locator(".tag-external")).to_be_visible()

    page.goto(f"{stack.url}/#/compare?ids={run['id']}")
    expect(page.locator("[data-chart=compare]").first).to_be_visible()
    page.wait_for_timeout(300)
    assert watch.errors == []
