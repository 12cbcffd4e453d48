"""Every CSV the dashboard writes is safe to open in a spreadsheet: text that would run as a formula is quoted
(OWASP CSV injection), numbers stay numbers. The dashboard's own modules, run in Chromium."""

from __future__ import annotations

import csv
import io
import json

import pytest
from playwright.sync_api import Page

from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

HOSTILE = '=HYPERLINK("http://x")'


stack = api_only_stack("csv")


def _csv(page: Page, stack: Stack, module: str, call: str) -> list[list[str]]:
    page.goto(f"{stack.url}/#/runs")
    text = page.evaluate(f"async () => {{ const m = await import('/static/js/{module}'); return {call}; }}")
    return list(csv.reader(io.StringIO(text)))


def test_the_sweep_results_csv_quotes_formulas_and_keeps_negative_numbers(page: Page, stack: Stack) -> None:
    row = (
        "{run_id: 7, name: " + json.dumps(HOSTILE) + ", status: 'succeeded',"
        " values: {'optimizer.lr': -0.5, arch: '+cmd|calc'},"
        " best_valid_acc: 0.9, gen_gap: -0.25, stop_reason: '@SUM(A1)', best: true}"
    )
    rows = _csv(page, stack, "sweepdata.js", f"m.resultsCsv([{row}], ['optimizer.lr', 'arch'])")
    header, cells = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header[:5] == ["run_id", "name", "status", "optimizer.lr", "arch"]
    assert cells["name"] == "'" + HOSTILE
    assert cells["arch"] == "'+cmd|calc"
    assert cells["stop_reason"] == "'@SUM(A1)"
    assert cells["optimizer.lr"] == "-0.5"  # a number column stays numeric
    assert cells["gen_gap"] == "-0.25"
    assert cells["best_valid_acc"] == "0.9"


def test_chart_csvs_quote_hostile_series_names_but_not_values(page: Page, stack: Stack) -> None:
    traces = "[{name: " + json.dumps(HOSTILE) + ", x: [1, 2], y: [-0.5, 0.25]}, {name: '-2+3', x: [1], y: [1]}]"
    rows = _csv(page, stack, "charts.js", f"m.tracesToCsv({traces})")
    assert rows == [
        ["series", "x", "y"],
        ["'" + HOSTILE, "1", "-0.5"],
        ["'" + HOSTILE, "2", "0.25"],
        ["'-2+3", "1", "1"],
    ]
    series = "{'-loss': {step: [1, 2], value: [-0.5, null]}}"
    assert _csv(page, stack, "charts.js", f"m.seriesToCsv({series}, ['-loss'])") == [
        ["step", "'-loss"],
        ["1", "-0.5"],
        ["2", ""],
    ]
    tab_and_cr = _csv(page, stack, "dom.js", "['\\tx', '\\rx', 'plain'].map(m.csvCell).join(',')")
    assert tab_and_cr == [["'\tx", "'\rx", "plain"]]
