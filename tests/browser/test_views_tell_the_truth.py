"""What the pages show stays true and complete (issue 19): relative times that tick while a page stays open, a
config that lists what the run used, every file of a run, a question before a cancel, no empty axes behind
"Waiting…", and gallery images that wait on a placeholder rather than as black squares."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.helpers import png, screenshot
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

BASE = {"external": True, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}}
OCTET = {"Content-Type": "application/octet-stream"}


stack = api_only_stack("truth")


def external_run(api: httpx.Client, name: str, **spec: Any) -> dict:
    response = api.post("/runs", json={**BASE, "name": name, **spec})
    assert response.status_code == 201, response.text
    return response.json()


def status_of(api: httpx.Client, run_id: int) -> str:
    return str(api.get(f"/runs/{run_id}").json()["status"])


def upload(api: httpx.Client, run_id: int, name: str, content: bytes) -> None:
    response = api.put(f"/runs/{run_id}/artifacts/{name}", content=content, headers=OCTET)
    assert response.status_code == 201, response.text


# ---- relative times ------------------------------------------------------------------------------------------


def test_relative_times_keep_counting_while_the_page_stays_open(page: Page, stack: Stack, api: httpx.Client) -> None:
    runs = [external_run(api, f"ticking {i}", tags=["ticking"]) for i in range(2)]
    for run in runs:  # finished runs: nothing about them changes any more but their age
        assert api.post(f"/runs/{run['id']}/cancel").status_code == 200
    sweep = api.post("/sweeps", json={"name": "ticking sweep", "base": BASE, "grid": {"seed": [1]}}).json()
    api.post(f"/sweeps/{sweep['id']}/cancel")

    page.clock.install()
    page.goto(f"{stack.url}/#/runs?tag=ticking")
    expect(page.locator('th[data-col="created_at"]')).to_be_visible()
    column = page.locator('[data-testid="runs-table"] thead th').evaluate_all(
        "(ths) => ths.findIndex((th) => th.dataset.col === 'created_at')"
    )
    created = page.locator(f'[data-testid="runs-table"] tbody td:nth-child({column + 1})')
    expect(created).to_have_count(2)
    expect(created.first).to_have_text(re.compile(r"^\d s ago$"))
    page.clock.fast_forward("07:00")
    expect(created.nth(0)).to_have_text("7 min ago")
    expect(created.nth(1)).to_have_text("7 min ago")

    page.goto(f"{stack.url}/#/sweeps")
    age = page.locator(f'tr[data-sweep-id="{sweep["id"]}"] td').last
    expect(age).to_have_text(re.compile(r"^7 min ago$"))
    page.clock.fast_forward("05:00")
    expect(age).to_have_text("12 min ago")

    # one shared ticker, running only while a relative time is on the page
    ticking = "async () => (await import('/static/js/clock.js')).ticking()"
    assert page.evaluate(ticking) is True
    page.goto(f"{stack.url}/#/launch")
    expect(page.locator("h1").first).to_have_text("Launch")
    assert page.evaluate(ticking) == page.evaluate("() => !!document.querySelector('time[data-time]')")


# ---- the run page: config and files ---------------------------------------------------------------------------


def test_the_config_lists_the_keys_the_architecture_used_unclipped(page: Page, stack: Stack, api: httpx.Client) -> None:
    mlp = external_run(api, "config mlp")
    cnn = external_run(api, "config cnn", model={"arch": "cnn", "norm": "batchnorm"})
    leaves = page.locator(".config-body li:not(.tree-branch)")
    shown_keys = "(items) => items.map((li) => li.dataset.key)"

    page.goto(f"{stack.url}/#/runs/{mlp['id']}")
    expect(page.locator('.config-body [data-key="model.hidden"]')).to_contain_text("[16]")
    keys = leaves.evaluate_all(shown_keys)
    assert {"model.arch", "model.hidden", "model.dropout", "optimizer.lr", "seed"} <= set(keys)
    assert not {"model.norm", "model.blocks"} & set(keys), keys
    body = page.locator(".config-body")
    clipped = body.evaluate("(el) => el.scrollHeight - el.clientHeight")
    assert clipped <= 1, f"the config card hides {clipped} px behind its own scroll bar"

    page.goto(f"{stack.url}/#/runs/{cnn['id']}")
    expect(page.locator('.config-body [data-key="model.norm"]')).to_contain_text("batchnorm")
    keys = leaves.evaluate_all(shown_keys)
    assert "model.hidden" not in keys and "model.blocks" not in keys
    assert "model.dropout" not in keys  # the batch-norm variant has no dropout


def test_the_files_list_shows_every_file_grouped_with_sizes(page: Page, stack: Stack, api: httpx.Client) -> None:
    run = external_run(api, "many files")
    names = {"checkpoint_last.pt": b"\0" * 3000, "filters_first_layer.png": png(8, 8, lambda x, y: (x, y, 0))}
    for i in range(12):
        names[f"misclassified_{i}.png"] = png(4, 4, lambda x, y: (255, 255, 255))
    names["misclassified.json"] = json.dumps([]).encode()
    names["notes.txt"] = b"hello"
    for name, content in names.items():
        upload(api, run["id"], name, content)

    page.goto(f"{stack.url}/#/runs/{run['id']}")
    files = page.locator("details.files")
    expect(files.locator("summary")).to_contain_text(f"All files ({len(names)}")
    files.locator("summary").click()
    items = files.locator("li")
    expect(items).to_have_count(len(names))
    shown = items.evaluate_all("(lis) => lis.map((li) => li.textContent)")
    assert sorted(s.split(" ")[0] for s in shown) == sorted(names)
    assert any("2.9 KiB" in s for s in shown if s.startswith("checkpoint_last.pt"))
    assert all(re.search(r"\d+(\.\d)? (B|KiB|MiB)$", s) for s in shown), shown
    groups = files.locator(".file-group")
    misclassified = groups.filter(has_text="Misclassified test images").locator("li")
    expect(misclassified).to_have_count(12)
    expect(misclassified.nth(2)).to_contain_text("misclassified_2.png")  # in natural order, not _10 after _1
    expect(groups.filter(has_text="Checkpoints").locator("li")).to_have_count(1)


def test_gallery_images_wait_on_a_placeholder_load_lazily_and_all_before_printing(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    run = external_run(api, "slow gallery")
    items = []
    for i in range(3):
        upload(api, run["id"], f"misclassified_{i}.png", png(28, 28, lambda x, y: (0, 0, 0)))
        items.append({"index": i, "true": "1", "pred": "7", "confidence": 0.9, "image": f"misclassified_{i}.png"})
    upload(api, run["id"], "misclassified.json", json.dumps(items).encode())

    held: list[Route] = []
    slow = re.compile(r"/artifacts/misclassified_\d+\.png$")  # the images are on their way, slowly
    page.route(slow, lambda route: held.append(route))
    page.goto(f"{stack.url}/#/runs/{run['id']}")
    images = page.locator('[data-testid="gallery"] img')
    expect(images).to_have_count(3)
    for i in range(3):
        img = images.nth(i)
        expect(img).to_have_attribute("loading", "lazy")
        expect(img).to_have_attribute("alt", re.compile(r"^test image \d: true 1, predicted 7$"))
        background = img.evaluate("(el) => getComputedStyle(el).backgroundColor")
        assert background not in ("rgb(0, 0, 0)", "rgba(0, 0, 0, 0)"), f"an image not loaded yet shows as {background}"
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    assert images.evaluate_all("(imgs) => imgs.map((img) => img.loading)") == ["eager"] * 3
    page.unroute(slow)


# ---- asking before a cancel -----------------------------------------------------------------------------------


def confirm_dialog(page: Page, title: str) -> Any:
    dialog = page.locator('dialog[data-testid="confirm"]')
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text(title)
    return dialog


def test_cancel_asks_first_on_the_run_page(page: Page, stack: Stack, api: httpx.Client) -> None:
    run = external_run(api, "ask me first")
    page.goto(f"{stack.url}/#/runs/{run['id']}")
    cancel = page.get_by_role("button", name="Cancel run")

    cancel.click()
    confirm_dialog(page, f"Cancel run #{run['id']}?").get_by_role("button", name="Keep running").click()
    expect(page.locator('dialog[data-testid="confirm"]')).to_have_count(0)
    cancel.click()
    confirm_dialog(page, f"Cancel run #{run['id']}?")
    page.keyboard.press("Escape")
    expect(page.locator('dialog[data-testid="confirm"]')).to_have_count(0)
    page.wait_for_timeout(300)
    assert status_of(api, run["id"]) == "running"  # kept: an external run runs from the start

    cancel.click()
    confirm_dialog(page, f"Cancel run #{run['id']}?").get_by_role("button", name="Yes, cancel").click()
    expect(page.locator('[data-testid="run-status"] .badge')).to_have_text("cancelled")
    assert status_of(api, run["id"]) == "cancelled"


def test_cancel_asks_first_in_the_runs_table_one_run_or_many(page: Page, stack: Stack, api: httpx.Client) -> None:
    one = external_run(api, "table ask one", tags=["ask"])
    many = [external_run(api, f"table ask many {i}", tags=["ask", "many"]) for i in range(3)]
    page.goto(f"{stack.url}/#/runs?tag=ask")
    row = page.locator(f'tr[data-run-id="{one["id"]}"]')
    row.locator('[data-action="cancel"]').click()
    confirm_dialog(page, f"Cancel run #{one['id']}?").get_by_role("button", name="Keep running").click()
    page.wait_for_timeout(300)
    assert status_of(api, one["id"]) == "running"  # kept: an external run runs from the start
    row.locator('[data-action="cancel"]').click()
    confirm_dialog(page, f"Cancel run #{one['id']}?").get_by_role("button", name="Yes, cancel").click()
    expect(row.locator(".badge")).to_have_text("cancelled")
    assert status_of(api, one["id"]) == "cancelled"

    page.goto(f"{stack.url}/#/runs?tag=many")
    expect(page.locator('[data-testid="runs-table"] tbody tr')).to_have_count(3)
    page.check('input[aria-label="Select all runs on this page"]')
    bulk = page.locator('[data-action="cancel-selected"]')
    expect(bulk).to_have_text("Cancel 3 selected…")
    bulk.click()
    confirm_dialog(page, "Cancel 3 runs?").get_by_role("button", name="Keep running").click()
    page.wait_for_timeout(300)
    assert [status_of(api, r["id"]) for r in many] == ["running"] * 3
    bulk.click()
    confirm_dialog(page, "Cancel 3 runs?").get_by_role("button", name="Yes, cancel").click()
    expect(page.locator('[data-testid="runs-table"] .badge[data-status="cancelled"]')).to_have_count(3)
    assert [status_of(api, r["id"]) for r in many] == ["cancelled"] * 3
    expect(bulk).to_be_hidden()  # nothing selected is left to cancel


# ---- the sweep page's plots -----------------------------------------------------------------------------------


def ticks(page: Page, chart: str) -> int:
    return int(page.locator(f'[data-chart="{chart}"] .xtick, [data-chart="{chart}"] .ytick').count())


def test_sweep_plots_draw_no_axes_before_results_and_keep_labels_off_the_colour_bar(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    body = {"name": "axes sweep", "base": BASE, "grid": {"optimizer.lr": [0.1, 0.01], "batch_size": [32, 64]}}
    sweep = api.post("/sweeps", json=body).json()
    page.goto(f"{stack.url}/#/sweeps/{sweep['id']}")
    for chart in ("parcoords", "heatmap"):
        card = page.locator(f'[data-chart-card="{chart}"]')
        expect(card.locator(".plot-empty")).to_have_text("Waiting for the first results…")
        page.wait_for_function(
            "(id) => document.querySelector(`[data-chart='${id}'] .main-svg`)", arg=chart, timeout=20_000
        )
        assert ticks(page, chart) == 0, f"{chart}: axes drawn behind 'Waiting for the first results…'"

    for i, run_id in enumerate(sweep["runs"]):
        api.post(f"/runs/{run_id}/claim", json={"worker": "w@test"})
        summary = {"best_valid_acc": 0.80 + i / 50, "test_acc_at_best": 0.79 + i / 50}
        api.post(f"/runs/{run_id}/status", json={"status": "succeeded", "epoch": 1, "summary": summary})
    parcoords = page.locator('[data-chart="parcoords"]')
    expect(parcoords.locator(".y-axis")).to_have_count(3, timeout=15_000)
    # what the colour bar draws (its box is wider: padding): the gradient, its ticks and title
    bar_left = parcoords.locator(".colorbar").evaluate(
        "(g) => Math.min(...[...g.querySelectorAll('.cbfill, text')].map((el) => el.getBoundingClientRect().left))"
    )
    for right, text in (
        parcoords.locator(".y-axis")
        .last.locator("text")
        .evaluate_all("(els) => els.map((el) => [el.getBoundingClientRect().right, el.textContent])")
    ):
        assert right <= bar_left, f"the last axis's '{text}' runs into the colour bar"
    screenshot(page, "sweep_parcoords_with_results")
