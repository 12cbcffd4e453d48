"""A live stack (API + one Celery worker) and headless Chromium, shared by the browser tests of a module."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, LEASES, TOKEN, Watch
from tests.utils.datasets import write_mnist
from tests.utils.services import missing
from tests.utils.stack import Stack, free_port, running_stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="session", autouse=True)
def chromium() -> None:
    """Before any stack starts: the browser tests drive Debian's chromium (skipped without it, failed in CI)."""
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is absent: the browser tests drive Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("browser")
    data = write_mnist(tmp / "data", n_train=400, n_test=100)
    with running_stack(tmp, data_dir=data, workers=1) as live:
        yield live
        # the worker is idle by now: skip Celery's warm shutdown (seconds) on this throwaway broker
        live.stop("worker0", sig=signal.SIGKILL)


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.url}/api", timeout=15, event_hooks=LEASES.hooks()) as client:
        yield client


@pytest.fixture(scope="module")
def token_url(stack: Stack, watch: Watch) -> str:
    """A second API process on the same database that requires TRAINBOARD_TOKEN (stopped with the stack)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stack.start("api-token", "api", env={"TRAINBOARD_TOKEN": TOKEN, "TRAINBOARD_PORT": str(port)})
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or stack.processes["api-token"].poll() is not None:
            raise RuntimeError(f"the token API did not start:\n{stack.log('api-token')}")
        time.sleep(0.2)
    watch.origins.append(url)
    return url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def watch(stack: Stack) -> Watch:
    return Watch(origins=[stack.url])


@pytest.fixture
def page(browser: Browser, stack: Stack, watch: Watch) -> Iterator[Page]:
    """A fresh browser context (own storage) per test, watched for foreign requests and console errors: an error
    the test did not expect (``watch.allowed``) fails that test, whichever tests run before or after it."""
    watch.errors.clear()
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    new_page = context.new_page()
    new_page.on("console", watch.on_console)
    new_page.on("pageerror", watch.on_page_error)
    new_page.on("request", watch.on_request)
    yield new_page
    if not new_page.is_closed():
        new_page.wait_for_timeout(100)  # Playwright hands over the page's last messages during a call
    errors = list(watch.errors)
    context.close()
    assert errors == [], "the page logged errors during this test"


def watched_page(browser: Browser, watch: Watch, **options: Any) -> Iterator[Page]:
    """A page in a fresh context made with ``options``; console errors fail the test (a fixture's body)."""
    watch.errors.clear()
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    yield page
    page.wait_for_timeout(100)
    errors = list(watch.errors)
    context.close()
    assert errors == [], "the page logged errors during this test"


@pytest.fixture
def phone(browser: Browser, watch: Watch) -> Iterator[Page]:
    """A phone: 390 x 844, touch, the page's viewport meta honoured; console errors fail the test."""
    phone_screen = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    yield from watched_page(browser, watch, **phone_screen, device_scale_factor=2)
