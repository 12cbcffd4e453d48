"""Command runs in the browser: the Launch form's command mode (the argument list it shows and sends, a placeholder
the config lacks flagged as typed, a grid over config keys sent as one sweep), Clone of a command run, and the
command on the run page and in the runs table, at 1400 px and at a phone's 390 px.

The form's requests are recorded as Chromium sends them and reach the real API (no worker runs them: the tests
check what was asked for and how the pages show it).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import Watch, screenshot
from tests.browser.test_phone import OFFENDERS_JS
from tests.utils.stack import Stack, api_only_stack

if TYPE_CHECKING:
    pass

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

COMMAND = ["python", "train.py", "--lr", "{lr}", "--epochs", "{epochs}"]
CONFIG = {"lr": 0.1, "epochs": 3}


stack = api_only_stack("command-ui")


def record_launches(page: Page) -> list[tuple[str, Any]]:
    """The launch form's POST /api/runs and /api/sweeps bodies, as ("runs" | "sweeps", body), in order."""
    sent: list[tuple[str, Any]] = []

    def on_request(request: Any) -> None:
        match = re.search(r"/api/(runs|sweeps)$", request.url)
        if request.method == "POST" and match:
            sent.append((match.group(1), request.post_data_json))

    page.on("request", on_request)
    return sent


def command_run(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    """A command run, created through the API, as GET /api/runs/{id} answers it."""
    body = {"name": "cmd run", "command": COMMAND, "config": CONFIG, "device": "cuda", "gpus": 2, **fields}
    reply = api.post("/runs", json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()


def choose_command_mode(page: Page) -> None:
    page.check('input[name="launch-mode"][value="command"]')
    expect(page.locator('[name="command"]')).to_be_visible()


# ---- the launch form ----------------------------------------------------------------------------------------


def test_a_missing_placeholder_is_flagged_and_the_fixed_form_sends_the_argument_list(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    sent = record_launches(page)
    page.goto(f"{stack.url}/#/launch")
    choose_command_mode(page)
    command_error = page.locator('[data-field="command"] .field-error')
    launch = page.locator('[data-testid="launch"]')
    page.fill('[name="command"]', 'python train.py --lr {lr} --batch {batch_size} --note "two words"')
    expect(command_error).to_have_text("{batch_size} is not in the config")
    chips = page.locator('[data-testid="argv"] li')
    expect(chips).to_have_text(["python", "train.py", "--lr", "{lr}", "--batch", "{batch_size}", "--note", "two words"])
    expect(chips.nth(5)).to_have_class(re.compile(r"\bmissing\b"))
    expect(launch).to_have_text("Fix 1 problem to launch")
    expect(launch).to_be_disabled()
    expect(page.locator('[data-field="command"] .hint')).to_contain_text("no shell is involved")
    screenshot(page, "launch_command_missing")

    page.click('[data-action="add-key"]')
    page.locator('[name="config-key"]').nth(2).fill("batch_size")
    page.locator('[name="config-value"]').nth(2).fill("32")
    expect(command_error).to_be_hidden()
    page.fill('[name="name"]', "cmd ui")
    page.fill('[name="tags"]', "mine, cmd")
    page.select_option('[name="device"]', "cpu")
    expect(launch).to_have_text("Launch run")  # epochs, which the command does not use, is no problem
    expect(page.locator('[data-testid="spec-preview"]')).to_contain_text('"batch_size": 32')
    launch.click()
    page.wait_for_url(re.compile(r"#/runs/\d+$"))
    assert sent == [
        (
            "runs",
            {
                "name": "cmd ui",
                "command": ["python", "train.py", "--lr", "{lr}", "--batch", "{batch_size}", "--note", "two words"],
                "config": {"lr": 0.1, "epochs": 3, "batch_size": 32},
                "device": "cpu",
                "gpus": 0,
                "tags": ["mine", "cmd"],
            },
        )
    ]


def test_the_config_as_json_is_checked_and_comes_back_as_rows(page: Page, stack: Stack, api: httpx.Client) -> None:
    sent = record_launches(page)
    page.goto(f"{stack.url}/#/launch?mode=command")
    expect(page.locator('input[name="launch-mode"][value="command"]')).to_be_checked()
    page.check('[name="config-json-mode"]')
    area = page.locator('[name="config-json"]')
    assert json.loads(area.input_value()) == CONFIG
    config_error = page.locator('[data-field="config"] .field-error')
    area.fill('{"lr": 0.5, "epochs": ')
    expect(config_error).to_contain_text("the JSON does not parse")
    page.click('[name="config-json-mode"]')  # back to rows: refused while the JSON does not parse
    expect(page.locator('[name="config-json-mode"]')).to_be_checked()
    expect(area).to_be_visible()
    area.fill('{"lr": 0.5, "opt": {"name": "adam"}}')
    expect(config_error).to_be_hidden()
    expect(page.locator('[data-field="command"] .field-error')).to_have_text("{epochs} is not in the config")
    area.fill('{"lr": 0.5, "opt": {"name": "adam"}, "epochs": 2}')
    page.uncheck('[name="config-json-mode"]')
    expect(page.locator('[name="config-key"]')).to_have_count(3)
    expect(page.locator('[name="config-key"]').nth(1)).to_have_value("opt.name")
    page.click('[data-testid="launch"]')
    page.wait_for_url(re.compile(r"#/runs/\d+$"))
    assert sent[0][1]["config"] == {"lr": 0.5, "opt": {"name": "adam"}, "epochs": 2}


def test_a_grid_over_two_config_keys_is_one_sweep_of_four_runs(page: Page, stack: Stack, api: httpx.Client) -> None:
    sent = record_launches(page)
    page.goto(f"{stack.url}/#/launch")
    choose_command_mode(page)
    page.check('[name="grid-mode"]')
    page.fill('[name="name"]', "cmd grid")
    values = page.locator('[name="config-value"]')
    values.nth(0).fill("0.1, 0.01")
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("2 runs")
    values.nth(1).fill("1,, 2")
    expect(page.locator('[data-field="config"] .field-error')).to_have_text("epochs: empty value between commas")
    values.nth(1).fill("1, 2")
    expect(page.locator('[data-field="config"] .field-error')).to_be_hidden()
    expect(page.locator('[data-testid="n-runs"]')).to_have_text("4 runs")
    expect(page.locator(".run-count")).to_contain_text("2 lr × 2 epochs")
    expect(page.locator('[name="config-json-mode"]')).to_be_disabled()  # JSON holds one config, not a grid
    launch = page.locator('[data-testid="launch"]')
    expect(launch).to_have_text("Launch 4 runs")
    screenshot(page, "launch_command_grid")
    launch.click()
    page.wait_for_url(re.compile(r"#/runs\?sweep_id=\d+"))
    assert sent == [
        (
            "sweeps",
            {
                "name": "cmd grid",
                "base": {"command": COMMAND, "config": {"lr": 0.1, "epochs": 1}, "device": "auto", "gpus": 0},
                "grid": {"lr": [0.1, 0.01], "epochs": [1, 2]},
            },
        )
    ]
    expect(page.locator('[data-testid="runs-table"] tbody tr')).to_have_count(4)
    sweep_id = int(re.search(r"sweep_id=(\d+)", page.url).group(1))  # type: ignore[union-attr]
    runs = api.get("/runs", params={"sweep_id": sweep_id}).json()
    assert sorted(tuple(r["argv"]) for r in runs) == sorted(
        ("python", "train.py", "--lr", lr, "--epochs", epochs) for lr in ("0.1", "0.01") for epochs in ("1", "2")
    ), "each run's command is filled from its own config"


def test_the_apis_refusal_lands_under_the_field_it_names_and_the_form_survives_a_reload(
    page: Page, stack: Stack, watch: Watch
) -> None:
    refused = {"loc": ["body", "command", 3], "msg": "Value error, {lr} is not a key of the config", "input": "{lr}"}
    page.route(re.compile(r"/api/runs$"), lambda route: route.fulfill(status=422, json={"detail": [refused]}))
    allowed = re.compile(r"Failed to load resource: the server responded with a status of 422")
    watch.allowed.append(allowed)
    try:
        page.goto(f"{stack.url}/#/launch?mode=command")
        page.fill('[name="command"]', "python train.py --lr {lr} --seed 1")
        page.click('[data-testid="launch"]')
        expect(page.locator('[data-field="command"] .field-error')).to_have_text(
            "'{lr}': {lr} is not a key of the config"
        )
        expect(page.locator('[data-testid="form-error"]')).to_have_text("Check the highlighted fields.")
        assert "/launch" in page.url
    finally:
        watch.allowed.remove(allowed)
    page.reload()  # the form as this session left it: command mode, the command typed
    expect(page.locator('input[name="launch-mode"][value="command"]')).to_be_checked()
    expect(page.locator('[name="command"]')).to_have_value("python train.py --lr {lr} --seed 1")


def test_no_worker_that_runs_commands_is_said_next_to_the_device(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.url}/#/launch?mode=command")
    warning = page.locator('[data-field="device"] [data-testid="capacity-warning"]')
    expect(warning).to_contain_text("No online worker runs commands")
    expect(warning).to_contain_text("trainboard worker --code DIR")


# ---- Clone, the run page, the runs table --------------------------------------------------------------------


def test_clone_of_a_command_run_opens_the_command_form(page: Page, stack: Stack, api: httpx.Client) -> None:
    run = command_run(api, name="cloned cmd", command=["python", "train.py", "--out", "my dir", "--lr", "{lr}"])
    sent = record_launches(page)
    page.goto(f"{stack.url}/#/launch?from={run['id']}")
    expect(page.locator('[name="command"]')).to_have_value("python train.py --out 'my dir' --lr {lr}")
    expect(page.locator('input[name="launch-mode"][value="command"]')).to_be_checked()
    argv = ["python", "train.py", "--out", "my dir", "--lr", "{lr}"]
    expect(page.locator('[data-testid="argv"] li')).to_have_text(argv)
    expect(page.locator('[name="config-key"]')).to_have_count(2)
    expect(page.locator('[name="config-value"]').first).to_have_value("0.1")
    expect(page.locator('[name="gpus"]')).to_have_value("2")
    expect(page.locator('[name="device"]')).to_have_value("cuda")
    expect(page.locator('[name="name"]')).to_have_value("cloned cmd copy")
    page.click('[data-testid="launch"]')
    page.wait_for_url(re.compile(r"#/runs/\d+$"))
    assert sent[0][1] == {
        "name": "cloned cmd copy",
        "command": ["python", "train.py", "--out", "my dir", "--lr", "{lr}"],
        "config": CONFIG,
        "device": "cuda",
        "gpus": 2,
    }


def test_the_run_page_and_the_runs_table_show_the_command(page: Page, stack: Stack, api: httpx.Client) -> None:
    run = command_run(api, name="shown cmd")
    page.goto(f"{stack.url}/#/runs/{run['id']}")
    expect(page.locator('[data-testid="run-command"] li')).to_have_text(
        ["python", "train.py", "--lr", "0.1", "--epochs", "3"]  # filled from the config: what the worker runs
    )
    assert page.locator(".run-subtitle").text_content() == "pythontrain.py--lr0.1--epochs3"  # the chips, nothing else
    gpus_fact = page.locator(".fact").filter(has=page.locator("dt", has_text=re.compile(r"^gpus$")))
    expect(gpus_fact.locator("dd")).to_have_text("2")
    queue_fact = page.locator(".fact").filter(has=page.locator("dt", has_text=re.compile(r"^queue$")))
    expect(queue_fact.locator("dd")).to_have_text("cmd-cuda-2gpus")  # only a worker with 2 GPUs or more takes it
    expect(page.locator('[data-testid="config"] [data-key="lr"]')).to_contain_text("0.1")
    screenshot(page, "run_command")
    page.goto(f"{stack.url}/#/runs")
    row = page.locator(f'[data-testid="runs-table"] tr[data-run-id="{run["id"]}"]')
    expect(row.locator('[data-col="arch"]')).to_have_text("train.py")


def test_the_run_page_says_which_gpus_of_its_worker_the_run_holds(page: Page, stack: Stack, api: httpx.Client) -> None:
    run = command_run(api, name="on two gpus")
    page.goto(f"{stack.url}/#/runs/{run['id']}")
    expect(page.locator('[data-testid="run-command"] li').first).to_have_text("python")
    expect(page.locator('[data-testid="held-gpus"]')).to_have_count(0)  # queued: it holds none yet
    claimed = api.post(f"/runs/{run['id']}/claim", json={"worker": "gpu@box", "gpus": ["0", "2"]})
    assert claimed.status_code == 200, claimed.text
    expect(page.locator('[data-testid="held-gpus"]')).to_have_text("GPUs 0, 2")  # live, from the status event
    expect(page.locator(".fact", has_text="worker").locator("dd")).to_have_text("gpu@box")
    bad = api.post(f"/runs/{command_run(api)['id']}/claim", json={"worker": "w", "gpus": ["zero"]})
    assert bad.status_code == 422 and "gpus" in bad.text


def test_command_form_and_run_page_fit_a_phone(phone: Page, stack: Stack, api: httpx.Client) -> None:
    long_arg = "--checkpoint_path_" + "x" * 100  # no place where a line may break
    run = command_run(api, name="phone cmd", command=[*COMMAND, long_arg])
    phone.goto(f"{stack.url}/#/launch?from={run['id']}")
    expect(phone.locator('[data-testid="argv"] li')).to_have_count(7)
    phone.check('[name="grid-mode"]')
    fits = phone.evaluate(OFFENDERS_JS)
    assert fits["scrollWidth"] <= fits["width"] and fits["offenders"] == [], fits
    screenshot(phone, "phone_launch_command")
    phone.goto(f"{stack.url}/#/runs/{run['id']}")
    expect(phone.locator('[data-testid="run-command"] li')).to_have_count(7)
    fits = phone.evaluate(OFFENDERS_JS)
    assert fits["scrollWidth"] <= fits["width"] and fits["offenders"] == [], fits
    screenshot(phone, "phone_run_command")


def test_a_command_run_asking_for_more_gpus_than_any_worker_has_is_warned_about(page: Page, stack: Stack) -> None:
    beat = {
        "host": "box",
        "devices": ["cpu", "cuda"],
        "gpus": ["0: Fake GPU", "1: Fake GPU"],
        "queues": ["any", "cuda", "cmd-any", "cmd-cuda"],
        "session": "s1",
    }
    assert httpx.put(f"{stack.url}/api/workers/gpu-box", json=beat, timeout=10).status_code == 200
    try:
        page.goto(f"{stack.url}/#/launch")
        choose_command_mode(page)
        page.select_option('[name="device"]', "cuda")
        page.fill('[name="gpus"]', "4")
        warning = page.locator('[data-testid="capacity-warning"]')
        expect(warning).to_contain_text("No online worker that runs commands has 4 GPUs (the most any has is 2)")
        page.fill('[name="gpus"]', "2")
        expect(warning).to_be_hidden()
    finally:
        httpx.put(f"{stack.url}/api/workers/gpu-box", json={**beat, "stopping": True}, timeout=10)
