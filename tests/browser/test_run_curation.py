"""Curating runs in the browser: rename in place, edit tags, notes in Markdown that render safely, archive from
the runs table with an Undo, delete after a confirmation; a sweep's name and notes the same way."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import screenshot
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser

stack = api_only_stack("curation")


def _run(api: httpx.Client, name: str, *, finished: bool = True, tags: tuple[str, ...] = ()) -> int:
    reply = api.post("/runs", json={"external": True, "name": name, "tags": list(tags), "config": {"lr": 0.1}})
    assert reply.status_code == 201, reply.text
    run_id = int(reply.json()["id"])
    if finished:
        assert api.post(f"/runs/{run_id}/status", json={"status": "succeeded"}).status_code == 200
    return run_id


def test_rename_tags_and_a_note_on_the_run_page(page: Page, stack: Stack, api: httpx.Client) -> None:
    run_id = _run(api, "first name", finished=False, tags=("draft",))
    page.goto(f"{stack.url}/#/runs/{run_id}")
    name = page.get_by_test_id("edit-name")
    expect(name).to_have_text("first name")

    name.click()
    page.get_by_test_id("name-input").fill("thrown away")
    page.keyboard.press("Escape")
    expect(name).to_have_text("first name")
    name.click()
    page.get_by_test_id("name-input").fill("baseline, lr 0.1")
    page.keyboard.press("Enter")
    expect(name).to_have_text("baseline, lr 0.1")
    assert api.get(f"/runs/{run_id}").json()["name"] == "baseline, lr 0.1"

    tags = page.get_by_test_id("tags-editor")
    page.get_by_test_id("tag-input").fill("fig5")
    page.keyboard.press("Enter")
    expect(tags.locator(".tag-chip")).to_have_text(["draft×", "fig5×"])
    tags.get_by_role("button", name="Remove draft").click()
    expect(tags.locator(".tag-chip")).to_have_text(["fig5×"])
    assert api.get(f"/runs/{run_id}").json()["tags"] == ["fig5"]

    note = 'Why: **lr too high** <script>window.hacked = 1</script> <img src=x onerror="window.hacked = 2">'
    page.get_by_test_id("edit-notes").click()
    page.get_by_test_id("notes-input").fill(note)
    expect(page.get_by_test_id("notes-preview").locator("strong")).to_have_text("lr too high")
    page.get_by_test_id("save-notes").click()
    view = page.get_by_test_id("notes-view")
    expect(view.locator("strong")).to_have_text("lr too high")
    expect(view).to_contain_text("<script>window.hacked = 1</script>")
    expect(view).to_contain_text('<img src=x onerror="window.hacked = 2">')
    assert view.locator("script, img").count() == 0
    assert page.evaluate("window.hacked") is None
    assert api.get(f"/runs/{run_id}").json()["notes"] == note

    # an edit made elsewhere (another tab, a script) reaches the open page on the live stream
    assert api.patch(f"/runs/{run_id}", json={"name": "renamed elsewhere"}).status_code == 200
    expect(name).to_have_text("renamed elsewhere")
    page.reload()
    expect(page.get_by_test_id("notes-view").locator("strong")).to_have_text("lr too high")
    screenshot(page, "run_curation")


def _select(page: Page, run_ids: list[int]) -> None:
    for run_id in run_ids:
        page.check(f'input[aria-label="Select run {run_id}"]')


def test_bulk_archive_with_undo_then_restore_from_the_archived_filter(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    ids = [_run(api, f"shelf {i}", tags=("shelf",)) for i in range(3)]
    page.goto(f"{stack.url}/#/runs?tag=shelf")
    rows = page.locator('[data-testid="runs-table"] tbody tr')
    expect(rows).to_have_count(3)

    _select(page, ids)
    page.locator('[data-action="archive-selected"]').click()
    expect(page.locator(".toast", has_text="Archived 3 runs")).to_be_visible()
    expect(rows).to_have_count(0)
    page.locator('[data-action="toast-action"]', has_text="Undo").click()
    expect(rows).to_have_count(3)
    assert all(not api.get(f"/runs/{i}").json()["archived"] for i in ids)

    _select(page, ids[:2])
    archive = page.locator('[data-action="archive-selected"]')
    expect(archive).to_have_text("Archive 2 selected")
    archive.click()
    expect(rows).to_have_count(1)
    page.get_by_test_id("archived-filter").click()
    expect(rows).to_have_count(2)
    expect(rows.locator(".tag-archived")).to_have_count(2)
    expect(page.get_by_test_id("runs-total")).to_contain_text("2 archived runs")
    _select(page, [ids[0]])
    restore = page.locator('[data-action="archive-selected"]')
    expect(restore).to_have_text("Restore 1 selected")
    restore.click()
    expect(rows).to_have_count(1)
    page.get_by_test_id("archived-filter").click()
    expect(rows).to_have_count(2)
    assert [r["id"] for r in api.get("/runs", params={"tag": "shelf", "archived": "true"}).json()] == [ids[1]]


def test_bulk_delete_asks_first_and_leaves_a_running_run(page: Page, stack: Stack, api: httpx.Client) -> None:
    done = [_run(api, f"old {i}", tags=("gone",)) for i in range(2)]
    running = _run(api, "still training", finished=False, tags=("gone",))
    page.goto(f"{stack.url}/#/runs?tag=gone")
    rows = page.locator('[data-testid="runs-table"] tbody tr')
    expect(rows).to_have_count(3)
    _select(page, [*done, running])

    page.locator('[data-action="delete-selected"]').click()
    dialog = page.get_by_test_id("confirm")
    expect(dialog).to_contain_text("Delete 2 runs?")
    expect(dialog).to_contain_text(f"run #{running} still queued or running is left alone")
    dialog.locator('[data-confirm="keep"]').click()
    expect(rows).to_have_count(3)

    page.locator('[data-action="delete-selected"]').click()
    page.get_by_test_id("confirm").locator('[data-confirm="yes"]').click()
    expect(page.locator(".toast", has_text="Deleted 2 runs")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("still training")
    assert all(api.get(f"/runs/{run_id}").status_code == 404 for run_id in done)
    assert api.get(f"/runs/{running}").json()["status"] == "running"


def test_the_run_page_archives_with_undo_and_deletes_after_asking(page: Page, stack: Stack, api: httpx.Client) -> None:
    run_id = _run(api, "page actions", finished=False)
    page.goto(f"{stack.url}/#/runs/{run_id}")
    delete = page.locator('[data-action="delete-run"]')
    expect(page.get_by_test_id("edit-name")).to_have_text("page actions")
    expect(delete).to_be_hidden()  # a running run is cancelled first

    page.locator('[data-action="archive-run"]').click()
    expect(page.locator(".page-title .tag-archived")).to_be_visible()
    assert api.get(f"/runs/{run_id}").json()["archived"] is True
    page.locator('[data-action="toast-action"]', has_text="Undo").click()
    expect(page.locator(".page-title .tag-archived")).to_be_hidden()
    expect(page.locator('[data-action="archive-run"]')).to_have_text("Archive")
    assert api.get(f"/runs/{run_id}").json()["archived"] is False

    assert api.post(f"/runs/{run_id}/status", json={"status": "succeeded"}).status_code == 200
    expect(delete).to_be_visible()
    delete.click()
    page.get_by_test_id("confirm").locator('[data-confirm="yes"]').click()
    expect(page).to_have_url(re.compile(r"#/runs$"))
    assert api.get(f"/runs/{run_id}").status_code == 404


def test_a_sweeps_name_and_notes_edit_on_its_page(page: Page, stack: Stack, api: httpx.Client) -> None:
    body = {"name": "lr grid", "base": {"external": True, "epochs": 1}, "grid": {"batch_size": [16, 32]}}
    sweep = api.post("/sweeps", json=body).json()
    page.goto(f"{stack.url}/#/sweeps/{sweep['id']}")
    name = page.get_by_test_id("edit-name")
    expect(name).to_have_text("lr grid")
    name.click()
    page.get_by_test_id("name-input").fill("lr grid, second try")
    page.keyboard.press("Enter")
    expect(name).to_have_text("lr grid, second try")
    page.get_by_test_id("edit-notes").click()
    page.get_by_test_id("notes-input").fill("- *batch 16* wins\n- `lr` next")
    page.get_by_test_id("save-notes").click()
    expect(page.get_by_test_id("notes-view").locator("li")).to_have_count(2)
    expect(page.get_by_test_id("notes-view").locator("em")).to_have_text("batch 16")
    got = api.get(f"/sweeps/{sweep['id']}").json()
    assert (got["name"], got["notes"]) == ("lr grid, second try", "- *batch 16* wins\n- `lr` next")

    page.locator('[data-action="archive-sweep"]').click()
    expect(page.locator(".toast", has_text="Archived sweep")).to_be_visible()
    assert all(api.get(f"/runs/{r}").json()["archived"] for r in sweep["runs"])
    page.goto(f"{stack.url}/#/sweeps")
    sweeps = page.locator('[data-testid="sweeps-table"] tbody tr')
    expect(sweeps.filter(has_text="second try")).to_have_count(0)
    page.get_by_test_id("archived-sweeps").click()
    expect(sweeps.filter(has_text="second try")).to_have_count(1)

    assert api.post(f"/sweeps/{sweep['id']}/cancel").status_code == 200
    page.goto(f"{stack.url}/#/sweeps/{sweep['id']}")
    page.locator('[data-action="delete-sweep"]').click()
    expect(page.get_by_test_id("confirm")).to_contain_text("its 2 runs")
    page.get_by_test_id("confirm").locator('[data-confirm="yes"]').click()
    expect(page).to_have_url(re.compile(r"#/sweeps$"))
    assert api.get(f"/sweeps/{sweep['id']}").status_code == 404
    assert all(api.get(f"/runs/{r}").status_code == 404 for r in sweep["runs"])
