"""Comfort (issue 16, point 6): the runs page's keyboard shortcuts, and a dark theme that follows the system's
setting, is switched from the header, is remembered by the browser, and paints the charts too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import watched_page
from tests.browser.helpers import Watch, screenshot
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

stack = api_only_stack("comfort")

ROWS = '[data-testid="runs-table"] tr[data-run-id]'
CURSOR = '[data-testid="runs-table"] tr.cursor'
SEARCH = 'input[name="q"]'
CHART = '[data-chart="key:train/loss"]'


def script_run(api: httpx.Client, name: str) -> int:
    reply = api.post("/runs", json={"external": True, "name": name, "config": {"lr": 0.1}})
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


def log_loss(api: httpx.Client, run_id: int) -> None:
    points = [{"key": "train/loss", "step": s, "value": 1.0 / (s + 1)} for s in range(20)]
    reply = api.post(f"/runs/{run_id}/metrics", json={"points": points})
    assert reply.status_code == 200, reply.text


def highlighted(page: Page) -> int:
    expect(page.locator(CURSOR)).to_have_count(1)
    return int(page.locator(CURSOR).get_attribute("data-run-id") or 0)


def luminance(color: str) -> float:
    """0 (black) … 1 (white) for '#rrggbb' or 'rgb(r, g, b)'."""
    if color.startswith("#"):
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    else:
        r, g, b = (int(float(v)) for v in re.findall(r"[\d.]+", color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def body_background(page: Page) -> float:
    return luminance(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def chart_paper(page: Page) -> float:
    page.wait_for_function(f"() => (document.querySelector('{CHART}')?.data || []).length")
    return luminance(page.evaluate(f"document.querySelector('{CHART}')._fullLayout.paper_bgcolor"))


@pytest.fixture
def dark_page(browser: Browser, watch: Watch) -> Iterator[Page]:
    """A browser whose system asks for dark colours (prefers-color-scheme: dark); console errors fail the test."""
    yield from watched_page(browser, watch, viewport={"width": 1400, "height": 900}, color_scheme="dark")


def test_a_dark_system_gets_the_dark_page_from_the_first_paint(dark_page: Page, stack: Stack) -> None:
    """No light flash: <html data-theme> is set by a blocking script ahead of the stylesheet, before any module runs.
    The modules are kept from running here (app.js answers an empty module), so whatever the page shows at
    DOMContentLoaded is what the browser paints before theme.js exists."""
    page = dark_page
    page.route("**/static/js/app.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
    theme = "document.documentElement.dataset.theme || null"

    response = page.goto(f"{stack.url}/#/runs", wait_until="domcontentloaded")
    assert response is not None  # served under the policy that runs no inline script: the early script is a file
    assert response.headers["content-security-policy"].split("; ")[1] == "script-src 'self'"
    assert page.evaluate(theme) == "dark"  # nothing chosen: the system's setting
    assert body_background(page) < 0.2
    assert page.evaluate("document.querySelector('#view').childElementCount") == 0  # no view drawn: no module ran

    page.evaluate("localStorage.setItem('trainboard:theme', 'light')")  # chosen in the header on an earlier visit
    page.reload(wait_until="domcontentloaded")
    assert page.evaluate(theme) == "light"
    assert body_background(page) > 0.8


def test_keys_search_move_the_highlight_select_and_open_a_run(page: Page, stack: Stack, api: httpx.Client) -> None:
    first, second, third = (script_run(api, f"jkbd {n}") for n in ("one", "two", "three"))
    page.goto(f"{stack.url}/#/runs?q=kbd")
    expect(page.locator(ROWS)).to_have_count(3)
    expect(page.locator(CURSOR)).to_have_count(0)

    page.keyboard.press("j")
    assert highlighted(page) == third  # newest first
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")  # past the last row: stays there
    assert highlighted(page) == first
    page.keyboard.press("k")
    assert highlighted(page) == second

    page.keyboard.press("x")
    expect(page.locator(f'tr[data-run-id="{second}"] input[type=checkbox]')).to_be_checked()
    expect(page.get_by_role("button", name="Compare 1 selected")).to_be_visible()

    page.keyboard.press("/")
    expect(page.locator(SEARCH)).to_be_focused()
    expect(page.locator(SEARCH)).to_have_value("kbd")  # the slash only moved the focus
    page.keyboard.press("Home")
    page.keyboard.type("j")  # typed into the box ("jkbd" still finds the three runs), not a shortcut
    expect(page.locator(SEARCH)).to_have_value("jkbd")
    expect(page.locator(ROWS)).to_have_count(3)
    assert highlighted(page) == second
    page.keyboard.press("Control+j")  # a modifier: the browser's, not ours
    page.locator("h1").click()  # out of the box
    page.keyboard.press("Control+k")
    assert highlighted(page) == second

    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"#/runs/{second}$"))
    expect(page.locator("h1")).to_contain_text("jkbd two")


@pytest.fixture
def short_page(browser: Browser, watch: Watch) -> Iterator[Page]:
    """A window 500 pixels high, so that 40 runs do not fit; console errors fail the test."""
    yield from watched_page(browser, watch, viewport={"width": 1200, "height": 500})


def test_a_search_typed_just_before_a_run_opens_stays_off_its_url(page: Page, stack: Stack, api: httpx.Client) -> None:
    """The search box writes its query into the URL 300 ms after the last key: a run opened within that time keeps
    its own URL (the runs page, gone, no longer writes into the run page's)."""
    run_id = script_run(api, "quick open")
    page.goto(f"{stack.url}/#/runs?q=quick")
    expect(page.locator(ROWS)).to_have_count(1)
    page.locator(SEARCH).press("End")
    page.keyboard.type(" open")  # the query's write is pending now
    page.locator(f'tr[data-run-id="{run_id}"] a').first.click()
    expect(page.locator("h1")).to_contain_text("quick open")
    page.wait_for_timeout(600)  # past the search box's 300 ms
    assert page.url.endswith(f"#/runs/{run_id}"), page.url


def test_j_and_k_keep_the_highlighted_row_in_sight_below_the_top_bar(
    short_page: Page, stack: Stack, api: httpx.Client
) -> None:
    page = short_page
    ids = [script_run(api, f"scrolling {n:02d}") for n in range(40)]
    page.goto(f"{stack.url}/#/runs?q=scrolling")
    expect(page.locator(ROWS)).to_have_count(40)
    bar = page.locator(".topbar").bounding_box()
    assert bar is not None
    for _ in range(40):
        page.keyboard.press("j")
    assert highlighted(page) == ids[0]  # the oldest, at the bottom: the page has scrolled down
    assert page.evaluate("window.scrollY") > 0
    for index in range(1, 40):
        page.keyboard.press("k")
        assert highlighted(page) == ids[index]
        row = page.locator(CURSOR).bounding_box()
        assert row is not None
        assert row["y"] >= bar["y"] + bar["height"] - 0.5, f"row {index} is under the top bar"
        assert row["y"] + row["height"] <= 500.5, f"row {index} is below the window"


def test_question_mark_lists_the_shortcuts_and_c_compares_the_selection(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    run_id = script_run(api, "qmark run")
    page.goto(f"{stack.url}/#/runs?q=qmark")
    expect(page.locator(ROWS)).to_have_count(1)

    page.keyboard.press("?")
    shortcuts = page.locator('[data-testid="shortcuts"]')
    expect(shortcuts).to_be_visible()
    for words in ("Search the runs", "Highlight the next run", "Open the highlighted run", "Compare the selected runs"):
        expect(shortcuts).to_contain_text(words)
    screenshot(page, "comfort_shortcuts")
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()

    page.keyboard.press("c")  # nothing selected: stays
    expect(page).to_have_url(re.compile(r"#/runs\?"))
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("c")
    expect(page).to_have_url(re.compile(rf"#/compare\?ids={run_id}$"))


def test_dark_theme_follows_the_system_and_the_header_switch_is_remembered(
    dark_page: Page, stack: Stack, api: httpx.Client
) -> None:
    run_id = script_run(api, "theme run")
    log_loss(api, run_id)
    page = dark_page
    page.goto(f"{stack.url}/#/runs/{run_id}")
    assert body_background(page) < 0.2
    assert chart_paper(page) < 0.2
    expect(page.locator("#theme-select")).to_have_value("system")
    screenshot(page, "comfort_dark_run")
    page.goto(f"{stack.url}/#/runs")
    expect(page.locator(ROWS).first).to_be_visible()
    screenshot(page, "comfort_dark_runs")
    for view in ("launch", "sweeps", "workers"):
        page.goto(f"{stack.url}/#/{view}")
        expect(page.locator("h1").first).to_be_visible()
        assert body_background(page) < 0.2
        screenshot(page, f"comfort_dark_{view}")

    page.goto(f"{stack.url}/#/runs/{run_id}")
    assert chart_paper(page) < 0.2
    page.locator("#theme-select").select_option("light")
    assert body_background(page) > 0.8
    page.wait_for_function(f"() => document.querySelector('{CHART}')._fullLayout.paper_bgcolor !== '#171d26'")
    assert chart_paper(page) > 0.8  # the chart on screen was painted again

    page.reload()
    expect(page.locator("#theme-select")).to_have_value("light")
    assert body_background(page) > 0.8
    assert chart_paper(page) > 0.8

    page.locator("#theme-select").select_option("system")
    assert body_background(page) < 0.2
    page.reload()
    assert body_background(page) < 0.2
    assert chart_paper(page) < 0.2

    page.emulate_media(color_scheme="light")  # the system turns light while "System" is chosen: the page follows
    page.wait_for_function("() => document.documentElement.dataset.theme === 'light'")
    assert body_background(page) > 0.8
    page.wait_for_function(f"() => document.querySelector('{CHART}')._fullLayout.paper_bgcolor !== '#171d26'")
    assert chart_paper(page) > 0.8
