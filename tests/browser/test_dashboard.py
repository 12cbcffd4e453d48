"""The dashboard in headless Chromium against a live stack: launch, live curves, gallery, compare, errors.

Runs that need no training are created with ``"external": true`` and fed through the API, as a user's own
script would; one test trains a tiny real MLP through the Celery worker.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import LEASES, TOKEN, DroppingProxy, Watch, chart_png, png, screenshot
from tests.utils.sse import sse_events
from tests.utils.stack import Stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

EPOCH_KEYS = ("train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss", "test_acc")


def external_run(api: httpx.Client, name: str, **spec: object) -> dict:
    body = {"name": name, "external": True, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, **spec}
    response = api.post("/runs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def post_epochs(api: httpx.Client, run_id: int, epochs: range, base: float = 0.5) -> None:
    points = []
    for epoch in epochs:
        acc = min(0.99, base + 0.05 * epoch)
        for key in EPOCH_KEYS:
            offset = {"train": 0.04, "valid": 0.0, "test": -0.02}[key.split("_")[0]]
            value = acc + offset if key.endswith("acc") else 1.0 - acc - offset
            points.append({"key": key, "step": epoch, "value": value})
    response = api.post(f"/runs/{run_id}/metrics", json={"points": points})
    assert response.status_code == 200, response.text


def trace_lengths(page: Page, chart: str) -> list[int]:
    return page.evaluate(
        "(id) => (document.querySelector(`[data-chart=${id}]`)?.data || []).map((t) => t.x.length)", chart
    )


def wait_trace_length(page: Page, chart: str, n: int, timeout: float = 15_000) -> None:
    page.wait_for_function(
        "([id, n]) => { const d = document.querySelector(`[data-chart=${id}]`);"
        " return !!(d && d.data && d.data.length && d.data[0].x.length >= n); }",
        arg=[chart, n],
        timeout=timeout,
    )


def chart_xs(page: Page, chart: str, trace: int = 0) -> list[float]:
    return page.evaluate(
        "([id, i]) => Array.from(document.querySelector(`[data-chart=${id}]`).data[i].x)", [chart, trace]
    )


def stream_after(url: str) -> int:
    """The event id a request for a run's stream resumes after (0: from the start)."""
    return int(parse_qs(urlsplit(url).query).get("after", ["0"])[0])


def stream_history(stack: Stack, run_id: int) -> list[tuple[int, str, dict]]:
    """Every event of a finished run, as (id, kind, data)."""
    with httpx.stream("GET", f"{stack.url}/api/runs/{run_id}/events", timeout=15) as response:
        return list(sse_events(response.iter_lines()))


def first_event_with(history: list[tuple[int, str, dict]], key: str, step: int) -> int:
    """The id of the event that brought ``key`` at ``step``."""
    return next(i for i, kind, data in history if kind == "metrics" and step in data.get(key, {}).get("step", []))


# ---- launch -------------------------------------------------------------------------------------------------


def test_launch_run_from_form_lands_on_its_page(page: Page, stack: Stack, api: httpx.Client) -> None:
    page.goto(f"{stack.url}/#/launch")
    page.fill('[name="name"]', "ui launched")
    page.fill('[name="tags"]', "ui, form")
    page.fill('[name="model.hidden"]', "64, 32")
    page.fill('[name="optimizer.lr"]', "0.05")
    page.fill('[name="epochs"]', "3")
    page.fill('[name="limit_train"]', "300")
    page.check('[name="external"]')
    # fields shown only when relevant
    expect(page.locator('[data-field="model.hidden"]')).to_be_visible()
    expect(page.locator('[data-field="model.blocks"]')).to_be_hidden()
    page.select_option('[name="model.arch"]', "cnn")
    expect(page.locator('[data-field="model.norm"]')).to_be_visible()
    expect(page.locator('[data-field="model.hidden"]')).to_be_hidden()
    page.select_option('[name="model.arch"]', "mlp")
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("1 run")
    screenshot(page, "launch_form")

    page.click('[data-testid="launch"]')
    page.wait_for_url(re.compile(r"#/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".run-title")).to_contain_text("ui launched")
    expect(page.locator('[data-testid="run-status"] .badge')).to_have_text("running")
    spec = api.get(f"/runs/{run_id}").json()["spec"]
    assert spec["model"]["hidden"] == [64, 32]
    assert spec["optimizer"]["lr"] == 0.05
    assert spec["tags"] == ["ui", "form"]
    assert spec["limit_train"] == 300 and spec["external"] is True
    screenshot(page, "run_launched")


def test_the_api_refusal_lands_next_to_the_field(page: Page, stack: Stack, watch: Watch) -> None:
    # the browser logs the 422 response itself ("Failed to load resource"): expected here, and only here
    allowed = re.compile(r"Failed to load resource: the server responded with a status of 422")
    watch.allowed.append(allowed)
    try:
        page.goto(f"{stack.url}/#/launch")
        page.select_option('[name="model.arch"]', "vgg")  # a rule across fields: only the API checks it
        page.click('[data-testid="launch"]')
        blocks_error = page.locator('[data-field="model.blocks"] .field-error')
        expect(blocks_error).to_be_visible()
        expect(blocks_error).to_contain_text("5 blocks halve a 28x28 mnist image 5 times, to nothing")
        expect(page.locator('[data-field="epochs"] .field-error')).to_be_hidden()
        assert "/launch" in page.url  # nothing launched
        screenshot(page, "launch_validation")
        # editing the field clears its message
        page.select_option('[name="model.blocks"]', "shallow")
        expect(blocks_error).to_be_hidden()
    finally:
        watch.allowed.remove(allowed)


def test_every_bad_value_is_named_next_to_its_field_as_typed(page: Page, stack: Stack, api: httpx.Client) -> None:
    before = len(api.get("/runs", params={"limit": 1000}).json())
    page.goto(f"{stack.url}/#/launch")
    page.fill('[name="name"]', "ui checked")
    page.check('[name="external"]')
    page.check('[name="grid-mode"]')
    launch = page.locator('[data-testid="launch"]')
    lr_error = page.locator('[data-field="optimizer.lr"] .field-error')
    page.fill('[name="optimizer.lr"]', "0.01, abc, -1")
    expect(lr_error).to_contain_text("'abc' is not a number")
    expect(lr_error).to_contain_text("-1: learning rate must be > 0")
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("1 run")  # only 0.01 counts
    expect(page.locator('[data-testid="form-problems"]')).to_contain_text("2 problems")
    expect(launch).to_be_disabled()
    expect(launch).to_have_text("Fix 2 problems to launch")
    page.fill('[name="batch_size"]', "32,,64")
    expect(page.locator('[data-field="batch_size"] .field-error')).to_have_text("empty value between commas")
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("2 runs")
    page.fill('[name="model.hidden"]', "800, abc")
    expect(page.locator('[data-field="model.hidden"] .field-error')).to_contain_text("'abc' is not a whole number")
    expect(launch).to_have_text("Fix 4 problems to launch")
    screenshot(page, "launch_problems")
    page.press('[name="epochs"]', "Enter")  # Enter does not launch either
    page.wait_for_timeout(300)
    assert "/launch" in page.url and len(api.get("/runs", params={"limit": 1000}).json()) == before

    page.fill('[name="optimizer.lr"]', "0.01, 0.1")
    page.fill('[name="batch_size"]', "32, 64")
    page.fill('[name="model.hidden"]', "16")
    expect(page.locator(".field-error:visible")).to_have_count(0)
    expect(page.locator('[data-testid="form-problems"]')).to_have_count(0)
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("4 runs")
    expect(launch).to_have_text("Launch 4 runs")
    launch.click()
    page.wait_for_url(re.compile(r"#/runs\?sweep_id=\d+"))
    runs = api.get("/runs", params={"sweep_id": int(re.search(r"sweep_id=(\d+)", page.url).group(1))}).json()
    assert sorted((r["spec"]["optimizer"]["lr"], r["spec"]["batch_size"]) for r in runs) == [
        (0.01, 32),
        (0.01, 64),
        (0.1, 32),
        (0.1, 64),
    ]


def test_grid_mode_shows_the_run_count_and_launches_a_sweep(page: Page, stack: Stack, api: httpx.Client) -> None:
    page.goto(f"{stack.url}/#/launch")
    # a report figure loads into the form as a grid: fig5 is 3 architectures x 5 batch sizes
    page.click(".presets-card summary")
    expect(page.locator("[data-preset]")).to_have_count(7)
    page.click('[data-preset="fig5"] >> text=Edit in form')
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("15 runs")
    expect(page.locator('[data-field="model.blocks"]')).to_be_visible()
    expect(page.locator('[data-field="model.hidden"]')).to_be_hidden()
    page.click("text=Reset to defaults")
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("1 run")
    page.fill('[name="name"]', "ui grid")
    page.check('[name="external"]')
    page.check('[name="grid-mode"]')
    page.fill('[name="batch_size"]', "16, 32, 64")
    page.check('input[name="optimizer.name"][value="adam"]')
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("6 runs")
    page.fill('[name="model.hidden"]', "32 | 64, 64")
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("12 runs")
    expect(page.locator('[data-testid="launch"]')).to_have_text("Launch 12 runs")
    screenshot(page, "launch_grid")

    page.click('[data-testid="launch"]')
    page.wait_for_url(re.compile(r"#/runs\?sweep_id=\d+"))
    sweep_id = int(re.search(r"sweep_id=(\d+)", page.url).group(1))
    expect(page.locator('[data-testid="runs-table"] tbody tr')).to_have_count(12)
    sweep_card = page.locator('[data-testid="sweep-card"]')
    expect(sweep_card).to_contain_text(f"Sweep #{sweep_id} ui grid")
    expect(sweep_card).to_contain_text("12 runs")
    expect(sweep_card.locator("text=Compare all runs")).to_have_attribute("href", re.compile(r"#/compare\?ids="))
    screenshot(page, "runs_sweep")
    runs = api.get("/runs", params={"sweep_id": sweep_id, "limit": 100}).json()
    assert sorted({(r["spec"]["batch_size"], r["spec"]["optimizer"]["name"]) for r in runs}) == sorted(
        (b, o) for b in (16, 32, 64) for o in ("sgd", "adam")
    )
    assert {tuple(r["spec"]["model"]["hidden"]) for r in runs} == {(32,), (64, 64)}


# ---- the run page -------------------------------------------------------------------------------------------


def test_curves_grow_live_without_reload_and_resume_after_a_drop(
    page: Page, stack: Stack, api: httpx.Client, watch: Watch, request: pytest.FixtureRequest
) -> None:
    run = external_run(api, "ui live", epochs=8)
    run_id = run["id"]
    post_epochs(api, run_id, range(1, 2))
    api.post(
        f"/runs/{run_id}/metrics",
        json={"points": [{"key": "loss", "step": s, "value": 2 - s / 100} for s in range(1, 51)]},
    )
    # the browser reaches the API through a proxy whose connections the test cuts, like a flaky network
    proxy = DroppingProxy(int(stack.url.rsplit(":", 1)[1]))
    watch.origins.append(proxy.url)
    request.addfinalizer(proxy.close)

    # the `after` of every request the page makes for the run's stream
    streams: list[int] = []
    page.on("request", lambda r: streams.append(stream_after(r.url)) if f"/runs/{run_id}/events" in r.url else None)
    page.goto(f"{proxy.url}/#/runs/{run_id}")
    wait_trace_length(page, "acc", 1)
    expect(page.locator(".live-dot")).to_have_text("live")
    page.evaluate("window.__marker = 'no reload'")

    post_epochs(api, run_id, range(2, 4))
    api.post(f"/runs/{run_id}/status", json={"epoch": 3, "progress": 3 / 8})
    wait_trace_length(page, "acc", 3)
    wait_trace_length(page, "loss", 3)
    assert chart_xs(page, "acc") == [1, 2, 3]
    # three epochs done, the bar at 3/8: the run is training its fourth
    expect(page.locator('[data-testid="progress-text"]')).to_contain_text("epoch 4/8")
    expect(page.locator('[data-testid="progress-text"]')).to_contain_text("ETA")

    # the connection drops; what is posted meanwhile arrives once, in order, when it comes back
    cut = re.compile(
        r"net::ERR_(CONNECTION_REFUSED|EMPTY_RESPONSE|CONNECTION_RESET|CONNECTION_CLOSED|INCOMPLETE_CHUNKED_ENCODING)"
    )
    watch.allowed.append(cut)
    try:
        before_drop = len(streams)
        proxy.drop()
        page.wait_for_function("() => document.querySelector('.live-dot').dataset.state === 'reconnecting'")
        post_epochs(api, run_id, range(4, 6))
        api.post(
            f"/runs/{run_id}/metrics",
            json={"points": [{"key": "loss", "step": s, "value": 1.5 - s / 1000} for s in range(51, 101)]},
        )
        page.wait_for_timeout(300)
        proxy.restore()
        expect(page.locator(".live-dot")).to_have_text("live")
    finally:
        watch.allowed.remove(cut)
    wait_trace_length(page, "acc", 5)
    wait_trace_length(page, "iter_loss", 100)
    reconnects = streams[before_drop:]
    # a hidden tab lets go of its stream (browsers allow ~6 connections per server) and catches up on return
    set_visibility = (
        "(state) => { Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    page.evaluate(set_visibility, "hidden")
    expect(page.locator(".live-dot")).to_have_text("paused (tab hidden)")
    before_hiding = len(streams)
    post_epochs(api, run_id, range(6, 7))
    page.evaluate(set_visibility, "visible")
    wait_trace_length(page, "acc", 6)
    returns = streams[before_hiding:]
    for trace in range(3):
        assert chart_xs(page, "acc", trace) == [1, 2, 3, 4, 5, 6]
    assert chart_xs(page, "iter_loss") == list(range(1, 101))
    assert page.evaluate("window.__marker") == "no reload"

    # error mode shows 100 − accuracy, in %
    page.click('[data-chart-card="acc"] button[data-mode="acc"]')
    valid = page.evaluate("Array.from(document.querySelector('[data-chart=acc]').data[1].y)")
    page.click('[data-chart-card="acc"] button[data-mode="error"]')
    page.wait_for_function("() => document.querySelector('[data-chart=acc]').layout.yaxis.title.text === 'error (%)'")
    error = page.evaluate("Array.from(document.querySelector('[data-chart=acc]').data[1].y)")
    assert error == pytest.approx([100 - v for v in valid])

    # every chart has Plotly's own PNG button (that works with the partial plotly.js bundle the page loads),
    # and a CSV button that downloads the chart's data
    expect(page.locator('[data-chart="acc"] .modebar-btn[data-title*="share" i]')).to_have_count(0)
    for chart in ("acc", "loss", "iter_loss", "param_norm"):
        name, width, height = chart_png(page, chart)
        assert name == f"run{run_id}_{chart}.png" and width > 600 and height > 300, (name, width, height)
    scripts = page.evaluate("[...document.scripts].map((s) => new URL(s.src || location.href).pathname)")
    assert [s for s in scripts if s.startswith("/vendor/")] == ["/vendor/plotly-basic-4.1.1.min.js"]
    with page.expect_download() as download:
        page.click('[data-csv="loss"]')
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "step,train_loss,valid_loss,test_loss"
    assert len(lines) == 7

    summary = {
        "n_params": 25450,
        "best_epoch": 6,
        "best_valid_acc": 0.8,
        "test_acc_at_best": 0.78,
        "gen_gap": 0.03,
        "duration_s": 12.5,
    }
    api.post(f"/runs/{run_id}/status", json={"status": "succeeded", "epoch": 6, "summary": summary})
    expect(page.locator('[data-testid="run-status"] .badge')).to_have_text("succeeded")
    expect(page.locator('[data-testid="summary"]')).to_contain_text("80.00 %")
    expect(page.locator('[data-testid="summary"]')).to_contain_text("25,450")
    expect(page.locator(".live-dot")).to_have_text("finished")
    screenshot(page, "run_live")

    # each reconnect asked for what it missed, from the last event it had (not from 0, nor from the page's start)
    history = stream_history(stack, run_id)
    last_before_drop = first_event_with(history, "valid_acc", 4) - 1
    last_before_hiding = first_event_with(history, "valid_acc", 6) - 1
    assert streams[0] < last_before_drop
    assert reconnects and set(reconnects) == {last_before_drop}, (reconnects, last_before_drop)
    assert returns and set(returns) == {last_before_hiding}, (returns, last_before_hiding)


def test_zoom_fetches_detail_and_downsampling_keeps_spikes(page: Page, stack: Stack, api: httpx.Client) -> None:
    run = external_run(api, "ui zoom")
    points = [{"key": "loss", "step": s, "value": 1.0 + (s % 7) / 100} for s in range(1, 5001)]
    points[3210]["value"] = 9.0  # one spike at step 3211
    api.post(f"/runs/{run['id']}/metrics", json={"points": points})

    page.goto(f"{stack.url}/#/runs/{run['id']}")
    wait_trace_length(page, "iter_loss", 10)
    shown = trace_lengths(page, "iter_loss")[0]
    assert shown < 2000, "5000 points should come back downsampled to about the chart's width"
    assert max(page.evaluate("Array.from(document.querySelector('[data-chart=iter_loss]').data[0].y)")) == 9.0

    page.evaluate("Plotly.relayout(document.querySelector('[data-chart=iter_loss]'), {'xaxis.range': [3000, 3100]})")
    page.wait_for_function(
        "() => { const x = document.querySelector('[data-chart=iter_loss]').data[0].x;"
        " return x.length === 101 && x[0] === 3000 && x[100] === 3100; }"
    )
    expect(page.locator('[data-chart-card="iter_loss"] .chart-note')).to_contain_text("zoomed")
    page.evaluate("Plotly.relayout(document.querySelector('[data-chart=iter_loss]'), {'xaxis.autorange': true})")
    page.wait_for_function(f"() => document.querySelector('[data-chart=iter_loss]').data[0].x.length === {shown}")


def test_gallery_shows_filters_and_misclassified_images(page: Page, stack: Stack, api: httpx.Client) -> None:
    run = external_run(api, "ui gallery")
    run_id = run["id"]
    octet = {"Content-Type": "application/octet-stream"}
    filters = png(48, 32, lambda x, y: ((x * 5) % 256, (y * 8) % 256, 128))
    assert (
        api.put(f"/runs/{run_id}/artifacts/filters_first_layer.png", content=filters, headers=octet).status_code == 201
    )
    items = []
    for i, (true, pred, confidence) in enumerate([("3", "5", 0.87), ("7", "1", 0.64), ("9", "4", 0.51)]):
        image = png(
            28, 28, lambda x, y, i=i: (255, 255, 255) if 8 <= x < 20 and 4 + i * 6 <= y < 8 + i * 6 else (0, 0, 0)
        )
        api.put(f"/runs/{run_id}/artifacts/misclassified_{i}.png", content=image, headers=octet)
        items.append(
            {"index": 100 + i, "true": true, "pred": pred, "confidence": confidence, "image": f"misclassified_{i}.png"}
        )
    api.put(f"/runs/{run_id}/artifacts/misclassified.json", content=json.dumps(items).encode(), headers=octet)

    fig3 = [
        {"key": key, "step": n, "value": base + n / 2000}
        for key, base in (
            ("dropout_scale_acc", 0.9),
            ("dropout_presoftmax_acc", 0.88),
            ("dropout_postsoftmax_acc", 0.89),
        )
        for n in range(10, 101, 10)
    ]
    api.post(f"/runs/{run_id}/metrics", json={"points": fig3})

    page.goto(f"{stack.url}/#/runs/{run_id}")
    wait_trace_length(page, "dropout", 10)
    assert len(trace_lengths(page, "dropout")) == 3
    gallery = page.locator('[data-testid="gallery"] .mis-item')
    expect(gallery).to_have_count(3)
    first = gallery.nth(0)
    expect(first.locator(".mis-true")).to_have_text("true 3")
    expect(first.locator(".mis-pred")).to_have_text("pred 5")
    expect(first.locator(".mis-conf")).to_have_text("87.0 %")
    expect(gallery.nth(2).locator(".mis-pred")).to_have_text("pred 4")
    expect(page.locator('[data-testid="filters"] figcaption')).to_have_text("First-layer kernels")
    page.locator('[data-testid="gallery"]').scroll_into_view_if_needed()  # the gallery's images load lazily
    page.wait_for_function(
        "() => [...document.querySelectorAll('.mis-img, .filters-img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    widths = page.evaluate("[...document.querySelectorAll('.mis-img')].map((img) => img.naturalWidth)")
    assert widths == [28, 28, 28]
    screenshot(page, "run_gallery")


# ---- runs table and compare ---------------------------------------------------------------------------------


def test_runs_table_filters_sorts_refreshes_and_cancels(page: Page, stack: Stack, api: httpx.Client) -> None:
    slow = external_run(api, "table slow", optimizer={"name": "sgd", "lr": 0.001}, tags=["table"])
    fast = external_run(api, "table fast", optimizer={"name": "adam", "lr": 0.3}, tags=["table"])
    page.goto(f"{stack.url}/#/runs?tag=table")
    rows = page.locator('[data-testid="runs-table"] tbody tr')
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("table fast")  # newest first

    page.click('th[data-col="lr"] button')
    expect(page).to_have_url(re.compile(r"sort=lr"))
    expect(rows.nth(0)).to_contain_text("table fast")  # lr descending
    page.click('th[data-col="lr"] button')
    expect(rows.nth(0)).to_contain_text("table slow")  # ascending

    # the list refreshes itself: a status posted by the "script" shows up without a reload
    post_epochs(api, slow["id"], range(1, 2))
    api.post(f"/runs/{slow['id']}/status", json={"epoch": 1, "progress": 0.5, "summary": {"best_valid_acc": 0.55}})
    slow_row = page.locator(f'tr[data-run-id="{slow["id"]}"]')
    expect(slow_row).to_contain_text("1/10", timeout=8000)
    expect(slow_row).to_contain_text("55.00 %")

    # cancel from the table
    fast_row = page.locator(f'tr[data-run-id="{fast["id"]}"]')
    fast_row.locator('[data-action="cancel"]').click()
    page.locator('dialog[data-testid="confirm"]').get_by_role("button", name="Yes, cancel").click()
    expect(fast_row.locator(".badge")).to_have_text("cancelled")
    assert api.get(f"/runs/{fast['id']}").json()["status"] == "cancelled"

    # status filter and free text
    page.click('.chip[data-status="cancelled"]')
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("table fast")
    page.click('.chip[data-status="cancelled"]')
    page.fill('input[name="q"]', "slow")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("table slow")
    screenshot(page, "runs_filtered")


def test_compare_two_runs_names_the_differing_hyperparameter(page: Page, stack: Stack, api: httpx.Client) -> None:
    a = external_run(api, "cmp a", optimizer={"name": "sgd", "lr": 0.1}, tags=["cmp"])
    b = external_run(api, "cmp b", optimizer={"name": "sgd", "lr": 0.01}, tags=["cmp"])
    post_epochs(api, a["id"], range(1, 6), base=0.6)
    post_epochs(api, b["id"], range(1, 6), base=0.4)

    page.goto(f"{stack.url}/#/runs?tag=cmp")
    expect(page.locator('[data-testid="runs-table"] tbody tr')).to_have_count(2)
    page.check(f'tr[data-run-id="{a["id"]}"] input[type=checkbox]')
    page.check(f'tr[data-run-id="{b["id"]}"] input[type=checkbox]')
    screenshot(page, "runs_selected")
    page.click("text=Compare 2 selected")
    page.wait_for_url(re.compile(r"#/compare\?ids="))
    wait_trace_length(page, "compare", 5)
    names = page.evaluate("document.querySelector('[data-chart=compare]').data.map((t) => t.name)")
    assert sorted(names) == sorted([f"#{a['id']} lr=0.1", f"#{b['id']} lr=0.01"])
    legend = page.locator("[data-chart=compare] .legendtext")
    expect(legend).to_have_count(2)
    assert chart_png(page, "compare")[0].endswith(".png")
    expect(legend.nth(0)).to_contain_text("lr=")
    expect(page.locator('[data-testid="compare-table"]')).to_contain_text("0.01")

    # fig1 style: test error instead of accuracy
    page.select_option('select[name="metric"]', "test_acc")
    page.click('button[data-mode="error"]')
    page.wait_for_function(
        "() => document.querySelector('[data-chart=compare]').layout.yaxis.title.text === 'test error (%)'"
    )
    screenshot(page, "compare")


def test_real_training_run_from_the_form(page: Page, stack: Stack, api: httpx.Client) -> None:
    page.goto(f"{stack.url}/#/launch")
    page.fill('[name="name"]', "ui real mlp")
    page.select_option('[name="dataset"]', "mnist")
    page.select_option('[name="model.arch"]', "mlp")
    page.fill('[name="model.hidden"]', "32")
    page.fill('[name="optimizer.lr"]', "0.1")
    page.fill('[name="batch_size"]', "32")
    page.fill('[name="epochs"]', "2")
    page.fill('[name="limit_train"]', "300")
    page.select_option('[name="device"]', "cpu")
    page.fill('[name="n_misclassified"]', "6")
    page.click('[data-testid="launch"]')
    page.wait_for_url(re.compile(r"#/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    page.evaluate("window.__marker = 'no reload'")
    wait_trace_length(page, "acc", 1, timeout=120_000)
    wait_trace_length(page, "acc", 2, timeout=60_000)
    expect(page.locator('[data-testid="run-status"] .badge')).to_have_text("succeeded", timeout=60_000)
    assert page.evaluate("window.__marker") == "no reload"
    assert trace_lengths(page, "iter_loss")[0] >= 10
    assert api.get(f"/runs/{run_id}").json()["status"] == "succeeded"
    # fig6 and fig7 come with the finished run (this easy data may leave nothing misclassified)
    expect(page.locator('[data-testid="filters"] img').first).to_be_visible(timeout=15_000)
    expect(page.locator('[data-testid="gallery"]')).to_be_visible()
    screenshot(page, "run_real_training")


def test_token_is_asked_once_and_used_by_fetch_stream_and_images(page: Page, token_url: str, watch: Watch) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"{token_url}/api", headers=headers, timeout=15, event_hooks=LEASES.hooks()) as api:
        run_id = external_run(api, "ui token")["id"]
        post_epochs(api, run_id, range(1, 2))
        octet = {"Content-Type": "application/octet-stream"}
        api.put(
            f"/runs/{run_id}/artifacts/filters_first_layer.png",
            content=png(8, 8, lambda x, y: (x * 30, y * 30, 0)),
            headers=octet,
        )
        unauthorized = re.compile(r"status of 401")
        watch.allowed.append(unauthorized)
        try:
            page.goto(f"{token_url}/#/runs/{run_id}")
            expect(page.locator("#token-dialog")).to_be_visible()
            screenshot(page, "token_prompt")
            page.fill("#token-input", TOKEN)
            page.click("#token-save")
            expect(page.locator(".run-title")).to_contain_text("ui token")
            expect(page.locator("#who")).to_have_text("admin · admin")  # who the token signs in as
            wait_trace_length(page, "acc", 1)
            post_epochs(api, run_id, range(2, 4))  # arrives over the stream, which carries ?token=
            wait_trace_length(page, "acc", 3)
            image = page.locator('[data-testid="filters"] img')
            page.wait_for_function("() => document.querySelector('.filters-img')?.naturalWidth === 8")
            assert image.get_attribute("src").startswith("blob:")
            page.goto(f"{token_url}/#/runs")
            expect(page.locator(f'tr[data-run-id="{run_id}"]')).to_be_visible()
            expect(page.locator("#token-dialog")).to_be_hidden()  # asked once, kept in localStorage
        finally:
            watch.allowed.remove(unauthorized)


# ---- hygiene, over everything the module's pages did ----------------------------------------------------------


def test_every_view_renders_without_console_errors(page: Page, stack: Stack, api: httpx.Client, watch: Watch) -> None:
    run = external_run(api, "ui tour")
    # the browser itself logs the 404 of the missing run's request; the page shows it as text
    watch.allowed.append(re.compile(r"status of 404 .* @ .*/api/runs/999999$"))
    for hash_, ready in (
        ("#/runs", '[data-testid="runs-table"] tbody tr'),
        ("#/launch", '[data-testid="launch"]'),
        (f"#/runs/{run['id']}", ".run-title"),
        (f"#/compare?ids={run['id']}", "[data-chart=compare]"),
        ("#/compare", ".empty-state"),
        ("#/nowhere", "text=Page not found"),
        ("#/runs/999999", "text=Run #999999 does not exist"),
    ):
        page.goto(f"{stack.url}/{hash_}")
        expect(page.locator(ready).first).to_be_visible()
    # "Clone" opens the form filled with a run's spec
    page.goto(f"{stack.url}/#/launch?from={run['id']}")
    expect(page.locator('[name="name"]')).to_have_value("ui tour copy")
    expect(page.locator('[name="model.hidden"]')).to_have_value("32")
    page.wait_for_timeout(300)
    assert watch.errors == []


def test_no_request_leaves_the_origin(watch: Watch) -> None:
    assert watch.foreign == [], "the dashboard must not load anything from another origin (offline machines)"
