"""The dashboard under its Content-Security-Policy, uploaded files that must not run, and /docs with no network.

Every page records the policy violations Chromium reports (``securitypolicyviolation``, from an init script,
which the page's policy does not govern) besides its console errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.browser.helpers import Watch, png
from tests.utils.stack import Stack, running_stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Route

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

OCTET = {"Content-Type": "application/octet-stream"}
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} @ ${where}`);
});
"""
# What a malicious upload tries: read the token and send it home (here: to our own origin, where we can see it).
STEAL = "fetch('/api/health?stolen=' + encodeURIComponent(localStorage.getItem('trainboard.token') || 'none'))"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API alone (these tests upload and read, nothing trains), taking artifacts of at most 1 MiB."""
    limit = {"TRAINBOARD_MAX_ARTIFACT_BYTES": str(1024 * 1024)}
    with running_stack(tmp_path_factory.mktemp("security-headers"), workers=0, extra_env=limit) as live:
        yield live


@pytest.fixture
def strict_page(page: Page) -> Page:
    page.context.add_init_script(RECORD_VIOLATIONS)
    return page


def violations(page: Page) -> list[str]:
    return list(page.evaluate("window.__violations || []"))


def writer(api: httpx.Client, **spec: Any) -> tuple[int, dict[str, str]]:
    """A new external run, and the headers its writer sends (the run's lease, if the API hands one out)."""
    body = {"external": True, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, **spec}
    response = api.post("/runs", json=body)
    assert response.status_code == 201, response.text
    run = response.json()
    lease = run.get("lease")
    return run["id"], ({"X-Trainboard-Lease": lease} if lease else {})


def upload(api: httpx.Client, run_id: int, lease: dict[str, str], name: str, content: bytes) -> None:
    response = api.put(f"/runs/{run_id}/artifacts/{name}", content=content, headers={**OCTET, **lease})
    assert response.status_code == 201, response.text


def test_every_view_works_under_the_policy(strict_page: Page, stack: Stack, api: httpx.Client, watch: Watch) -> None:
    page = strict_page
    run_id, lease = writer(api, name="csp tour")
    points = [
        {"key": key, "step": epoch, "value": 0.5 + epoch / 20}
        for epoch in range(1, 6)
        for key in ("train_acc", "valid_acc", "test_acc", "train_loss", "valid_loss")
    ] + [{"key": "loss", "step": step, "value": 1 / step} for step in range(1, 400)]
    assert api.post(f"/runs/{run_id}/metrics", json={"points": points}, headers=lease).status_code == 200
    upload(api, run_id, lease, "filters_first_layer.png", png(48, 32, lambda x, y: (x * 5 % 256, y * 8 % 256, 128)))
    upload(api, run_id, lease, "misclassified_0.png", png(28, 28, lambda x, y: (x * 9 % 256, 0, y * 9 % 256)))
    item = {"index": 7, "true": "3", "pred": "5", "confidence": 0.8, "image": "misclassified_0.png"}
    upload(api, run_id, lease, "misclassified.json", json.dumps([item]).encode())

    response = page.goto(f"{stack.url}/#/runs/{run_id}")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    page.wait_for_function("() => document.querySelectorAll('[data-chart] .main-svg').length >= 3")
    page.locator('[data-testid="gallery"]').scroll_into_view_if_needed()  # the gallery's images load lazily
    page.wait_for_function(
        "() => { const imgs = [...document.querySelectorAll('.mis-img, .filters-img')];"
        " return imgs.length === 2 && imgs.every((img) => img.complete && img.naturalWidth > 0); }"
    )
    # Plotly's PNG export draws through data: URLs and a canvas
    plot = page.locator('[data-chart="acc"]')
    plot.hover()
    with page.expect_download():
        plot.locator('.modebar-btn[data-title*="png" i]').click()
    for hash_, ready in (
        ("#/runs", '[data-testid="runs-table"] tbody tr'),
        ("#/launch", '[data-testid="launch"]'),
        (f"#/compare?ids={run_id}", "[data-chart=compare] .main-svg"),
        ("#/sweeps", "h1"),
        ("#/report", "[data-fig]"),
    ):
        page.goto(f"{stack.url}/{hash_}")
        expect(page.locator(ready).first).to_be_visible()
    page.wait_for_timeout(300)
    assert violations(page) == []
    assert watch.errors == []


def test_the_sweep_views_parallel_coordinates_draw_without_eval(strict_page: Page, stack: Stack) -> None:
    """parcoords draws with WebGL through regl, which compiles its shaders' glue with `new Function` in the
    ordinary plotly.js bundle: under `script-src 'self'` that bundle shows "WebGL is not supported" instead."""
    page = strict_page
    page.goto(f"{stack.url}/#/runs")
    expect(page.locator("h1").first).to_be_visible()
    outcome = page.evaluate(
        """async () => {
          const { PLOTLY_BUNDLES } = await import("/static/js/charts.js");
          await new Promise((resolve, reject) => {
            const script = document.createElement("script");
            script.src = PLOTLY_BUNDLES.full.url;
            script.onload = resolve;
            script.onerror = reject;
            document.head.append(script);
          });
          const div = document.createElement("div");
          div.style.width = "600px";
          div.style.height = "300px";
          document.body.append(div);
          await Plotly.newPlot(div, [{ type: "parcoords", dimensions: [
            { label: "lr", values: [0.1, 0.01, 0.001] }, { label: "acc", values: [0.9, 0.8, 0.95] } ] }]);
          await new Promise((resolve) => setTimeout(resolve, 300));  // violations are reported in a later task
          return { noWebgl: div.querySelectorAll(".no-webgl").length, canvases: div.querySelectorAll("canvas").length };
        }"""
    )
    assert outcome == {"noWebgl": 0, "canvases": 3}
    assert violations(page) == []


def test_a_checkpoint_too_large_to_store_shows_a_warning_on_the_run_page(
    page: Page, stack: Stack, api: httpx.Client, watch: Watch
) -> None:
    run_id, lease = writer(api, name="big checkpoint")
    page.goto(f"{stack.url}/#/runs/{run_id}")
    expect(page.locator(".live-dot")).to_have_text("live")
    warning = page.locator('[data-testid="run-warnings"]')
    expect(warning).to_be_hidden()
    too_big = b"\0" * (3 * 1024 * 1024)
    response = api.put(f"/runs/{run_id}/artifacts/checkpoint_last.pt", content=too_big, headers={**OCTET, **lease})
    assert response.status_code == 413
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("checkpoint_last.pt (3.0 MiB) was not stored")
    expect(warning).to_contain_text("1.0 MiB")
    expect(warning).to_contain_text("if this run's worker dies it restarts from epoch 1")
    assert watch.errors == []


@pytest.mark.parametrize("name", ["report.html", "report.svg"])
def test_an_uploaded_page_with_a_script_never_runs(
    browser: Browser, stack: Stack, api: httpx.Client, watch: Watch, name: str
) -> None:
    run_id, lease = writer(api, name=f"upload {name}")
    if name.endswith(".svg"):
        content = f'<svg xmlns="http://www.w3.org/2000/svg"><script>{STEAL}</script></svg>'
    else:
        content = f"<!doctype html><title>report</title><h1>loss</h1><script>{STEAL}</script>"
    upload(api, run_id, lease, name, content.encode())
    context = browser.new_context(accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(f"{stack.url}/#/runs")
        page.evaluate("localStorage.setItem('trainboard.token', 'secret-in-local-storage')")
        stolen: list[str] = []
        page.on("request", lambda request: stolen.append(request.url) if "stolen=" in request.url else None)
        url = f"{stack.url}/api/runs/{run_id}/artifacts/{name}"
        with page.expect_download() as download, pytest.raises(PlaywrightError, match="Download is starting"):
            page.goto(url)
        assert download.value.suggested_filename == name
        # opened in a window of its own, e.g. from a link: still a download, still no script
        with page.expect_popup(), context.expect_event("download"):
            page.evaluate("(url) => window.open(url)", url)
        page.wait_for_timeout(500)
        assert stolen == []
    finally:
        context.close()
    log = stack.log("api")
    assert "stolen=" not in log


def test_an_image_opened_on_its_own_still_shows(page: Page, stack: Stack, api: httpx.Client) -> None:
    run_id, lease = writer(api, name="image tab")
    upload(api, run_id, lease, "misclassified_grid.png", png(30, 20, lambda x, y: (200, x * 8 % 256, y * 12 % 256)))
    response = page.goto(f"{stack.url}/api/runs/{run_id}/artifacts/misclassified_grid.png")
    assert response is not None and "sandbox" in response.headers["content-security-policy"]
    page.wait_for_function("() => document.images.length === 1 && document.images[0].naturalWidth === 30")


@pytest.fixture
def offline(browser: Browser) -> Iterator[tuple[BrowserContext, list[str]]]:
    """A browser context that reaches 127.0.0.1 only: every other request is aborted (and listed)."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    cut: list[str] = []

    def route(route: Route) -> None:
        if re.match(r"^(https?://127\.0\.0\.1[:/]|data:|blob:)", route.request.url):
            route.continue_()
        else:
            cut.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", route)
    yield context, cut
    context.close()


def test_swagger_ui_works_offline(offline: tuple[BrowserContext, list[str]], stack: Stack) -> None:
    context, cut = offline
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{stack.url}/docs")
    expect(page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/runs$")).first).to_be_visible()
    expect(page.locator("#operations-tag-artifacts")).to_be_visible()
    # an operation opens, showing its parameters: the bundle runs, not just renders once
    page.locator(
        ".opblock-summary-path", has_text=re.compile(r"^/api/runs/\{run_id\}/artifacts/\{name\}$")
    ).first.click()
    expect(page.locator(".parameters-container").first).to_be_visible()
    assert cut == [], "nothing may come from another host"
    assert violations(page) == []
    assert errors == []


def test_redoc_works_offline(offline: tuple[BrowserContext, list[str]], stack: Stack) -> None:
    context, cut = offline
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{stack.url}/redoc")
    expect(page.locator("h1", has_text="trainboard")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Store an artifact", exact=False).first).to_be_attached()
    assert cut == [], "nothing may come from another host"
    # ReDoc's "API docs by Redocly" footer points an <img> at its CDN: the page's policy stops that request
    assert [v for v in violations(page) if not v.startswith("img-src blocked https://cdn.redoc.ly/")] == []
    assert [e for e in errors if "https://cdn.redoc.ly/" not in e] == []
