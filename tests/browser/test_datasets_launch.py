"""CIFAR-10 and an image folder, in torchvision's layouts on the worker's data dir, launched from the Launch form:
the runs train on the live stack's worker and their galleries name the datasets' own classes."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import screenshot
from tests.utils.datasets import CIFAR10_CLASSES, write_cifar10, write_image_folder
from tests.utils.stack import Stack, running_stack

pytestmark = pytest.mark.browser

FRUIT = ("apple", "banana", "cherry")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """This module's own stack: its worker's data dir holds CIFAR-10's batches and an image folder "fruit"."""
    tmp = tmp_path_factory.mktemp("datasets")
    data = write_cifar10(tmp / "data", n_per_batch=24, n_test=60)
    write_image_folder(data, "fruit", classes=FRUIT, n_train=8, n_test=6, size=40)
    with running_stack(tmp, data_dir=data, workers=1) as live:
        yield live
        live.stop("worker0", sig=signal.SIGKILL)


def _common_fields(page: Page, name: str) -> None:
    page.fill('[name="name"]', name)
    page.fill('[name="optimizer.lr"]', "0.001")  # one slow epoch: something is left misclassified
    page.fill('[name="batch_size"]', "16")
    page.fill('[name="epochs"]', "1")
    page.select_option('[name="device"]', "cpu")
    page.fill('[name="n_misclassified"]', "12")


def _launch_and_see_the_gallery(page: Page, api: httpx.Client, classes: tuple[str, ...]) -> dict:
    page.click('[data-testid="launch"]')
    page.wait_for_url(re.compile(r"#/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator('[data-testid="run-status"] .badge')).to_have_text("succeeded", timeout=120_000)
    expect(page.locator('[data-testid="filters"] img').first).to_be_visible(timeout=15_000)
    gallery = page.locator('[data-testid="gallery"] .mis-item')
    expect(gallery.first).to_be_visible(timeout=15_000)
    shown = gallery.locator(".mis-true").all_text_contents() + gallery.locator(".mis-pred").all_text_contents()
    assert shown and all(text.split(" ", 1)[1] in classes for text in shown), shown
    return api.get(f"/runs/{run_id}").json()


def test_a_cifar10_run_from_the_form_names_cifar_classes(page: Page, stack: Stack, api: httpx.Client) -> None:
    page.goto(f"{stack.url}/#/launch")
    _common_fields(page, "ui cifar vgg")
    page.select_option('[name="dataset"]', "cifar10")
    expect(page.locator('[data-field="image_size"]')).to_be_hidden()  # CIFAR-10 is 32x32 already
    page.select_option('[name="model.arch"]', "vgg")
    page.select_option('[name="model.blocks"]', "shallow")
    run = _launch_and_see_the_gallery(page, api, CIFAR10_CLASSES)
    assert run["spec"]["dataset"] == "cifar10" and run["status"] == "succeeded"
    expect(page.locator('[data-testid="filters"]')).to_contain_text("Deeper filters by activation maximization")
    screenshot(page, "run_cifar10_gallery")


def test_an_image_folder_run_from_the_form_trains_at_image_size(page: Page, stack: Stack, api: httpx.Client) -> None:
    page.goto(f"{stack.url}/#/launch")
    _common_fields(page, "ui fruit cnn")
    expect(page.locator('[data-field="image_size"]')).to_be_hidden()
    page.select_option('[name="dataset"]', "folder")
    folder = page.locator('[name="dataset.folder"]')
    folder.fill("../fruit")  # checked as typed: one folder name, no way out of the data dir
    expect(page.locator('[data-field="dataset"] .field-error')).to_contain_text("'../fruit' is not one folder name")
    folder.fill("fruit")
    expect(page.locator('[data-field="dataset"] .field-error')).to_be_hidden()
    page.fill('[name="image_size"]', "48")
    page.select_option('[name="model.arch"]', "cnn")
    expect(page.locator('[data-testid="spec-preview"]')).to_contain_text('"dataset": "folder:fruit"')
    run = _launch_and_see_the_gallery(page, api, FRUIT)
    assert run["spec"]["dataset"] == "folder:fruit" and run["spec"]["image_size"] == 48
    expect(page.locator(".run-subtitle")).to_contain_text("folder:fruit at 48 px")
    page.locator('[data-testid="gallery"]').scroll_into_view_if_needed()  # the gallery's images load lazily
    page.wait_for_function(
        "() => [...document.querySelectorAll('.mis-img')].every((img) => img.complete && img.naturalWidth > 0)"
    )
    widths = page.evaluate("[...document.querySelectorAll('.mis-img')].map((img) => img.naturalWidth)")
    assert widths and set(widths) == {96}  # 48 px tiles, doubled
    screenshot(page, "run_image_folder_gallery")
