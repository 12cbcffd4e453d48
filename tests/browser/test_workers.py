"""The Workers page, the top bar's "N workers · M queued", the launch form's warning about a device no online
worker takes, and a queued run that says why it waits, in Chromium, on a stack with one CPU worker."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import Page, expect

from tests.browser.helpers import screenshot
from tests.utils.stack import Stack

NO_CUDA = "no online worker takes cuda runs: start one with `trainboard worker --device cuda`"
CUDA_RUN = {"name": "gpu run", "dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}, "device": "cuda"}


def _wait_until_the_worker_registered(api: httpx.Client, timeout: float = 90) -> None:
    """The worker registers once Celery is ready, which takes a while on a busy machine: wait for that first, so
    the page's few seconds of patience check the page, not the machine's load."""
    deadline = time.monotonic() + timeout
    while not any(w["online"] for w in api.get("/workers").json()["workers"]):
        assert time.monotonic() < deadline, "the stack's worker never registered"
        time.sleep(0.2)


def test_workers_page_lists_the_worker_and_its_queues(page: Page, stack: Stack, api: httpx.Client) -> None:
    _wait_until_the_worker_registered(api)
    page.goto(f"{stack.url}/#/runs")
    badge = page.locator('[data-testid="workers-badge"]')
    expect(badge).to_have_text("1 worker · 0 queued")
    badge.click()
    expect(page).to_have_url(re.compile(r"#/workers$"))
    row = page.locator('[data-worker="worker0@test"]')
    expect(row.locator('[data-testid="worker-state"]')).to_have_text("online")
    expect(row).to_contain_text("cpu")
    expect(row).to_contain_text("idle")
    queues = page.locator('[data-testid="queues-table"] tbody tr')
    expect(queues).to_have_count(6)  # the built-in loop's three, and the command runs' three (no --code worker)
    for queue, workers in (("any", "1"), ("cpu", "1"), ("cuda", "0"), ("cmd-any", "0"), ("cmd-cpu", "0")):
        expect(page.locator(f'[data-queue="{queue}"] td').nth(1)).to_have_text("0")
        expect(page.locator(f'[data-queue="{queue}"] td').nth(2)).to_have_text(workers)
    expect(page.locator('[data-testid="api-health"]')).to_contain_text("broker: sqlite (embedded)")
    screenshot(page, "workers-1400")
    page.set_viewport_size({"width": 390, "height": 800})
    expect(badge).to_be_in_viewport()
    page.locator("#menu-button").click()  # a phone's top bar keeps its links behind the menu button
    expect(page.locator('[data-nav="workers"]')).to_be_visible()
    screenshot(page, "workers-390")


def test_a_cuda_run_is_warned_about_at_launch_and_says_no_worker_takes_it(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    page.goto(f"{stack.url}/#/launch")
    device = page.locator('select[name="device"]')
    warning = page.locator('[data-field="device"] [data-testid="capacity-warning"]')
    expect(warning).to_be_hidden()
    device.select_option("cuda")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("No online worker takes cuda runs")
    expect(warning).to_contain_text("trainboard worker --device cuda")
    device.select_option("cpu")
    expect(warning).to_be_hidden()
    device.select_option("cuda")
    expect(warning).to_be_visible()
    page.fill('input[name="name"]', "first gpu run")
    page.locator('[data-testid="launch"]').click()  # the warning does not stop a launch
    expect(page).to_have_url(re.compile(r"#/runs/\d+$"))
    first = int(page.url.rsplit("/", 1)[1])
    expect(page.locator('[data-testid="run-status"] .badge')).to_have_text("queued")
    expect(page.locator('[data-testid="status-detail"]')).to_have_text(NO_CUDA)
    expect(page.locator('[data-testid="workers-badge"]')).to_have_text("1 worker · 1 queued")

    second = api.post("/runs", json=CUDA_RUN).json()["id"]
    page.goto(f"{stack.url}/#/runs/{second}")
    detail = page.locator('[data-testid="status-detail"]')
    expect(detail).to_have_text(f"1 run ahead · {NO_CUDA}")
    api.post(f"/runs/{first}/cancel")
    expect(detail).to_have_text(NO_CUDA)  # the run ahead went away: the page says so without a reload

    page.goto(f"{stack.url}/#/runs")
    expect(page.locator(f'[data-run-id="{second}"] [data-testid="status-note"]')).to_have_text(NO_CUDA)
    api.post(f"/runs/{second}/cancel")
    expect(page.locator(f'[data-run-id="{second}"] [data-testid="status-note"]')).to_have_count(0)
    expect(page.locator('[data-testid="workers-badge"]')).to_have_text("1 worker · 0 queued")


def test_a_multi_gpu_command_run_says_no_worker_has_that_many_and_its_queue_is_listed(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    _wait_until_the_worker_registered(api)
    body = {"name": "two gpus", "command": ["torchrun", "--nproc-per-node", "2", "train.py"], "device": "cuda",
            "gpus": 2}  # fmt: skip
    run = api.post("/runs", json=body).json()
    page.goto(f"{stack.url}/#/runs/{run['id']}")
    expect(page.locator('[data-testid="status-detail"]')).to_contain_text(
        "needs a worker that runs commands on 2 GPUs: none online has that many"
    )
    expect(page.locator('[data-testid="status-detail"]')).to_contain_text("--gpus 0,1")
    page.goto(f"{stack.url}/#/workers")
    cells = page.locator('[data-queue="cmd-cuda-2gpus"] td')
    expect(cells).to_have_text(["cmd-cuda-2gpus", "1", "0"])  # one run waits, no online worker takes the queue
    expect(cells.nth(2)).to_have_class(re.compile("warn-text"))
    # A worker with 4 GPUs that runs commands says it is there (as `trainboard worker --code DIR` would):
    queues = ["any", "cuda", "cmd-any", "cmd-cuda", "cmd-cuda-2gpus", "cmd-cuda-3gpus", "cmd-cuda-4gpus"]
    beat = {"host": "big", "devices": ["cpu", "cuda"], "gpus": [f"{i}: H200" for i in range(4)], "queues": queues,
            "session": "big-1"}  # fmt: skip
    assert api.put("/workers/big@box", json=beat).status_code == 200
    expect(cells).to_have_text(["cmd-cuda-2gpus", "1", "1"])
    big = page.locator('[data-worker="big@box"] td')
    expect(big.nth(4)).to_have_text("any, cuda, cmd-any, cmd-cuda, cmd-cuda-2…4gpus")
    api.post(f"/runs/{run['id']}/cancel")
    expect(cells).to_have_text(["cmd-cuda-2gpus", "0", "1"])  # listed while a worker takes it
