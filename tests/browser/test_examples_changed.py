"""Compare two built-in runs example by example: the "Which examples changed" card shows the test images B fixed
and broke as thumbnails with both predictions and confidences. The runs get hand-made prediction files through
the API, with their leases, as a worker would upload them."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import screenshot
from tests.utils.leases import external_run
from tests.utils.predictions import finished_run_with, predictions_blob
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser

stack = api_only_stack("examples")

LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5]
PREDS_A = [1, 2, 1, 6, 4, 1, 9, 9, 3]  # wrong at 0, 3, 6, 8
PREDS_B = [7, 2, 7, 0, 4, 1, 9, 4, 5]  # wrong at 2, 6, 7: fixes 0, 3, 8; breaks 2, 7
CONF_A = [0.93, 0.8, 0.7, 0.51, 0.9, 0.99, 0.6, 0.85, 0.4]
CONF_B = [0.88, 0.9, 0.66, 0.95, 0.97, 0.99, 0.5, 0.7, 0.77]

CAPTIONS = "[data-testid=examples-changed] [data-testid=changed-example] figcaption"


def test_two_runs_show_the_examples_b_fixed_and_broke(page: Page, stack: Stack, api: httpx.Client) -> None:
    a = finished_run_with(api, predictions_blob(LABELS, PREDS_A, CONF_A), name="no decay", prefix="")
    b = finished_run_with(
        api, predictions_blob(LABELS, PREDS_B, CONF_B), name="decay", prefix="", optimizer={"weight_decay": 1e-4}
    )
    page.goto(f"{stack.url}/#/compare?ids={a},{b}")
    card = page.locator("[data-testid=examples-changed]")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("examples-summary")).to_contain_text(
        "B fixes 3 test examples A got wrong and breaks 2 test examples A got right"
    )
    expect(card.locator("button[data-tab=fixed]")).to_have_text("Fixed by B (3)")
    expect(card.locator("button[data-tab=broken]")).to_have_text("Broken by B (2)")
    expect(page.locator(CAPTIONS)).to_have_text(
        ["7 → 1 (0.93) vs 7 (0.88)", "0 → 6 (0.51) vs 0 (0.95)", "5 → 3 (0.40) vs 5 (0.77)"]
    )
    first_image = card.locator("[data-index='0'] img")
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 4", arg=first_image.element_handle())
    screenshot(page, "examples-changed")

    card.locator("button[data-tab=broken]").click()
    expect(card.locator("button[data-tab=broken]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(CAPTIONS)).to_have_text(["9 → 9 (0.85) vs 4 (0.70)", "1 → 1 (0.70) vs 7 (0.66)"])
    broken_image = card.locator("[data-index='7'] img")
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 4", arg=broken_image.element_handle())

    script, _ = external_run(api, prefix="", name="a script's run")
    page.goto(f"{stack.url}/#/compare?ids={a},{script}")
    expect(page.get_by_test_id("compare-count")).to_contain_text("2 runs")
    expect(card).to_be_hidden()

    queued = int(api.post("/runs", json={"name": "waiting", "dataset": "mnist", "epochs": 1}).json()["id"])
    page.goto(f"{stack.url}/#/compare?ids={a},{queued}")
    expect(card).to_contain_text("shows once both runs have finished")
