"""Sweep view, presets and the report page in headless Chromium, against a stack with no worker.

Sweep runs are ordinary runs; with no worker consuming the queue the test drives them itself, as a worker would:
``POST /runs/{id}/status {"status": "running", "worker": ...}``, metrics, artifacts, then ``succeeded`` with a
summary. Runs of the live sweep are ``"external": true`` (no worker, no reaper). The API's reaper runs with a
4 s timeout, so the run page's `interrupted` notice is exercised for real.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import LEASES, Watch, chart_png, png, screenshot
from tests.utils.stack import Stack, running_stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

STALE_AFTER_S = 4
OCTET = {"Content-Type": "application/octet-stream"}
REPORT_PARAMS = {"shallow": 5_274_882, "shallow-fat": 9_539_074, "deep": 1_373_986}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """API only: nothing consumes the queue, so the tests play the worker (and the reaper notices when they stop)."""
    tmp = tmp_path_factory.mktemp("sweeps-report")
    with running_stack(tmp, workers=0, extra_env={"TRAINBOARD_STALE_AFTER_S": str(STALE_AFTER_S)}) as live:
        yield live


@pytest.fixture(autouse=True, scope="module")
def patient_expect() -> Iterator[None]:
    """Live pages poll every 2 s: on 2 busy cores, give expect() 10 s instead of 5 before it gives up."""
    expect.set_options(timeout=10_000)
    yield
    expect.set_options(timeout=5_000)


# ---- playing the worker ---------------------------------------------------------------------------------------


def epoch_points(accs: list[tuple[float, float, float]], start: int = 1) -> list[dict[str, Any]]:
    """Per-epoch points from (train, valid, test) accuracies."""
    points = []
    for i, (train, valid, test) in enumerate(accs):
        epoch = start + i
        for split, acc in (("train", train), ("valid", valid), ("test", test)):
            points.append({"key": f"{split}_acc", "step": epoch, "value": acc})
            points.append({"key": f"{split}_loss", "step": epoch, "value": 1.2 * (1 - acc)})
    return points


def post_points(api: httpx.Client, run_id: int, points: list[dict[str, Any]]) -> dict:
    response = api.post(f"/runs/{run_id}/metrics", json={"points": points})
    assert response.status_code == 200, response.text
    return response.json()


def claim(api: httpx.Client, run_id: int, worker: str) -> dict:
    """Take the run as ``worker`` would; the api client keeps the lease for this run's writes (LEASES)."""
    response = api.post(f"/runs/{run_id}/claim", json={"worker": worker})
    assert response.status_code == 200, response.text
    return response.json()


def status(api: httpx.Client, run_id: int, **body: Any) -> dict:
    response = api.post(f"/runs/{run_id}/status", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def summary_of(accs: list[tuple[float, float, float]], n_params: int = 25_450, **extra: Any) -> dict[str, Any]:
    best = max(range(len(accs)), key=lambda i: accs[i][1])
    train, valid, test = accs[best]
    return {
        "n_params": n_params,
        "best_epoch": best + 1,
        "best_valid_acc": valid,
        "test_acc_at_best": test,
        "gen_gap": train - test,
        "duration_s": 3.0 * len(accs),
        **extra,
    }


def play(
    api: httpx.Client,
    run_id: int,
    accs: list[tuple[float, float, float]],
    *,
    worker: str = "worker-script@test",
    points: list[dict[str, Any]] | None = None,
    artifacts: dict[str, bytes] | None = None,
    n_params: int = 25_450,
) -> None:
    """Run a queued run start to finish in a few requests (well within the reaper's timeout)."""
    claim(api, run_id, worker)
    post_points(api, run_id, epoch_points(accs) + (points or []))
    for name, content in (artifacts or {}).items():
        assert api.put(f"/runs/{run_id}/artifacts/{name}", content=content, headers=OCTET).status_code == 201
    status(api, run_id, status="succeeded", epoch=len(accs), summary=summary_of(accs, n_params=n_params))


def curve(start: float, end: float, n: int) -> list[float]:
    return [start + (end - start) * (1 - math.exp(-3 * i / max(1, n - 1))) / (1 - math.exp(-3)) for i in range(n)]


def accs_rising(valid_end: float, n: int, gap: float = 0.05) -> list[tuple[float, float, float]]:
    valid = curve(valid_end - 0.25, valid_end, n)
    return [(min(0.999, v + gap), v, v - 0.01) for v in valid]


def sweep_detail(api: httpx.Client, sweep_id: int) -> dict:
    return api.get(f"/sweeps/{sweep_id}").json()


def latest_preset_sweep(api: httpx.Client, fig: str) -> dict:
    sweeps = [s for s in api.get("/sweeps").json() if s["preset"] == fig]
    assert sweeps, f"no {fig} sweep"
    return sweep_detail(api, sweeps[0]["id"])


def chart_data(page: Page, chart: str) -> list[dict]:
    return page.evaluate(
        '(id) => (document.querySelector(`[data-chart="${id}"]`)?.data || [])'
        ".map((t) => ({type: t.type, name: t.name, n: (t.x || t.dimensions || []).length,"
        " dims: (t.dimensions || []).map((d) => ({label: d.label, ticktext: d.ticktext || null})),"
        " z: t.z || null}))",
        chart,
    )


def wait_traces(page: Page, chart: str, n: int, timeout: float = 15_000) -> None:
    page.wait_for_function(
        '([id, n]) => { const d = document.querySelector(`[data-chart="${id}"]`);'
        " return !!(d && d.data && d.data.length === n); }",
        arg=[chart, n],
        timeout=timeout,
    )


# ---- the sweep view -------------------------------------------------------------------------------------------


def test_sweep_view_is_live_marks_the_best_run_and_early_stops(page: Page, stack: Stack, api: httpx.Client) -> None:
    body = {
        "name": "ui sweep",
        "base": {"external": True, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, "epochs": 4},
        "grid": {"batch_size": [16, 32, 64], "optimizer.lr": [0.1, 0.01]},
        "early_termination": {"method": "median", "min_epochs": 2, "min_peers": 2},
    }
    response = api.post("/sweeps", json=body)
    assert response.status_code == 201, response.text
    sweep = response.json()
    rows = {(r["values"]["batch_size"], r["values"]["optimizer.lr"]): r["run_id"] for r in sweep["results"]}
    assert len(rows) == 6
    for run_id in rows.values():  # each external run's script takes its run (a sweep's reply has no leases)
        claim(api, run_id, "sweep-script@test")

    def report(run_id: int, accs: list[tuple[float, float, float]], done: bool = False) -> dict:
        reply = post_points(api, run_id, epoch_points(accs))
        fields: dict[str, Any] = {"epoch": len(accs), "progress": len(accs) / 4, "summary": summary_of(accs)}
        if done:
            fields["status"] = "succeeded"
        status(api, run_id, **fields)
        return reply

    # three runs report two epochs, each better than the last (so the median rule stops none of them)
    for (batch, lr), valid in (((16, 0.1), 0.60), ((32, 0.1), 0.65), ((64, 0.1), 0.70)):
        report(rows[(batch, lr)], accs_rising(valid, 2))

    page.goto(f"{stack.url}/#/sweeps/{sweep['id']}")
    table = page.locator('[data-testid="results-table"] tbody tr')
    expect(table).to_have_count(6)
    expect(page.locator(".page-title h1")).to_contain_text("ui sweep")
    best = page.locator('[data-testid="results-table"] tr[data-best="true"]')
    expect(best).to_have_count(1)
    expect(best).to_have_attribute("data-run-id", str(rows[(64, 0.1)]))
    expect(best).to_contain_text("★ best")
    # parallel coordinates: batch_size and lr axes (lr spans one decade: linear) + best valid accuracy
    wait_traces(page, "parcoords", 1)
    parcoords = chart_data(page, "parcoords")[0]
    assert parcoords["type"] == "parcoords"
    assert [d["label"] for d in parcoords["dims"]] == ["batch_size", "lr", "best valid acc (%)"]
    assert parcoords["dims"][0]["ticktext"] == ["16", "32", "64"]
    # heatmap: x = the last grid key, y = the first
    wait_traces(page, "heatmap", 1)
    z = chart_data(page, "heatmap")[0]["z"]
    assert len(z) == 3 and len(z[0]) == 2  # 3 batch sizes (rows) x 2 learning rates (columns)
    assert z[2][0] == pytest.approx(70.0) and z[0][1] is None
    wait_traces(page, "curves", 3)
    page.evaluate("window.__marker = 'no reload'")

    # live: two better runs arrive, and the worst one is stopped by the median rule (not a failure)
    report(rows[(16, 0.01)], accs_rising(0.75, 2))
    report(rows[(32, 0.01)], accs_rising(0.80, 3), done=True)
    stopped = rows[(64, 0.01)]
    reply = report(stopped, accs_rising(0.30, 2))
    assert reply["stop_requested"] and reply["stop_requested"].startswith("median rule at epoch 2")
    status(api, stopped, status="succeeded", epoch=2)
    expect(best).to_have_attribute("data-run-id", str(rows[(32, 0.01)]), timeout=8000)
    stopped_row = page.locator(f'[data-testid="results-table"] tr[data-run-id="{stopped}"]')
    expect(stopped_row.locator(".tag-early")).to_have_text("stopped early")
    expect(stopped_row.locator(".badge")).to_have_text("succeeded")
    expect(stopped_row.locator('[data-col="stop_reason"]')).to_contain_text("median rule at epoch 2")
    expect(page.locator('[data-testid="sweep-summary"]')).to_contain_text("1 stopped early")
    wait_traces(page, "curves", 6)
    assert page.evaluate("window.__marker") == "no reload"

    # the other runs finish: polling stops with the sweep
    for key, run_id in rows.items():
        if key[1] == 0.1 or key == (16, 0.01):
            status(api, run_id, status="succeeded")
    expect(page.locator(".live-dot")).to_have_text("finished", timeout=8000)
    expect(page.locator('[data-testid="status-counts"]')).to_contain_text("6")
    # the heatmap's axes can be swapped
    page.select_option('select[name="heat-x"]', "batch_size")
    page.select_option('select[name="heat-y"]', "optimizer.lr")
    page.wait_for_function(
        "() => { const z = document.querySelector('[data-chart=heatmap]').data[0].z;"
        " return z.length === 2 && z[0].length === 3; }"
    )
    page.select_option('select[name="heat-x"]', "optimizer.lr")
    page.select_option('select[name="heat-y"]', "batch_size")
    # sorting by a column is client-side and keeps the best mark
    page.click('[data-testid="results-table"] th[data-col="values.batch_size"] button')
    expect(table.nth(0).locator('[data-key="batch_size"]')).to_have_text("16")
    page.click('[data-testid="results-table"] th[data-col="values.batch_size"] button')
    expect(table.nth(0).locator('[data-key="batch_size"]')).to_have_text("64")
    page.click('[data-testid="results-table"] th[data-col="values.batch_size"] button')
    expect(table.nth(0)).to_have_attribute("data-run-id", str(rows[(32, 0.01)]))
    # the sweep view draws with the full plotly.js (parcoords); every chart's PNG button works
    for chart in ("parcoords", "heatmap", "curves"):
        assert chart_png(page, chart)[0] == f"sweep{sweep['id']}_{chart}.png"
    page.locator('[data-chart="parcoords"]').scroll_into_view_if_needed()
    screenshot(page, "sweep_view")

    # the runs table tags the stopped run; its page says why, in words, without an error
    page.goto(f"{stack.url}/#/runs?sweep_id={sweep['id']}")
    expect(page.locator(f'tr[data-run-id="{stopped}"] .tag-early')).to_have_text("stopped early")
    page.click(f'tr[data-run-id="{stopped}"] a.run-name')
    expect(page.locator('[data-testid="status-detail"]')).to_contain_text("stopped early: median rule at epoch 2")
    expect(page.locator('[data-testid="run-error"]')).to_be_hidden()
    page.click(f'.facts a[href="#/sweeps/{sweep["id"]}"]')
    page.wait_for_url(re.compile(rf"#/sweeps/{sweep['id']}$"))
    expect(table).to_have_count(6)


def test_sweeps_list_runs_card_link_and_cancel(page: Page, stack: Stack, api: httpx.Client) -> None:
    base = {"external": True, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}}
    sweep = api.post("/sweeps", json={"name": "ui cancel me", "base": base, "grid": {"seed": [1, 2]}}).json()
    page.goto(f"{stack.url}/#/sweeps")
    row = page.locator(f'[data-testid="sweeps-table"] tr[data-sweep-id="{sweep["id"]}"]')
    expect(row).to_contain_text("ui cancel me")
    expect(row).to_contain_text("seed ∈ {1, 2}")
    expect(page.locator('[data-nav="sweeps"]')).to_have_class(re.compile("active"))
    screenshot(page, "sweeps_list")

    # the runs table's sweep card links to the sweep view
    page.goto(f"{stack.url}/#/runs?sweep_id={sweep['id']}")
    page.click('[data-testid="sweep-card"] [data-testid="open-sweep"]')
    page.wait_for_url(re.compile(rf"#/sweeps/{sweep['id']}$"))
    expect(page.locator('[data-testid="results-table"] tbody tr')).to_have_count(2)
    # one configuration varied only by seed: no accuracy yet, so the plots wait
    page.click('[data-testid="cancel-sweep"]')
    confirm = page.locator('dialog[data-testid="confirm"]')
    expect(confirm).to_contain_text("Its 2 unfinished runs stop")
    confirm.get_by_role("button", name="Yes, cancel").click()
    expect(page.locator('[data-testid="results-table"] .badge[data-status="cancelled"]')).to_have_count(2)
    expect(page.locator('[data-testid="cancel-sweep"]')).to_be_hidden()
    assert {r["status"] for r in sweep_detail(api, sweep["id"])["results"]} == {"cancelled"}


# ---- the run page: a worker lost mid-run ---------------------------------------------------------------------------


def test_run_page_shows_an_interruption_and_the_resume(page: Page, stack: Stack, api: httpx.Client) -> None:
    spec = {"name": "ui interrupted", "dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, "epochs": 6}
    spec["device"] = "cpu"
    run = api.post("/runs", json=spec).json()
    run_id = run["id"]
    assert run["status"] == "queued"
    claim(api, run_id, "worker-a@test")
    accs = accs_rising(0.85, 6)
    post_points(api, run_id, epoch_points(accs[:3]))
    status(api, run_id, epoch=3, progress=0.5, worker="worker-a@test")

    # heartbeats until the page follows the run live; then worker-a "dies" and the reaper re-queues the run, while
    # an idle worker-b stays online all along (the queued run's words count the online workers that take its queue)
    alive, idle_online = threading.Event(), threading.Event()

    def heartbeat() -> None:
        with httpx.Client(base_url=api.base_url, timeout=5, event_hooks=LEASES.hooks()) as client:
            while not alive.wait(0.5):
                client.post(f"/runs/{run_id}/status", json={"worker": "worker-a@test", "progress": 0.5})

    def idle_worker() -> None:
        beat = {"host": "test", "devices": ["cpu"], "queues": ["cpu", "any"], "session": "idle-b"}
        with httpx.Client(base_url=api.base_url, timeout=5) as client:
            while True:
                assert client.put("/workers/worker-b@test", json=beat).status_code == 200
                if idle_online.wait(0.5):  # offline from now on, before the other tests of this module
                    client.put("/workers/worker-b@test", json={**beat, "stopping": True})
                    return

    beat = threading.Thread(target=heartbeat, daemon=True)
    idle = threading.Thread(target=idle_worker, daemon=True)
    beat.start()
    idle.start()
    try:
        try:
            page.goto(f"{stack.url}/#/runs/{run_id}")
            expect(page.locator(".live-dot")).to_have_text("live")
            expect(page.locator('[data-testid="status-detail"]')).to_have_text("running on worker-a@test")
        finally:
            alive.set()
            beat.join()
        notice = page.locator('[data-testid="interrupted"]')
        expect(notice).to_contain_text(
            "worker worker-a@test stopped responding after epoch 3", timeout=(STALE_AFTER_S + 8) * 1000
        )
        expect(notice).to_contain_text("waiting for another worker")
        expect(page.locator('[data-testid="run-status"] .badge')).to_have_text("queued")
        expect(page.locator('[data-testid="status-detail"]')).to_have_text("waiting for a cpu worker")
        expect(page.locator('[data-testid="run-error"]')).to_be_hidden()
    finally:  # worker-b stops its idle heartbeats and takes the run
        idle_online.set()
        idle.join()

    # another worker claims it and finishes it
    claim(api, run_id, "worker-b@test")
    expect(notice).to_contain_text("resumed on worker-b@test (attempt 2)")
    expect(page.locator(".facts")).to_contain_text("worker-b@test")
    post_points(api, run_id, epoch_points(accs[3:], start=4))
    status(api, run_id, status="succeeded", epoch=6, worker="worker-b@test", summary=summary_of(accs))
    expect(page.locator('[data-testid="run-status"] .badge')).to_have_text("succeeded")
    expect(notice).to_be_visible()
    expect(page.locator('[data-testid="run-error"]')).to_be_hidden()
    screenshot(page, "run_interrupted")

    # opened afterwards, the page still tells it was resumed (from the attempt count)
    page.goto(f"{stack.url}/#/runs")
    page.goto(f"{stack.url}/#/runs/{run_id}")
    expect(notice).to_contain_text("Resumed once")


# ---- presets and the report ----------------------------------------------------------------------------------------


def test_presets_show_what_they_launch_and_land_on_the_sweep(page: Page, stack: Stack, api: httpx.Client) -> None:
    # the report page before any preset ran: every figure offers its launch, with the plan shown first
    page.goto(f"{stack.url}/#/report")
    expect(page.locator('[data-testid="fig-missing"]')).to_have_count(7)
    fig1 = page.locator('[data-fig="fig1"]')
    plan = fig1.locator('[data-testid="preset-plan"]')
    expect(plan).to_contain_text("2 runs · 10 epochs · limit_train 5,000 examples")
    fig1.locator('[data-scale="full"]').click()
    expect(plan).to_contain_text("2 runs · 100 epochs · all training examples")
    expect(plan).to_contain_text("optimizer.weight_decay ∈ {0, 0.001}")
    expect(fig1.locator('[data-testid="preset-launch"]')).to_have_text("Launch 2 runs (full)")
    fig1.locator('[data-scale="quick"]').click()
    assert not re.search(r"\b(null|undefined|NaN)\b", page.locator('[data-testid="report"]').inner_text())
    screenshot(page, "report_empty")
    fig1.locator('[data-testid="preset-launch"]').click()
    page.wait_for_url(re.compile(r"#/sweeps/\d+$"))
    expect(page.locator(".page-title h1")).to_contain_text("fig1 (quick)")
    expect(page.locator('[data-testid="results-table"] tbody tr')).to_have_count(2)
    expect(page.locator('[data-testid="status-counts"]')).to_contain_text("queued")

    # the launch view's presets: same plan, and fig4 launched from there
    page.goto(f"{stack.url}/#/launch")
    page.click(".presets-card summary")
    fig5 = page.locator('[data-preset="fig5"]')
    expect(fig5.locator('[data-testid="preset-plan"]')).to_contain_text("15 runs · 3 epochs · limit_train 1,000")
    fig5.locator('[data-scale="full"]').click()
    expect(fig5.locator('[data-testid="preset-plan"]')).to_contain_text("15 runs · 25 epochs · all training examples")
    screenshot(page, "launch_presets")
    page.locator('[data-preset="fig4"] [data-testid="preset-launch"]').click()
    page.wait_for_url(re.compile(r"#/sweeps/\d+$"))
    expect(page.locator(".page-title h1")).to_contain_text("fig4 (quick)")
    assert latest_preset_sweep(api, "fig1")["spec"]["base"]["epochs"] == 10


def drive_report_runs(api: httpx.Client) -> dict[str, dict]:
    """Launch fig2, fig3, fig5, fig6, fig7 (fig1 and fig4 came from the browser) and play every run."""
    for fig in ("fig2", "fig3", "fig5", "fig6", "fig7"):
        assert api.post(f"/presets/{fig}", params={"scale": "quick"}).status_code == 201
    sweeps = {fig: latest_preset_sweep(api, fig) for fig in ("fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7")}

    def by(fig: str, key: str) -> dict[Any, int]:
        return {r["values"][key]: r["run_id"] for r in sweeps[fig]["results"]}

    # fig1: without weight decay the test error ends lower, by 2.5 points: beyond the 1-point tolerance
    for wd, run_id in by("fig1", "optimizer.weight_decay").items():
        play(api, run_id, accs_rising(0.975 if wd == 0 else 0.95, 10, gap=0.02))
    # fig2: the norm grows without weight decay, shrinks after a peak with it
    for wd, run_id in by("fig2", "optimizer.weight_decay").items():
        norms = [
            {"key": "param_norm", "step": s, "value": 30 + (s / 10 if wd == 0 else 8 * math.exp(-s / 60) * s / 40)}
            for s in range(1, 301)
        ]
        play(api, run_id, accs_rising(0.97, 10, gap=0.02), points=norms)
    # fig3: the three dropout schemes converge as N grows
    (fig3_run,) = [r["run_id"] for r in sweeps["fig3"]["results"]]
    schemes = [
        {"key": key, "step": n, "value": 0.981 - offset / n}
        for key, offset in (
            ("dropout_scale_acc", 0.0),
            ("dropout_presoftmax_acc", 0.2),
            ("dropout_postsoftmax_acc", 0.1),
        )
        for n in range(10, 101, 10)
    ]
    play(api, fig3_run, accs_rising(0.98, 10, gap=0.01), points=schemes)
    # fig4: batch norm learns faster, but by 0.5 points only: within the tolerance, so inconclusive
    for norm, run_id in by("fig4", "model.norm").items():
        play(api, run_id, accs_rising(0.99 if norm == "batchnorm" else 0.985, 3, gap=0.005))
    # fig5: the report's parameter counts; the best run is shallow-fat with batch 16
    for row in sweeps["fig5"]["results"]:
        blocks, batch = row["values"]["model.blocks"], row["values"]["batch_size"]
        valid = (
            0.83
            if (blocks, batch) == ("shallow-fat", 16)
            else 0.70 - 0.001 * batch - 0.02 * ["shallow", "deep", "shallow-fat"].index(blocks)
        )
        play(api, row["run_id"], accs_rising(valid, 3, gap=0.08), n_params=REPORT_PARAMS[blocks])
    # fig6: the filters
    (fig6_run,) = [r["run_id"] for r in sweeps["fig6"]["results"]]
    filters = {
        "filters_first_layer.png": png(64, 64, lambda x, y: ((x * 4) % 256, (y * 4) % 256, ((x + y) * 2) % 256)),
        "filters_activation_max.png": png(64, 32, lambda x, y: (200 if (x // 8 + y // 8) % 2 else 40, 90, 160)),
    }
    play(api, fig6_run, accs_rising(0.82, 3), artifacts=filters, n_params=REPORT_PARAMS["shallow-fat"])
    # fig7: 36 misclassified images
    (fig7_run,) = [r["run_id"] for r in sweeps["fig7"]["results"]]
    images: dict[str, bytes] = {}
    items = []
    for i in range(36):
        images[f"misclassified_{i}.png"] = png(
            16, 16, lambda x, y, i=i: ((i * 7) % 256, (x * 16) % 256, (y * 16) % 256)
        )
        items.append(
            {
                "index": 1000 + i,
                "true": i % 2,
                "pred": 1 - i % 2,
                "confidence": 0.5 + i / 80,
                "image": f"misclassified_{i}.png",
            }
        )
    images["misclassified.json"] = json.dumps(items).encode()
    play(api, fig7_run, accs_rising(0.82, 3), artifacts=images, n_params=REPORT_PARAMS["shallow-fat"])
    return sweeps


def test_report_rebuilds_every_figure_and_exports_one_offline_file(
    page: Page, stack: Stack, api: httpx.Client, browser: Browser, tmp_path: Path
) -> None:
    sweeps = drive_report_runs(api)
    page.goto(f"{stack.url}/#/report")
    for fig in ("fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7"):
        expect(page.locator(f'[data-fig="{fig}"]')).to_have_attribute("data-state", "done", timeout=20_000)
    expect(page.locator('[data-testid="report-state"]')).to_contain_text("7/7 figures from runs")
    for chart, n in (("fig1-test-error", 2), ("fig2-param-norm", 2), ("fig3-dropout", 3), ("fig4-test-error", 2)):
        wait_traces(page, chart, n)
    wait_traces(page, "fig5-heatmap", 1)
    wait_traces(page, "fig5-best-curves", 2)
    fig1 = page.locator('[data-fig="fig1"]')
    expect(fig1.locator('[data-testid="fig-sweep"]')).to_have_attribute("href", f"#/sweeps/{sweeps['fig1']['id']}")
    expect(fig1).to_contain_text("quick scale: 10 epochs, 5,000 training examples")
    expect(fig1.locator("tr.agree")).to_contain_text("Without weight decay performs better")
    expect(page.locator('[data-fig="fig2"] tr.agree').first).to_contain_text("toward 0")
    expect(page.locator('[data-fig="fig3"] tr.agree')).to_contain_text("converge")
    fig4_faster = page.locator('[data-fig="fig4"] tr', has_text="learns faster")
    expect(fig4_faster).to_have_class(re.compile(r"\binconclusive\b"))
    expect(fig4_faster).to_contain_text("? −0.50 pp error with batch norm")
    expect(fig4_faster).to_contain_text("inconclusive at this scale: within the margin of ±1.00 pp")
    expect(fig4_faster).to_contain_text("run the full scale")
    expect(fig1.locator("tr.agree")).to_contain_text("beyond the margin of ±1.00 pp")
    expect(page.locator('[data-testid="margin-rule"]')).to_contain_text("a tolerance of 1 accuracy point")
    fig5 = page.locator('[data-fig="fig5"]')
    expect(fig5.locator('[data-testid="results-table"] tbody tr')).to_have_count(15)
    expect(fig5.locator('[data-testid="results-table"] tr[data-best="true"]')).to_contain_text("shallow-fat")
    claims = fig5.locator('[data-testid="claims"]')
    for count in ("5,274,882", "9,539,074", "1,373,986"):
        expect(claims.locator("tr", has_text=count)).to_contain_text("✓ exact")
    expect(claims.locator("tr", has_text="Best configuration")).to_contain_text("batch 16, shallow-fat")
    expect(claims.locator("tr", has_text=re.compile(r"^Best validation accuracy"))).to_contain_text("85.6 %")
    expect(claims.locator("tr", has_text=re.compile(r"^Best validation accuracy"))).to_contain_text("−2.60 pp")
    expect(claims.locator("tr", has_text="Generalization gap")).to_contain_text("9.15 %")
    page.locator('[data-fig="fig7"]').scroll_into_view_if_needed()
    expect(page.locator('[data-fig="fig6"] [data-testid="fig-images"] img')).to_have_count(2)
    expect(page.locator('[data-fig="fig7"] [data-testid="fig-gallery"] .mis-item')).to_have_count(36)
    expect(page.locator('[data-fig="fig7"] .mis-true').first).to_have_text("true cat")
    expect(page.locator('[data-fig="fig7"] tr.agree')).to_contain_text("36")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.report img')].every((img) => img.complete && img.naturalWidth > 0)"
    )
    assert not re.search(r"\b(null|undefined|NaN)\b", page.locator('[data-testid="report"]').inner_text())
    for chart in ("fig1-test-error", "fig5-heatmap", "fig5-best-curves"):
        assert chart_png(page, chart)[0] == f"{chart}.png"
    screenshot(page, "report_page")

    with page.expect_download(timeout=60_000) as download:
        page.click('[data-testid="export-html"]')
    saved = tmp_path / "report.html"
    download.value.save_as(saved)
    html = saved.read_text()
    assert html.startswith("<!doctype html>")
    # the smallest plotly.js that draws its scatter and heatmap traces: the cartesian bundle, inlined
    assert "plotly.js (cartesian - minified) v4.1.1" in html and "/vendor/plotly" not in html
    page_part = html.split("<script>")[0]  # the report as drawn; plotly.js and the figures' data follow
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page_part)) == 2 + 36
    assert 'src="/api' not in page_part and "blob:" not in page_part
    for chart in ("fig1-test-error", "fig2-param-norm", "fig3-dropout", "fig4-test-error", "fig5-heatmap"):
        assert f'data-chart="{chart}"' in html
    assert "5,274,882" in html and "85.6 %" in html
    assert "Export HTML" not in html and 'data-testid="preset-launch"' not in html

    # the file opens with no network at all and draws every chart
    context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
    try:
        offline = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        offline.on("pageerror", lambda e: errors.append(str(e)))
        offline.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        offline.on("request", lambda r: requests.append(r.url))
        offline.goto(saved.as_uri())
        offline.wait_for_function("() => window.TRAINBOARD_FIGURES === 6")
        offline.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 6")
        assert offline.locator('[data-chart="fig5-heatmap"] .heatmaplayer image').count() == 1
        assert offline.locator(".js-plotly-plot .scatterlayer path.js-line").count() >= 11
        assert offline.locator(".mis-item img").count() == 36
        offline.wait_for_function("() => [...document.images].every((img) => img.complete && img.naturalWidth > 0)")
        screenshot(offline, "report_export")
        assert errors == []
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    finally:
        context.close()


# ---- hygiene, over everything the module's pages did ----------------------------------------------------------


def test_views_render_without_console_errors_or_foreign_requests(page: Page, stack: Stack, watch: Watch) -> None:
    watch.allowed.append(re.compile(r"status of 404 .* @ .*/api/sweeps/999999$"))
    for hash_, ready in (
        ("#/sweeps", '[data-testid="sweeps-table"] tbody tr'),
        ("#/sweeps/999999", "text=Sweep #999999 does not exist"),
        ("#/report", '[data-fig="fig7"][data-state="done"]'),
    ):
        page.goto(f"{stack.url}/{hash_}")
        expect(page.locator(ready).first).to_be_visible()
    page.wait_for_timeout(300)
    assert watch.errors == []
    assert watch.foreign == [], "the dashboard must not load anything from another origin (offline machines)"
