"""Every logged key charted on the run page (sections by prefix, lazily drawn, live, zoom, any x axis), the compare
view's picker over the runs' keys, the media panel of log_image, and files downloaded with the token.

Every run here is a script's own run fed through the API with its lease, as trainboard.init's client would."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import LEASES, TOKEN, Watch, png, screenshot
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

OCTET = {"Content-Type": "application/octet-stream"}


stack = api_only_stack("keys")


def script_run(api: httpx.Client, name: str, **spec: object) -> int:
    """A script's run with a free-form config; given a built-in run spec's fields, a run of that spec."""
    body = {"external": True, "name": name, **(spec or {"config": {"lr": 0.1}})}
    reply = api.post("/runs", json=body)
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


def log(api: httpx.Client, run_id: int, series: dict[str, dict[int, float]]) -> None:
    """Post {key: {step: value}} in batches the API takes (10,000 points at most)."""
    points = [{"key": k, "step": s, "value": v} for k, by_step in series.items() for s, v in by_step.items()]
    for i in range(0, len(points), 10_000):
        reply = api.post(f"/runs/{run_id}/metrics", json={"points": points[i : i + 10_000]})
        assert reply.status_code == 200, reply.text


def steps(n: int, value: Callable[[int], float] = lambda s: 1.0 / (s + 1), first: int = 0) -> dict[int, float]:
    return {s: value(s) for s in range(first, first + n)}


def card(key: str) -> str:
    return f'[data-chart-card="key:{key}"]'


def drawn_x(page: Page, key: str) -> list[float] | None:
    """The x values of the key's chart, or None while it is not drawn."""
    return page.evaluate(
        '(k) => { const d = document.querySelector(`[data-chart="key:${k}"]`);'
        " return d && d.data && d.data.length ? Array.from(d.data[0].x) : null; }",
        key,
    )


def wait_points(page: Page, key: str, n: int) -> None:
    page.locator(card(key)).scroll_into_view_if_needed()
    page.wait_for_function(
        '([k, n]) => { const d = document.querySelector(`[data-chart="key:${k}"]`);'
        " return !!(d && d.data && d.data.length && d.data[0].x.length === n); }",
        arg=[key, n],
    )


def section_keys(page: Page) -> list[tuple[str, list[str]]]:
    """Each section of the key charts (page order) with its charts' keys."""
    sections = page.evaluate(
        "[...document.querySelectorAll('[data-testid=key-charts] details.key-section')].map((s) =>"
        " [s.dataset.section, [...s.querySelectorAll('[data-chart-card]')].map((c) => c.dataset.key)])"
    )
    return [(name, keys) for name, keys in sections]


def test_every_key_gets_a_chart_in_its_section_with_all_its_points(page: Page, stack: Stack, api: httpx.Client) -> None:
    run_id = script_run(api, "keys sections")
    counts = {"train/loss": 50, "train/acc": 40, "valid/loss": 10, "lr": 30, "system/cpu_percent": 20}
    log(api, run_id, {key: steps(n) for key, n in counts.items()})

    page.goto(f"{stack.url}/#/runs/{run_id}")
    expect(page.locator(card("train/loss"))).to_be_visible()
    assert section_keys(page) == [
        ("train", ["train/acc", "train/loss"]),
        ("valid", ["valid/loss"]),
        ("metrics", ["lr"]),
        ("system", ["system/cpu_percent"]),
    ]
    for key in ("train/loss", "train/acc", "valid/loss", "lr"):
        wait_points(page, key, counts[key])
    assert drawn_x(page, "train/acc") == list(range(40))
    # system/ is last and collapsed: its chart is not drawn until the section is opened
    system = page.locator('details[data-section="system"]')
    assert system.evaluate("(d) => d.open") is False
    assert drawn_x(page, "system/cpu_percent") is None
    system.locator("summary").click()
    wait_points(page, "system/cpu_percent", 20)
    # a section folds away
    page.locator('details[data-section="train"] summary').click()
    expect(page.locator(card("train/loss"))).to_be_hidden()
    screenshot(page, "run_key_sections")


def test_a_run_of_many_keys_draws_only_the_charts_in_view(page: Page, stack: Stack, api: httpx.Client) -> None:
    run_id = script_run(api, "keys many")
    keys = [f"layer/{i:03d}" for i in range(80)]
    log(api, run_id, {key: steps(5) for key in keys})

    page.goto(f"{stack.url}/#/runs/{run_id}")
    expect(page.locator("[data-chart-card^='key:layer/']")).to_have_count(80)
    page.locator(card(keys[0])).scroll_into_view_if_needed()
    wait_points(page, keys[0], 5)
    drawn = page.locator("[data-testid=key-charts] .js-plotly-plot").count()
    assert 0 < drawn < 20, f"{drawn} of 80 charts drawn while a few are in view"
    assert drawn_x(page, keys[-1]) is None
    wait_points(page, keys[-1], 5)  # scrolled to: drawn


def test_a_key_logged_while_the_page_is_open_gets_its_chart(page: Page, stack: Stack, api: httpx.Client) -> None:
    run_id = script_run(api, "keys live")
    log(api, run_id, {"train/loss": steps(10)})
    page.goto(f"{stack.url}/#/runs/{run_id}")
    wait_points(page, "train/loss", 10)
    expect(page.locator(".live-dot")).to_have_text("live")

    log(api, run_id, {"train/loss": steps(10, first=10), "valid/acc": steps(5, lambda s: 0.5 + s / 100)})
    wait_points(page, "train/loss", 20)
    wait_points(page, "valid/acc", 5)
    assert [s for s, _ in section_keys(page)] == ["train", "valid"]
    assert page.locator("select[name=x-axis] option").all_inner_texts() == ["step", "train/loss", "valid/acc"]


def test_zoom_on_a_long_key_reads_the_window_at_full_detail(page: Page, stack: Stack, api: httpx.Client) -> None:
    run_id = script_run(api, "keys zoom")
    loss = steps(50_000, lambda s: 1.0 + (s % 7) / 100)
    loss[31_234] = 9.0  # one spike
    log(api, run_id, {"train/loss": loss})
    reads: list[dict[str, list[str]]] = []
    page.on("request", lambda r: reads.append(parse_qs(urlsplit(r.url).query)) if "/metrics?" in r.url else None)

    page.goto(f"{stack.url}/#/runs/{run_id}")
    page.locator(card("train/loss")).scroll_into_view_if_needed()
    page.wait_for_function("() => (document.querySelector('[data-chart=\"key:train/loss\"]')?.data || []).length")
    overview = drawn_x(page, "train/loss")
    assert overview is not None and 100 < len(overview) < 2000, "50,000 points come back downsampled (min/max)"
    ys = page.evaluate("Math.max(...document.querySelector('[data-chart=\"key:train/loss\"]').data[0].y)")
    assert ys == 9.0, "the spike survives the downsampling"

    page.evaluate(
        "Plotly.relayout(document.querySelector('[data-chart=\"key:train/loss\"]'), {'xaxis.range': [30000, 30100]})"
    )
    page.wait_for_function(
        "() => { const x = document.querySelector('[data-chart=\"key:train/loss\"]').data[0].x;"
        " return x.length === 101 && x[0] === 30000 && x[100] === 30100; }"
    )
    window = [r for r in reads if r.get("start") == ["30000"]]
    assert window and window[0]["keys"] == ["train/loss"] and window[0]["end"] == ["30100"], reads
    expect(page.locator(f"{card('train/loss')} .chart-note")).to_contain_text("zoomed")
    page.evaluate(
        "Plotly.relayout(document.querySelector('[data-chart=\"key:train/loss\"]'), {'xaxis.autorange': true})"
    )
    wait_points(page, "train/loss", len(overview))


def test_the_x_axis_can_be_another_logged_key(page: Page, stack: Stack, api: httpx.Client) -> None:
    run_id = script_run(api, "keys x axis")
    log(
        api,
        run_id,
        {
            "train/loss": steps(60, lambda s: 2.0 - s / 100),
            "epoch": steps(60, lambda s: float(s // 20)),
            "valid/acc": {19: 0.5, 39: 0.6, 59: 0.7},
        },
    )
    page.goto(f"{stack.url}/#/runs/{run_id}")
    wait_points(page, "train/loss", 60)
    page.select_option("select[name=x-axis]", "epoch")
    page.wait_for_function(
        "() => document.querySelector('[data-chart=\"key:train/loss\"]').layout.xaxis.title.text === 'epoch'"
    )
    assert drawn_x(page, "train/loss") == [s // 20 for s in range(60)]
    wait_points(page, "valid/acc", 3)
    assert drawn_x(page, "valid/acc") == [0, 1, 2]
    page.select_option("select[name=x-axis]", "")
    page.wait_for_function(
        "() => document.querySelector('[data-chart=\"key:train/loss\"]').layout.xaxis.title.text === 'step'"
    )
    assert drawn_x(page, "valid/acc") == [19, 39, 59]


def test_a_built_in_style_run_keeps_its_report_charts_and_gains_the_rest(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    spec = {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}}
    run_id = script_run(api, "keys built-in", **spec)
    epochs = {key: {e: 0.5 + e / 10 for e in (1, 2, 3)} for key in ("train_acc", "valid_acc", "test_acc")}
    log(api, run_id, {"loss": steps(30), **epochs, "grad/norm": steps(30)})

    page.goto(f"{stack.url}/#/runs/{run_id}")
    page.wait_for_function("() => document.querySelector('[data-chart=iter_loss]')?.data?.[0]?.x.length === 30")
    assert page.evaluate("document.querySelector('[data-chart=acc]').data.map((t) => t.x.length)") == [3, 3, 3]
    wait_points(page, "grad/norm", 30)
    assert section_keys(page) == [("grad", ["grad/norm"])]


def test_compare_offers_the_union_of_the_runs_keys(page: Page, stack: Stack, api: httpx.Client) -> None:
    a = script_run(api, "keys cmp a")
    b = script_run(api, "keys cmp b")
    log(api, a, {"train/loss": steps(20), "lr": steps(20)})
    log(api, b, {"train/loss": steps(30), "valid/acc": steps(3)})

    page.goto(f"{stack.url}/#/compare?ids={a},{b}")
    options = page.locator("select[name=metric] option")
    expect(options).to_have_count(3)
    assert sorted(options.all_inner_texts()) == ["lr", "train/loss", "valid/acc"]
    page.select_option("select[name=metric]", "train/loss")
    page.wait_for_function(
        "() => { const d = document.querySelector('[data-chart=compare]').data;"
        " return d && d.map((t) => t.x.length).join() === '20,30'; }"
    )
    assert page.evaluate("document.querySelector('[data-chart=compare]').layout.xaxis.title.text") == "step"


def put(api: httpx.Client, run_id: int, name: str, content: bytes) -> None:
    reply = api.put(f"/runs/{run_id}/artifacts/{name}", content=content, headers=OCTET)
    assert reply.status_code == 201, reply.text


def test_logged_images_show_with_a_step_slider_and_captions(page: Page, stack: Stack, api: httpx.Client) -> None:
    run_id = script_run(api, "keys media")
    index: dict[str, list[dict[str, object]]] = {"train/samples": []}

    def log_image(step: int, size: int, caption: str) -> None:
        """What run.log_image uploads: the PNG, then the whole index again."""
        name = f"media-train.samples-{step:09d}.png"
        put(api, run_id, name, png(size, size, lambda x, y: (x * 20 % 256, y * 20 % 256, 90)))
        index["train/samples"].append({"step": step, "file": name, "caption": caption})
        put(api, run_id, "media.json", json.dumps(index).encode())

    log_image(1, 8, "first batch")
    log_image(2, 16, "second batch")
    page.goto(f"{stack.url}/#/runs/{run_id}")
    panel = page.locator('[data-media-key="train/samples"]')
    expect(panel.locator("[data-testid=media-caption]")).to_have_text("second batch")
    expect(panel.locator("[data-testid=media-step]")).to_have_text("step 2 · 2 of 2")
    panel.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('.media-img')?.naturalWidth === 16")

    panel.locator("input[type=range]").focus()
    page.keyboard.press("ArrowLeft")
    expect(panel.locator("[data-testid=media-caption]")).to_have_text("first batch")
    expect(panel.locator("[data-testid=media-step]")).to_have_text("step 1 · 1 of 2")
    page.wait_for_function("() => document.querySelector('.media-img')?.naturalWidth === 8")
    screenshot(page, "run_media")

    log_image(3, 12, "third batch")  # while the page is open: the panel learns of it, and stays where it was
    expect(panel.locator("[data-testid=media-step]")).to_have_text("step 1 · 1 of 3")
    page.keyboard.press("End")
    expect(panel.locator("[data-testid=media-caption]")).to_have_text("third batch")


def test_a_saved_file_downloads_with_the_token(page: Page, token_url: str, watch: Watch) -> None:
    content = bytes(range(256)) * 40
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"{token_url}/api", headers=headers, timeout=15, event_hooks=LEASES.hooks()) as api:
        run_id = script_run(api, "keys download")
        put(api, run_id, "model.pt", content)
    unauthorized = re.compile(r"status of 401")
    watch.allowed.append(unauthorized)
    try:
        page.goto(f"{token_url}/#/runs/{run_id}")
        page.fill("#token-input", TOKEN)
        page.click("#token-save")
        files = page.locator("[data-testid=files]")
        files.locator("summary").click()
        expect(files).to_contain_text("model.pt")
        expect(files).to_contain_text("10.0 KiB")
        with page.expect_download() as download:
            files.locator("a", has_text="model.pt").click()
        assert download.value.suggested_filename == "model.pt"
        assert Path(download.value.path()).read_bytes() == content
    finally:
        watch.allowed.remove(unauthorized)
