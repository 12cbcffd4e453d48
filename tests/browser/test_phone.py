"""Every page at a phone's width (390 x 844 CSS px), in headless Chromium against a live stack with no worker.

Nothing may stick out past the right edge (the page never scrolls sideways), the runs list turns into cards
whose status pill is whole, the top bar's links stay reachable, and the charts fit the screen and follow the
window when it narrows. At 1400 px the runs list is still a table. The runs are played through the API, as a
user's script (external runs) or a worker would (the fig1 preset's runs, for the report).
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.helpers import screenshot
from tests.utils.stack import Stack, api_only_stack

if TYPE_CHECKING:
    pass

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

PHONE = {"width": 390, "height": 844}
BASE = {"external": True, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [64, 64]}, "epochs": 3}

# Every visible element whose visible part (its box, cut by the ancestors that clip it) sticks out of the
# viewport, with a selector-like path and its edges; an element inside a horizontally scrolling box only counts
# where that box itself sticks out. Plotly's SVG insides are left to the chart check below.
OFFENDERS_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      let part = e.tagName.toLowerCase();
      if (e.id) part += `#${e.id}`;
      const classes = typeof e.className === "string" ? e.className.trim().split(/\\s+/).filter(Boolean) : [];
      if (classes.length) part += `.${classes.slice(0, 2).join(".")}`;
      for (const key of ["testid", "chart", "col", "label", "nav"]) {
        if (e.dataset && e.dataset[key]) part += `[data-${key}="${e.dataset[key]}"]`;
      }
      parts.unshift(part);
    }
    return parts.join(" > ");
  };
  const clipped = (el, rect) => {
    let { left, right } = rect;
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.overflowX !== "visible") {
        const box = a.getBoundingClientRect();
        left = Math.max(left, box.left);
        right = Math.min(right, box.right);
      }
      if (style.position === "fixed") break;
    }
    return { left, right };
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.id === "js-plotly-tester") continue; // plotly.js measures text there, 10,000 px off screen on purpose
    if (el.closest("svg") && el.tagName.toLowerCase() !== "svg") continue;
    if (el.closest(".js-plotly-plot .svg-container") && el.tagName.toLowerCase() === "svg") continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "contents") continue;
    const { left, right } = clipped(el, rect);
    if (right <= left) continue; // clipped away entirely: nothing shows
    if (right > width + 0.5 || left < -0.5) out.push(`${path(el)} [${Math.round(left)}..${Math.round(right)}]`);
  }
  return { width, scrollWidth: document.documentElement.scrollWidth, offenders: out.slice(0, 25) };
}
"""

# The status pills on screen whose text is cut: by the pill itself, or by leaving the viewport.
CUT_PILLS_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const cut = [];
  for (const b of document.querySelectorAll(".badge")) {
    if (!b.getClientRects().length || getComputedStyle(b).visibility === "hidden") continue;
    const r = b.getBoundingClientRect();
    if (b.scrollWidth > b.clientWidth + 0.5 || r.left < 0 || r.right > width + 0.5) {
      cut.push(`${b.textContent} [${Math.round(r.left)}..${Math.round(r.right)}] text ${b.scrollWidth} px`);
    }
  }
  return cut;
}
"""

# Every drawn chart's outer box and SVG width.
CHARTS_JS = """
() => [...document.querySelectorAll(".js-plotly-plot")]
  .filter((p) => p.getClientRects().length)
  .map((p) => {
    const svg = p.querySelector(".main-svg");
    const width = svg ? Math.round(svg.getBoundingClientRect().width) : 0;
    return { chart: p.dataset.chart || "?", right: Math.round(p.getBoundingClientRect().right), svg: width };
  })
"""


stack = api_only_stack("phone")


# ---- playing the runs -----------------------------------------------------------------------------------------


def epoch_points(epochs: int, best: float) -> list[dict[str, Any]]:
    points = []
    for epoch in range(1, epochs + 1):
        valid = best - 0.1 * (epochs - epoch) / epochs
        for split, acc in (("train", valid + 0.02), ("valid", valid), ("test", valid - 0.01)):
            points.append({"key": f"{split}_acc", "step": epoch, "value": acc})
            points.append({"key": f"{split}_loss", "step": epoch, "value": 1.5 * (1 - acc)})
    points += [{"key": "loss", "step": s, "value": 2.3 / (1 + s / 20)} for s in range(1, 200, 7)]
    return points


def finish(api: httpx.Client, run_id: int, epochs: int, best: float) -> None:
    """Post a run's curves and end it ``succeeded`` with its summary (the api client sends the run's lease)."""
    assert api.post(f"/runs/{run_id}/metrics", json={"points": epoch_points(epochs, best)}).status_code == 200
    summary = {"best_epoch": epochs, "best_valid_acc": best, "test_acc_at_best": best - 0.01, "duration_s": 42.0}
    reply = api.post(f"/runs/{run_id}/status", json={"status": "succeeded", "epoch": epochs, "summary": summary})
    assert reply.status_code == 200, reply.text


def claim(api: httpx.Client, run_id: int) -> None:
    assert api.post(f"/runs/{run_id}/claim", json={"worker": "phone-script@test"}).status_code == 200


@pytest.fixture(scope="module")
def runs(api: httpx.Client) -> dict[str, Any]:
    """Three finished runs with long names, one still running, a finished 2 x 2 sweep and the report's fig1."""
    ids = []
    for i, (optimizer, best) in enumerate((("sgd", 0.91), ("adam", 0.95), ("sgd", 0.88))):
        spec = {**BASE, "optimizer": {"name": optimizer, "lr": 0.01 * (i + 1)}, "tags": ["phone", "long-tag-name"]}
        reply = api.post("/runs", json={**spec, "name": f"phone check number {i} with a rather long run name"})
        assert reply.status_code == 201, reply.text
        ids.append(reply.json()["id"])
        finish(api, ids[-1], 3, best)
    running = api.post("/runs", json={**BASE, "name": "phone still running"}).json()["id"]
    sweep_body = {"name": "phone sweep", "base": BASE, "grid": {"batch_size": [16, 64], "optimizer.lr": [0.1, 0.01]}}
    sweep = api.post("/sweeps", json=sweep_body).json()
    for i, row in enumerate(sweep["results"]):
        claim(api, row["run_id"])
        finish(api, row["run_id"], 3, 0.8 + 0.03 * i)
    gpu = {"host": "a-gpu-box.example", "devices": ["cpu", "cuda"], "gpus": ["NVIDIA H100 80GB HBM3"] * 2}
    heartbeat = {**gpu, "queues": ["any", "cuda"], "session": "phone", "run_id": running}
    assert api.put("/workers/phone-gpu-worker@a-gpu-box", json=heartbeat).status_code == 200
    assert api.post("/presets/fig1", params={"scale": "quick"}).status_code == 201
    fig1 = next(s for s in api.get("/sweeps").json() if s["preset"] == "fig1")
    for i, row in enumerate(api.get(f"/sweeps/{fig1['id']}").json()["results"]):
        claim(api, row["run_id"])
        finish(api, row["run_id"], 10, 0.97 - 0.01 * i)
    return {"ids": ids, "running": running, "sweep": sweep["id"]}


# ---- checks ---------------------------------------------------------------------------------------------------


def assert_fits(page: Page, what: str) -> None:
    """Nothing sticks out of the viewport: the page does not scroll sideways, no element crosses an edge."""
    page.wait_for_timeout(300)  # a chart's resize, a poll's redraw
    found = page.evaluate(OFFENDERS_JS)
    screenshot(page, f"phone_{what}")
    offenders = "\n  ".join(found["offenders"])
    assert not found["offenders"], f"{what}: these stick out of the {found['width']} px screen:\n  {offenders}"
    assert found["scrollWidth"] <= PHONE["width"], f"{what}: the page is {found['scrollWidth']} px wide"
    assert page.evaluate(CUT_PILLS_JS) == [], f"{what}: status pills are cut"
    for chart in page.evaluate(CHARTS_JS):
        fits = chart["right"] <= PHONE["width"] and 0 < chart["svg"] <= PHONE["width"]
        assert fits, f"{what}: a chart is wider than the screen: {chart}"


def wait_charts(page: Page, n: int) -> None:
    page.wait_for_function("(n) => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n", arg=n)


def test_runs_list_is_cards_with_whole_pills_and_the_top_bar_fits(phone: Page, stack: Stack, runs: dict) -> None:
    phone.goto(f"{stack.url}/#/runs")
    rows = phone.locator('[data-testid="runs-table"] tbody tr')
    expect(rows).to_have_count(len(runs["ids"]) + 1 + 4 + 2)
    assert_fits(phone, "runs")
    # each run is a card: a block, as wide as the screen allows, with its name, pill, numbers, time and checkbox
    card = phone.locator(f'tr[data-run-id="{runs["ids"][1]}"]')
    display = card.evaluate("(tr) => getComputedStyle(tr).display")
    assert display not in ("table-row", "none"), f"a run is a {display}, not a card"
    label = card.locator('[data-col="best_valid_acc"]').evaluate("(td) => getComputedStyle(td, '::before').content")
    assert label == '"Best valid"', "a card names its numbers"
    for part in ("a.run-name", ".badge", "[data-col=best_valid_acc]", "[data-col=created_at]", "input[type=checkbox]"):
        expect(card.locator(part)).to_be_visible()
    expect(card.locator(".badge")).to_have_text("succeeded")
    expect(card.locator('[data-col="best_valid_acc"]')).to_contain_text("95")
    # its checkbox selects it for Compare; the running run's Cancel button is on screen
    card.locator("input[type=checkbox]").check()
    expect(phone.get_by_role("button", name="Compare 1 selected")).to_be_visible()
    cancel = phone.locator(f'tr[data-run-id="{runs["running"]}"] [data-action="cancel"]')
    phone.evaluate("(id) => document.querySelector(`tr[data-run-id='${id}']`).scrollIntoView()", runs["running"])
    expect(cancel).to_be_in_viewport(ratio=1)
    assert_fits(phone, "runs_selected")
    # the runs of a sweep: the sweep's card above them fits too
    phone.goto(f"{stack.url}/#/runs?sweep_id={runs['sweep']}")
    expect(rows).to_have_count(4)
    expect(phone.locator(".sweep-card")).to_be_visible()
    assert_fits(phone, "runs_of_sweep")


def test_top_bar_links_are_reachable(phone: Page, stack: Stack) -> None:
    phone.goto(f"{stack.url}/#/runs")
    expect(phone.locator('[data-testid="workers-badge"]')).to_contain_text(re.compile(r"workers? · \d+ queued"))
    assert_fits(phone, "top_bar")
    menu = phone.locator('button[aria-controls="main-nav"]')
    for nav in ("sweeps", "launch", "compare", "report", "workers", "runs"):
        link = phone.locator(f'.nav a[data-nav="{nav}"]')
        if not link.is_visible():
            expect(menu).to_be_visible()
            menu.click()
            expect(menu).to_have_attribute("aria-expanded", "true")
            assert_fits(phone, "menu_open")
        expect(link).to_be_in_viewport(ratio=1)
        link.click()
        expect(link).to_have_class(re.compile("active"))
    api_docs = phone.locator('a[href="/docs"]')
    if not api_docs.is_visible():
        menu.click()
    expect(api_docs).to_be_in_viewport(ratio=1)


def test_every_page_fits_a_phone(phone: Page, stack: Stack, runs: dict) -> None:
    a, b, _ = runs["ids"]
    phone.goto(f"{stack.url}/#/runs/{b}")
    expect(phone.locator(".run-title")).to_contain_text("phone check number 1")
    wait_charts(phone, 3)
    assert_fits(phone, "run")
    phone.goto(f"{stack.url}/#/launch")
    expect(phone.locator('[data-testid="launch"]')).to_be_visible()
    assert_fits(phone, "launch")
    phone.goto(f"{stack.url}/#/launch?grid=1")
    expect(phone.locator('[data-testid="launch"]')).to_be_visible()
    assert_fits(phone, "launch_grid")
    phone.goto(f"{stack.url}/#/compare?ids={a},{b}")
    wait_charts(phone, 1)
    assert_fits(phone, "compare")
    phone.goto(f"{stack.url}/#/sweeps")
    expect(phone.locator('[data-testid="sweeps-table"] tbody tr')).to_have_count(2)
    assert_fits(phone, "sweeps")
    phone.goto(f"{stack.url}/#/sweeps/{runs['sweep']}")
    expect(phone.locator('[data-testid="results-table"] tbody tr')).to_have_count(4)
    wait_charts(phone, 3)
    assert_fits(phone, "sweep")
    phone.goto(f"{stack.url}/#/report")
    expect(phone.locator('[data-fig="fig1"]')).to_have_attribute("data-state", "done", timeout=20_000)
    wait_charts(phone, 1)
    assert_fits(phone, "report")
    phone.goto(f"{stack.url}/#/workers")
    expect(phone.locator('[data-worker="phone-gpu-worker@a-gpu-box"]')).to_contain_text("H100")
    assert_fits(phone, "workers")
    phone.goto(f"{stack.url}/docs")
    expect(phone.locator(".swagger-ui .info")).to_be_visible()
    assert_fits(phone, "api_docs")


def test_charts_follow_the_window_down_to_a_phone(page: Page, stack: Stack, runs: dict) -> None:
    page.goto(f"{stack.url}/#/runs/{runs['ids'][0]}")
    wait_charts(page, 3)
    page.wait_for_timeout(300)
    assert max(c["svg"] for c in page.evaluate(CHARTS_JS)) > 500  # two charts a row on a wide screen
    page.set_viewport_size(PHONE)
    with contextlib.suppress(PlaywrightTimeout):  # if they never shrink, assert_fits names them
        page.wait_for_function(
            "(w) => [...document.querySelectorAll('.js-plotly-plot .main-svg')]"
            ".every((s) => s.getBoundingClientRect().right <= w)",
            arg=PHONE["width"],
            timeout=5_000,
        )
    assert_fits(page, "run_resized")


def test_a_wide_screen_keeps_the_runs_table(page: Page, stack: Stack, runs: dict) -> None:
    page.goto(f"{stack.url}/#/runs")
    row = page.locator(f'tr[data-run-id="{runs["ids"][0]}"]')
    expect(row).to_be_visible()
    assert row.evaluate("(tr) => getComputedStyle(tr).display") == "table-row"
    expect(page.locator('[data-testid="runs-table"] thead th[data-col="dataset"]')).to_be_visible()
    for nav in ("report", "workers"):
        expect(page.locator(f".nav a[data-nav='{nav}']")).to_be_in_viewport(ratio=1)
    expect(page.locator('button[aria-controls="main-nav"]')).to_be_hidden()
