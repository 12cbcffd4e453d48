"""The views' pure helpers (no DOM: the words, numbers and series a page shows), imported and called in Chromium,
since CI has no Node.js. What the pages do with them is tested end to end in test_dashboard.py."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py


stack = api_only_stack("helpers")


def _run(page: Page, stack: Stack, module: str, body: str) -> Any:
    """Import /static/js/<module> as `m` and return what `body` (a JavaScript expression) evaluates to."""
    if not page.url.startswith(stack.url):
        page.goto(f"{stack.url}/#/sweeps")
    return page.evaluate(f"async () => {{ const m = await import('/static/js/{module}'); return {body}; }}")


RUNNING = "{status: 'running', worker: 'w1', attempts: 2, queue: 'cpu', epoch: 3, progress: 0.5, spec: {epochs: 10}}"


def test_run_subtitle_progress_and_summary(page: Page, stack: Stack) -> None:
    spec = (
        "{dataset: 'mnist', model: {arch: 'mlp', hidden: [800, 800]}, batch_size: 64, epochs: 10, tags: ['a', 'b'],"
        " optimizer: {name: 'sgd', lr: 0.02, weight_decay: 0.001}}"
    )
    subtitle = _run(page, stack, "views/run/text.js", f"m.runSubtitle({spec})")
    assert subtitle.startswith("mnist · ")
    assert subtitle.endswith("sgd lr 0.02 · weight decay 0.001 · batch 64 · 10 epochs · tags: a, b")
    labels = _run(page, stack, "views/run/text.js", "[0.05, 0.5, 1, null].map(m.progressLabel)")
    assert labels == ["5.0 %", "50 %", "100 %", "0.0 %"]
    queued = _run(page, stack, "views/run/text.js", "m.progressText({status: 'queued', epoch: 0, spec: {epochs: 5}})")
    assert queued == "epoch 0/5 · waiting for a worker"
    started = "2026-01-01T00:00:00Z"
    running = _run(
        page,
        stack,
        "views/run/text.js",
        f"m.progressText({{status: 'running', epoch: 2, progress: 0.5, started_at: '{started}', spec: {{epochs: 4}}}},"
        f" Date.parse('{started}') + 60000)",
    )
    # two of four epochs done and the bar at half: it is training the third
    assert running.startswith("epoch 3/4 · elapsed 1 min 00 s · ETA 1 min 00 s (")
    finishing = _run(
        page,
        stack,
        "views/run/text.js",
        f"m.progressText({{status: 'running', epoch: 2, progress: 1, started_at: '{started}', spec: {{epochs: 3}}}},"
        f" Date.parse('{started}') + 60000)",
    )
    # the bar at 100 % while the last epoch is evaluated: no promise of an ETA still to come
    assert finishing == "epoch 3/3 · final evaluation · elapsed 1 min 00 s"
    cancelled = _run(
        page, stack, "views/run/text.js", "m.progressText({status: 'cancelled', epoch: 3, spec: {epochs: 10}})"
    )
    assert cancelled == "epoch 3/10"
    took = _run(
        page,
        stack,
        "views/run/text.js",
        "m.progressText({status: 'succeeded', epoch: 4, summary: {duration_s: 75}, spec: {epochs: 4}})",
    )
    assert took == "epoch 4/4 · took 1 min 15 s"
    rows = _run(
        page, stack, "views/run/text.js", "m.summaryRows({extra_key: 1.5, best_valid_acc: 0.8567, n_params: 1234})"
    )
    assert rows == [
        ["parameters", "1,234", "n_params"],
        ["best valid accuracy", "85.67 %", "best_valid_acc"],
        ["extra key", "1.5", "extra_key"],
    ]


def test_run_interruptions_in_words(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/run/text.js",
        f"""(() => {{
          const items = [{{worker: 'w0', attempt: 1, epoch: 3}}];
          const before = m.interruptionText(items[0], {{status: 'queued'}});
          m.markResumed(items, {{status: 'running', worker: 'w0', attempts: 1}});  // the same attempt: not resumed
          const same = items[0].resumedOn;
          m.markResumed(items, {RUNNING});
          return [before, same, m.interruptionText(items[0], {RUNNING}),
                  m.interruptionText({{epoch: 0}}, {{status: 'failed'}}), m.timesResumed({RUNNING})];
        }})()""",
    )
    assert told == [
        "worker w0 stopped responding after epoch 3;"
        " re-queued to resume from its last checkpoint; waiting for another worker…",
        None,
        "worker w0 stopped responding after epoch 3; resumed on w1 (attempt 2).",
        "worker its worker stopped responding before its first epoch; the run was not resumed (see the error below).",
        1,
    ]


def test_run_artifact_words(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/run/text.js",
        """[m.bytes(512), m.bytes(2048), m.bytes(3 * 1024 * 1024), m.bytes(NaN),
            m.labelName(1, {dataset: 'dogs-vs-cats'}), m.labelName(1, {dataset: 'mnist'}), m.labelName('x', null),
            m.labelName(3, {dataset: 'cifar10'}), m.labelName('apple', {dataset: 'folder:fruit'}),
            m.confidenceText(0.9876), m.confidenceText(undefined),
            m.filterCaption('filters_first_layer.png'), m.filterCaption('filters_activation_max.png'),
            m.filterCaption('other.png'), m.liveStateLabel('paused'), m.liveStateLabel('odd')]""",
    )
    assert told == [
        "512 B",
        "2.0 KiB",
        "3.0 MiB",
        "",
        "dog",
        "1",
        "x",
        "cat",
        "apple",
        "98.8 %",
        "",
        "First-layer kernels",
        "Deeper filters by activation maximization",
        "other.png",
        "paused (tab hidden)",
        "odd",
    ]


def test_run_files_in_groups_and_the_keys_each_architecture_uses(page: Page, stack: Stack) -> None:
    files = (
        "["
        + ", ".join(
            f"{{name: '{n}', size: {size}, media_type: '{t}'}}"
            for n, size, t in [
                ("misclassified_10.png", 10, "image/png"),
                ("misclassified_2.png", 20, "image/png"),
                ("checkpoint_last.pt", 3000, "application/octet-stream"),
                ("filters_first_layer.png", 5, "image/png"),
                ("misclassified.json", 7, "application/json"),
                ("plot.png", 1, "image/png"),
            ]
        )
        + "]"
    )
    groups = _run(
        page,
        stack,
        "views/run/text.js",
        f"m.fileGroups({files}).map((g) => [g.label, g.files.map((f) => f.name), g.size])",
    )
    assert groups == [
        ["Checkpoints", ["checkpoint_last.pt"], 3000],
        ["Misclassified test images", ["misclassified_2.png", "misclassified_10.png"], 30],
        ["Filter images", ["filters_first_layer.png"], 5],
        ["Other images", ["plot.png"], 1],
        ["Data and other files", ["misclassified.json"], 7],
    ]
    model = "{hidden: [8], dropout: 0.5, norm: 'dropout', blocks: 'deep'}"
    keys = "(spec) => Object.keys(m.usedConfig(spec)).join(' ')"
    specs = f"""['mlp', 'cnn', 'vgg'].map((arch) => ({{model: {{arch, ...{model}}}, seed: 1, dropout_schemes: []}}))
        .concat([{{model: {{arch: 'cnn', norm: 'batchnorm', dropout: 0}}}}])"""
    used = _run(page, stack, "spec.js", f"{specs}.map({keys})")
    assert used == [
        "model.arch model.hidden model.dropout seed dropout_schemes",
        "model.arch model.dropout model.norm seed",
        "model.arch model.blocks seed",
        "model.arch model.norm",
    ]


def test_run_series_traces_live_points_and_zoom(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/run/series.js",
        """(() => {
          const short = m.traceFor('valid_acc', {step: [1, 2], value: [0.5, null]}, (v) => m.percent(v, 'error'));
          const long = m.traceFor('odd_key', {step: Array.from({length: 151}, (_, i) => i), value: Array(151).fill(1)});
          const pending = new Map();
          const charts = [{id: 'a', keys: ['loss']}, {id: 'b', keys: ['loss', 'x']}, {id: 'c', keys: ['y']}];
          m.queueFor(pending, charts, 'loss', {step: [1, 2], value: [0.1, 0.2]});
          m.queueFor(pending, charts, 'loss', {step: [3], value: [0.3]});
          const window = {loss: {step: [5], value: [1]}};
          const fresh = new Map(
            [['loss', {step: [4, 6, 7, 9], value: [0, 2, 3, 4]}], ['new', {step: [1], value: [5]}]]);
          m.extendWindow(window, fresh, 8);
          return {
            short: [short.mode, short.name, short.y, short.meta],
            long: [long.mode, long.name],
            pending: [...pending].map(([id, byKey]) => [id, [...byKey].map(([k, p]) => [k, p.step, p.value])]),
            window,
            compact: m.keysToCompact({loss: 4001, param_norm: 4000}, 1000),
            zoom: [m.zoomSteps([-3.5, 10.2]), m.zoomSteps([7.9, 7.1])],
            percent: [m.percent(0.25), m.percent(0.25, 'error'), m.percent(null), m.percent(undefined, 'error')],
          };
        })()""",
    )
    assert told["short"] == ["lines+markers", "valid", [50, None], "valid_acc"]
    assert told["long"] == ["lines", "odd_key"]
    assert told["pending"] == [
        ["a", [["loss", [1, 2, 3], [0.1, 0.2, 0.3]]]],
        ["b", [["loss", [1, 2, 3], [0.1, 0.2, 0.3]]]],
    ]
    # past the last step held and inside the window only
    assert told["window"] == {"loss": {"step": [5, 6, 7], "value": [1, 2, 3]}, "new": {"step": [1], "value": [5]}}
    assert told["compact"] == ["loss"]
    assert told["zoom"] == [{"start": 0, "end": 11}, {"start": 7, "end": 8}]
    assert told["percent"] == [25, 75, None, None]


def test_runs_table_state_round_trips_through_the_url(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/runs/query.js",
        """(() => {
          const odd = m.readState({status: 'running,bogus', sort: 'nope', order: 'up', limit: '7', offset: '-5',
                                   sel: '3,x,1,3,-2'});
          const state = m.readState(
            {status: 'failed,queued', tag: 't', sort: 'lr', order: 'asc', limit: '100', offset: '200', sel: '4,2'});
          const query = m.readState({q: 'config.lr >= 0.01 and tag:fig5', sort: 'config.optimizer.lr', cols: ''});
          return {
            odd, plain: m.urlQuery(m.readState({})), url: m.urlQuery(state), api: m.apiQuery(state),
            back: m.readState(m.urlQuery(state)), filtered: [m.isFiltered(state), m.isFiltered(m.readState({}))],
            queryUrl: m.urlQuery(query), queryApi: m.apiQuery(query),
            problems: [
              m.queryProblem([{loc: ['query', 'q'], msg: 'at position 3: expected a value', ctx: {position: 3}}]),
              m.queryProblem([{loc: ['query', 'sort'], msg: 'unknown sort key'}]), m.queryProblem('not found'),
            ],
            marks: [m.markAt('id >', 4), m.markAt('a = (b', 4), m.markAt('abc', null)],
          };
        })()""",
    )
    assert told["odd"] == {
        "status": ["running"],
        "tag": "",
        "sweep_id": "",
        "q": "",
        "archived": False,
        "sort": "id",
        "order": "desc",
        "limit": 50,
        "offset": 0,
        "cols": [],
        "sel": [1, 3],
    }
    # defaults stay out of the URL (hrefFor drops empty values), so a plain #/runs stays plain
    plain_keys = {"status", "tag", "sweep_id", "q", "archived", "sort", "order", "limit", "offset", "cols", "sel"}
    assert set(told["plain"]) == plain_keys
    assert all(value in ("", None) for value in told["plain"].values())
    assert told["url"]["status"] == "failed,queued"
    assert told["api"] == {
        "status": "failed,queued",
        "tag": "t",
        "sweep_id": "",
        "q": "",
        "sort": "lr",
        "order": "asc",
        "limit": 100,
        "offset": 200,
    }
    assert told["back"] == {**told["api"], "status": ["failed", "queued"], "archived": False, "cols": [], "sel": [2, 4]}
    assert told["url"]["sel"] == "2,4"
    assert told["filtered"] == [True, False]
    # the query and a sort by any config key go to the API as they are: it filters and sorts across pages
    assert told["queryUrl"]["q"] == told["queryApi"]["q"] == "config.lr >= 0.01 and tag:fig5"
    assert told["queryUrl"]["sort"] == told["queryApi"]["sort"] == "config.optimizer.lr"
    assert told["problems"] == [{"message": "at position 3: expected a value", "position": 3}, None, None]
    assert told["marks"] == [["id >", "", ""], ["a = ", "(", "b"], ["abc", "", ""]]


def test_runs_table_sorting_paging_and_words(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/runs/query.js",
        """(() => {
          const state = m.readState({sort: 'lr', order: 'asc'});
          const done = {status: 'succeeded', epoch: 3};
          const running = {status: 'running', epoch: 3};
          return {
            sort: [m.sortBy(state, 'lr'), m.sortBy(state, 'name'), m.sortBy(state, 'epoch')],
            last: [m.lastPageOffset(101, 50), m.lastPageOffset(100, 50), m.lastPageOffset(0, 50)],
            words: [m.countText(1, true), m.countText(1234, false), m.rangeText(50, 50, 1234), m.rangeText(0, 0, 0)],
            grid: m.gridText({'optimizer.lr': [0.1, 0.01], batch_size: {min: 1, max: 2}}),
            signatures: [
              m.rowSignature(done, 1000) === m.rowSignature(done, 9000),
              m.rowSignature(running, 1000) === m.rowSignature(running, 2000),
              m.rowSignature(done) === m.rowSignature({...done, epoch: 4}),
            ],
          };
        })()""",
    )
    assert told["sort"] == [
        {"sort": "lr", "order": "desc"},  # the same column flips
        {"sort": "name", "order": "asc"},  # text starts A→Z
        {"sort": "epoch", "order": "desc"},  # numbers start high
    ]
    assert told["last"] == [100, 50, 0]
    assert told["words"] == ["1 run match", "1,234 runs", "51–100 of 1,234", "0–0 of 0"]
    assert told["grid"] == "optimizer.lr ∈ {0.1, 0.01} × batch_size ∈ {range}"
    # a finished run's row is redrawn only when it changes; an unfinished one's each second (its duration)
    assert told["signatures"] == [True, False, False]


def test_launch_form_builds_a_run_or_a_sweep(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/launch/request.js",
        """(async () => {
          const f = await import('/static/js/views/launch/fields.js');
          const single = m.buildRequest(f.defaultModel(), false);
          const model = {...f.defaultModel(), name: ['x'], 'optimizer.lr': [0.1, 0.01], 'model.arch': ['mlp', 'vgg']};
          const sweep = m.buildRequest(model, true);
          const notGrid = m.buildRequest(model, false);  // grid mode off: the first value of each field
          return {single, sweep, counts: [m.runCount(single), m.runCount(sweep)], notGrid: notGrid.body.optimizer.lr};
        })()""",
    )
    single = told["single"]
    assert single["kind"] == "run"
    assert single["body"]["model"] == {"arch": "mlp", "hidden": [800, 800], "dropout": 0}  # only the mlp's fields
    assert "name" not in single["body"] and "limit_train" not in single["body"] and "tags" not in single["body"]
    sweep = told["sweep"]
    assert sweep["kind"] == "sweep"
    assert sweep["body"]["name"] == "x" and "name" not in sweep["body"]["base"]
    assert sweep["body"]["grid"] == {"model.arch": ["mlp", "vgg"], "optimizer.lr": [0.1, 0.01]}
    assert sweep["body"]["base"]["model"]["blocks"] == "deep"  # vgg is among the values: its blocks apply
    assert told["counts"] == [{"n": 1, "factors": []}, {"n": 4, "factors": ["2 model.arch", "2 optimizer.lr"]}]
    assert told["notGrid"] == 0.1


def test_launch_form_maps_api_errors_to_fields_and_parses_text(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/launch/request.js",
        """(async () => {
          const f = await import('/static/js/views/launch/fields.js');
          return {
            fields: [
              m.fieldFor({loc: ['body', 'optimizer', 'lr']}), m.fieldFor({loc: ['body', 'base', 'model', 'hidden', 0]}),
              m.fieldFor({loc: ['body', 'grid', 'optimizer.lr', 1]}),
              m.fieldFor({loc: ['body'], msg: "Value error, model.arch 'vgg' takes model.blocks"}),
              m.fieldFor({loc: ['body'], msg: 'something else'}),
            ],
            message: m.errorMessage({msg: 'Value error, lr must be > 0'}),
            named: [m.errorMessage({msg: 'Input should be a valid integer', input: 'abc'}),
                    m.errorMessage({msg: 'Input should be greater than 0', input: -1}),
                    m.errorMessage({msg: 'Field required', input: {lr: 1}})],
            lists: [f.listText([1, 2]), f.listText(null)],
            spec: f.modelFromSpec({optimizer: {lr: 0.5}, model: {arch: 'cnn'}}, {batch_size: [32, 64]}),
            restored: f.restoredModel({bogus: [1], seed: [], epochs: [3]}),
          };
        })()""",
    )
    assert told["fields"] == ["optimizer.lr", "model.hidden", "optimizer.lr", "model.arch", None]
    assert told["message"] == "lr must be > 0"
    assert told["named"] == [
        "'abc': Input should be a valid integer",
        "-1: Input should be greater than 0",
        "Field required",  # no single value to name
    ]
    assert told["lists"] == ["1, 2", ""]
    assert told["spec"]["optimizer.lr"] == [0.5] and told["spec"]["model.arch"] == ["cnn"]
    assert told["spec"]["batch_size"] == [32, 64] and told["spec"]["epochs"] == [10]
    assert "bogus" not in told["restored"] and told["restored"]["seed"] == [0] and told["restored"]["epochs"] == [3]


def test_launch_form_checks_each_value_as_typed(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/launch/validate.js",
        """(async () => {
          const {FIELDS} = await import('/static/js/views/launch/fields.js');
          const f = (key) => FIELDS.find((x) => x.key === key);
          return {
            lr: m.parseNumberField(f('optimizer.lr'), '0.01, abc, -1', true),
            lrSingle: m.parseNumberField(f('optimizer.lr'), '0.1, 0.2', false),
            batch: m.parseNumberField(f('batch_size'), '32,,64', true),
            typing: m.parseNumberField(f('batch_size'), '32, 64,', true),
            whole: m.parseNumberField(f('epochs'), '2.5', false),
            blank: [m.parseNumberField(f('epochs'), ' ', false), m.parseNumberField(f('limit_train'), 'none', false)],
            patience: m.parseNumberField(f('early_stopping.patience'), 'none, 3', true),
            hidden: m.parseListField(f('model.hidden'), '800, abc', false),
            hiddenGrid: m.parseListField(f('model.hidden'), '800, 800 | | 1024 | 9000', true),
            tooMany: m.parseListField(f('model.hidden'), '1 2 3 4 5 6 7 8 9', false),
            schemes: m.parseListField(f('dropout_schemes'), '', false),
            blocks: [m.parseBlocks('16, 32 | 0', true), m.parseBlocks('', true), m.parseBlocks('', false)],
            tags: m.textProblems(f('tags'), ['ok', 'x'.repeat(70)]),
          };
        })()""",
    )
    assert told["lr"] == {"values": [0.01], "problems": ["'abc' is not a number", "-1: learning rate must be > 0"]}
    assert told["lrSingle"]["values"] == [] and "Grid search" in told["lrSingle"]["problems"][0]
    assert told["batch"] == {"values": [32, 64], "problems": ["empty value between commas"]}
    assert told["typing"] == {"values": [32, 64], "problems": []}  # a trailing comma: the next value is coming
    assert told["whole"]["problems"] == ["2.5 is not a whole number"]
    assert told["blank"] == [{"values": [], "problems": ["a value is needed"]}, {"values": [None], "problems": []}]
    assert told["patience"] == {"values": [None, 3], "problems": []}
    assert told["hidden"] == {"values": [], "problems": ["'abc' is not a whole number"]}
    assert told["hiddenGrid"] == {
        "values": [[800, 800], [1024]],
        "problems": ["empty alternative between '|'s", "9000: a hidden size must be ≤ 8192"],
    }
    assert told["tooMany"]["problems"] == ["hidden sizes: at most 8 (9 given)"]
    assert told["schemes"] == {"values": [[]], "problems": []}  # no dropout schemes: allowed
    assert told["blocks"][0] == {"lists": [[16, 32]], "problems": ["0: a filter count must be ≥ 1"]}
    assert told["blocks"][1] == {"lists": [], "problems": []} and told["blocks"][2]["problems"]
    assert told["tags"] == ["'xxxxxxxxxxxxxxxxxxxx…' is 70 characters; at most 64"]


def test_report_verdicts_need_a_margin_beyond_the_noise(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "report/verdict.js",
        """(() => {
          const one = m.margin([[2.10], [2.15]]);  // one run per setting: the stated tolerance
          const seeds = m.margin([[2.0, 2.4, 2.2], [3.0, 3.1, 2.9]]);  // three seeds each: 2 × the largest std
          return {
            tolerance: m.TOLERANCE_PP, one, seeds, rule: m.MARGIN_RULE,
            verdicts: [m.verdict(0.05, one.pp), m.verdict(5, one.pp), m.verdict(-5, one.pp), m.verdict(null, one.pp),
                       m.verdict(0.35, seeds.pp), m.verdict(0.45, seeds.pp)],
            note: m.verdictNote(m.verdict(0.05, one.pp), one),
            stats: m.meanStd([1, 2, 3]),
          };
        })()""",
    )
    assert told["tolerance"] == 1
    assert told["one"]["pp"] == 1 and "tolerance of 1 accuracy point" in told["one"]["rule"]
    assert told["seeds"]["pp"] == pytest.approx(0.4) and "2 × the largest std" in told["seeds"]["rule"]
    # a 0.05-point difference decides nothing; 5 points do, for or against the claim; no number: no verdict
    assert told["verdicts"] == ["inconclusive", True, False, None, "inconclusive", True]
    assert told["note"].startswith("inconclusive at this scale: within the margin of ±1.00 pp")
    assert told["note"].endswith("run the full scale")
    assert "TOLERANCE_PP" in told["rule"] and "inconclusive at this scale" in told["rule"]
    assert told["stats"] == {"mean": 2, "std": 1, "n": 3}


def test_sweep_facts_in_words(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/sweep/text.js",
        """[
          m.gridText({'optimizer.lr': [0.1, 0.01], seed: {min: 1, max: 10, log: true}}), m.gridText({}),
          m.methodText({method: 'random', n: 5, seed: 2}), m.methodText({}),
          m.ruleText(null), m.ruleText({method: 'asha', reduction_factor: 3, min_epochs: 2}),
          m.ruleText({method: 'median', min_peers: 4, min_epochs: 1}),
          m.baseText({dataset: 'mnist', model: {arch: 'mlp'}, epochs: 5, limit_train: 1000}), m.baseText({}),
          m.openRuns({queued: 1, running: 2, failed: 3}), m.openRuns(),
        ]""",
    )
    assert told == [
        "optimizer.lr ∈ {0.1, 0.01} × seed ~ log-uniform[1, 10]",
        "",
        "random, n = 5, seed 2",
        "grid (every combination)",
        "none",
        "successive halving, factor 3, from epoch 2",
        "median rule, ≥ 4 peers, from epoch 1",
        "mnist · mlp · 5 epochs · limit_train 1,000",
        "—",
        3,
        0,
    ]


def test_sweep_heatmap_axes_csv_and_stale_curves(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/sweep/text.js",
        """(() => {
          const data = {xAxis: {labels: ['=x', '2']}, yAxis: {labels: ['p', 'q']}, z: [[0.5, null], [0.25, 1]]};
          const curves = new Map([[1, {epoch: 2, status: 'running'}], [2, {epoch: 3, status: 'succeeded'}]]);
          const rows = [{run_id: 1, epoch: 3, status: 'running'}, {run_id: 2, epoch: 3, status: 'succeeded'},
                        {run_id: 3, epoch: 0, status: 'queued'}, {run_id: 4, epoch: 1, status: 'running'}];
          return {
            axes: [m.heatmapAxes(['a', 'b', 'c'], {}), m.heatmapAxes(['a', 'b'], {x: 'a', y: 'a'}),
                   m.heatmapAxes(['a'], {}), m.heatmapAxes(['a', 'b'], {x: 'zz', y: ''})],
            csv: [m.heatmapCsv(data, 'k'), m.heatmapCsv({xAxis: {labels: ['1']}, z: [[0.5]]}, '')],
            stale: m.staleCurves(rows, curves).map((r) => r.run_id),
          };
        })()""",
    )
    assert told["axes"] == [{"x": "c", "y": "a"}, {"x": "a", "y": ""}, {"x": "a", "y": ""}, {"x": "b", "y": ""}]
    assert told["csv"] == ["k,'=x,2\np,0.5000,\nq,0.2500,1.0000\n", ",1\nall,0.5000\n"]
    assert told["stale"] == [1, 4]  # moved on, or never read; not run 2 (unchanged) nor run 3 (no epoch yet)


FREE_RUNS = """[
  {id: 1, external: true, spec: {name: 'a', tags: ['t'], external: true},
   config: {lr: 0.01, optimizer: {name: 'adam', betas: [0.9, 0.999]}, name: 'a'}, summary: {best_acc: 0.9}},
  {id: 2, external: true, spec: {name: 'b', tags: [], external: true},
   config: {lr: 0.1, optimizer: {name: 'sgd'}, layers: 3}, summary: {best_acc: 0.7, note: 'ok'}},
  {id: 3, external: true, spec: {name: 'c', tags: [], external: true}, config: {lr: 0.001}, summary: null},
  {id: 4, spec: {dataset: 'mnist', model: {arch: 'mlp', hidden: [8], norm: 'batchnorm', blocks: 'deep'},
   optimizer: {name: 'sgd', lr: 0.1}}},
]"""


def test_runs_columns_any_config_or_summary_key(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/runs/columns.js",
        f"""(() => {{
          const runs = {FREE_RUNS};
          return {{
            keys: m.discoverKeys(runs),
            values: m.runValues(runs[0]),
            cells: [0.5, 0.00012345, 1234567, 42, 'adam', true, null, undefined, [0.9, 0.999], {{a: 1}}]
              .map(m.cellText),
            parsed: m.parseColumns('config.lr,,summary.best_acc,config.lr,bogus,name,summary.'),
            initial: [m.initialColumns({{cols: 'config.lr'}}, 'summary.x'), m.initialColumns({{}}, 'summary.x'),
                      m.initialColumns({{cols: ''}}, 'summary.x')],
            labels: [m.columnLabel('config.optimizer.lr'), m.columnLabel('summary.best_acc')],
            numeric: [m.numericColumn(runs, 'config.lr'), m.numericColumn(runs, 'config.optimizer.name')],
          }};
        }})()""",
    )
    assert told["keys"] == [
        "config.dataset",
        "config.layers",
        "config.lr",
        "config.model.arch",
        "config.model.hidden",  # the mlp's norm and blocks did not apply: no column offered
        "config.optimizer.betas",
        "config.optimizer.lr",
        "config.optimizer.name",
        "summary.best_acc",
        "summary.note",
    ]
    assert told["values"] == {
        "config.lr": 0.01,
        "config.optimizer.name": "adam",
        "config.optimizer.betas": [0.9, 0.999],
        "summary.best_acc": 0.9,
    }
    assert told["cells"] == ["0.5", "1.23e-4", "1,234,567", "42", "adam", "true", "—", "—", "[0.9,0.999]", '{"a":1}']
    assert told["parsed"] == ["config.lr", "summary.best_acc"]
    assert told["initial"] == [["config.lr"], ["summary.x"], []]
    assert told["labels"] == ["optimizer.lr", "best_acc"]
    assert told["numeric"] == [True, False]


def test_config_tree_and_legend_of_free_form_configs(page: Page, stack: Stack) -> None:
    tree = _run(
        page,
        stack,
        "views/run/config-tree.js",
        """m.configNodes({lr: 3e-4, opt: {name: 'adam', betas: [0.9, 0.999]}, empty: {}, none: null,
            long: Array.from({length: 30}, (_, i) => i), nested: [{a: 1}], text: '<b>x</b>'})""",
    )
    assert tree == [
        {"key": "lr", "path": "lr", "text": "0.0003"},
        {
            "key": "opt",
            "path": "opt",
            "size": "2 keys",
            "open": True,
            "children": [
                {"key": "name", "path": "opt.name", "text": "adam"},
                {"key": "betas", "path": "opt.betas", "text": "[0.9, 0.999]"},
            ],
        },
        {"key": "empty", "path": "empty", "text": "{}"},
        {"key": "none", "path": "none", "text": "null"},
        {
            "key": "long",
            "path": "long",
            "size": "30 items",
            "open": True,
            "children": [{"key": str(i), "path": f"long.{i}", "text": str(i)} for i in range(30)],
        },
        {
            "key": "nested",
            "path": "nested",
            "size": "1 item",
            "open": True,
            "children": [
                {
                    "key": "0",
                    "path": "nested.0",
                    "size": "1 key",
                    "open": True,
                    "children": [{"key": "a", "path": "nested.0.a", "text": "1"}],
                }
            ],
        },
        {"key": "text", "path": "text", "text": "<b>x</b>"},
    ]
    told = _run(
        page,
        stack,
        "spec.js",
        f"""(() => {{
          const runs = {FREE_RUNS};
          const free = runs.slice(0, 2).map(m.runConfig);
          const keys = m.differingKeys(free);
          const clash = ['a.lr', 'b.lr', 'optimizer.name'];
          return {{
            keys, labels: free.map((c) => m.diffLabel(c, keys)),
            clash: [...m.legendNames(clash).values()],
            shown: [m.shownConfig(runs[3]), m.shownConfig(runs[0]), m.runConfig({{spec: {{seed: 1}}}})],
          }};
        }})()""",
    )
    # "name" (the run's name) is not a hyperparameter even in a free-form config
    assert told["keys"] == ["optimizer.name", "layers", "lr", "optimizer.betas"]
    assert told["labels"] == [
        "optimizer=adam, layers=none, lr=0.01, betas=[0.9,0.999]",
        "optimizer=sgd, layers=3, lr=0.1, betas=none",
    ]
    assert told["clash"] == ["a.lr", "b.lr", "optimizer"]
    assert told["shown"] == [
        {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [8]}, "optimizer": {"name": "sgd", "lr": 0.1}},
        {"lr": 0.01, "optimizer": {"name": "adam", "betas": [0.9, 0.999]}, "name": "a"},
        {"seed": 1},
    ]


def test_key_sections_x_axis_mapping_media_index_and_compare_picker(page: Page, stack: Stack) -> None:
    series = _run(
        page,
        stack,
        "views/run/series.js",
        """({
          sections: ['train/loss', 'lr', 'system/gpu0/util', 'a/b/c', '/odd'].map(m.sectionOf),
          order: ['system', 'metrics', 'valid', 'train'].sort(m.compareSections),
          onX: m.onXKey({step: [0, 5, 10, 15, 30], value: [1, 2, 3, 4, 5]}, {step: [2, 10, 20], value: [0, 1, null]}),
          noX: m.onXKey({step: [1], value: [1]}, undefined),
        })""",
    )
    assert series["sections"] == ["train", "metrics", "system", "a", "metrics"]
    assert series["order"] == ["train", "valid", "metrics", "system"]
    # step 0: before the x key's first step; 5: between 2 (x 0) and 10 (x 1); 10: exact; 15: next to a null; 30: past
    assert series["onX"] == {"step": [0.375, 1], "value": [2, 3]}
    assert series["noX"] == {"step": [], "value": []}
    entries = _run(
        page,
        stack,
        "views/run/media.js",
        """m.mediaEntries([{step: 3, file: 'b.png', caption: 'late'}, {step: 1, file: 'a.png'},
            {step: 3, file: 'c.png', caption: 'again'}, {step: 2, file: '../x.png'}, {step: 'x', file: 'd.png'},
            null])""",
    )
    assert entries == [{"step": 1, "file": "a.png", "caption": ""}, {"step": 3, "file": "c.png", "caption": "again"}]
    groups = _run(
        page, stack, "views/compare/picker.js", "m.pickerGroups(['valid/acc', 'loss', 'lr', 'train/loss', 'test_acc'])"
    )
    assert groups == [
        ["Per epoch", ["test_acc"]],
        ["Per iteration", ["loss"]],
        ["train", ["train/loss"]],
        ["valid", ["valid/acc"]],
        ["metrics", ["lr"]],
    ]


def test_command_line_splits_like_a_shell_and_fills_placeholders(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "command.js",
        r"""(() => {
          const line = String.raw`python train.py --lr {lr}  --name "my run" 'a b' it\'s "" "say \"hi\" \\ \n"`;
          const split = m.splitCommand(line);
          return {
            split,
            again: m.splitCommand(m.joinCommand(split.argv)).argv,
            joined: m.joinCommand(['python', 'train.py', '--lr={lr}', 'two words', "it's", '']),
            unclosed: m.splitCommand('python "unclosed'),
            trailing: m.splitCommand('python \\'),
            empty: m.splitCommand('   '),
            keys: m.placeholderKeys(['--lr={lr}', '{optimizer.lr}', '{lr}', '{ x }', '{}', '{data-dir}/x']),
            missing: m.missingPlaceholders(['{lr}', '{opt.lr}', '{epochs}'], {lr: 0.1, opt: {lr: 1}}),
            filled: m.fillCommand(['--lr', '{lr}', '--flag={on}', '{list}', '{opt.name}', '{gone}'],
                                  {lr: 0.1, on: true, list: [1, 2], opt: {name: 'adam'}}),
            labels: [['python', 'train.py', '--lr', '0.1'], ['torchrun', '--nproc-per-node', '2', 'src/train.py'],
                     ['python', '-m', 'pkg.train'], ['/usr/local/bin/my-trainer', '--x'], []].map(m.commandLabel),
          };
        })()""",
    )
    assert told["split"] == {
        "argv": ["python", "train.py", "--lr", "{lr}", "--name", "my run", "a b", "it's", "", 'say "hi" \\ \\n'],
        "problems": [],
    }
    assert told["again"] == told["split"]["argv"]  # what the form shows for a cloned run splits back the same
    assert told["joined"] == "python train.py --lr={lr} 'two words' 'it'\"'\"'s' ''"
    assert told["unclosed"] == {
        "argv": ["python", "unclosed"],
        "problems": ['the " opened at character 8 is not closed'],
    }
    assert told["trailing"]["problems"] == ["a \\ at the end escapes nothing"]
    assert told["empty"] == {"argv": [], "problems": ["a command is needed, e.g. python train.py --lr {lr}"]}
    assert told["keys"] == ["lr", "optimizer.lr", "data-dir"]
    assert told["missing"] == ["{epochs} is not in the config"]
    assert told["filled"] == ["--lr", "0.1", "--flag=true", "[1,2]", "adam", "{gone}"]
    assert told["labels"] == ["train.py", "train.py", "python -m pkg.train", "my-trainer", "—"]


def test_command_config_rows_json_and_grid(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "views/launch/command-model.js",
        r"""(() => {
          const row = (key, text) => ({key, text});
          const config = {lr: 0.1, opt: {name: 'adam'}, s: '0.5', t: 'plain text', layers: [64, 32], on: false};
          const model = {...m.defaultCommandModel(), name: ['cmd'], tags: [['a']], device: ['cuda'], gpus: [2]};
          const gridModel = {...model, rows: [row('lr', '0.1, 0.01'), row('epochs', '1, 2')]};
          return {
            single: m.configFromRows([row('lr', '0.1'), row('opt.name', 'adam'), row('layers', '[64, 32]'),
                                      row('flag', 'true'), row('s', '"0.5"'), row('', ''), row('w', 'a, b')], false),
            grid: m.configFromRows([row('lr', '0.1, 0.01'), row('layers', '[64, 32], [8]'), row('n', '"a,b", c')],
                                   true),
            bad: m.configFromRows([row('', '3'), row('a..b', '1'), row('lr', '1'), row('lr', '2'), row('x', ''),
                                   row('o', '1'), row('o.p', '2'), row('e', '1,,2')], true),
            rows: m.rowsFromConfig(config),
            back: m.configFromRows(m.rowsFromConfig(config), true).config,
            gridRows: m.rowsFromConfig({lr: 0.1}, {lr: [0.1, 0.01], tag: ['a,b', 'c']}),
            json: [m.parseConfigJson('[1]'), m.parseConfigJson('{"lr": '), m.parseConfigJson(' ')],
            run: m.commandRequest(model, false),
            sweep: m.commandRequest(gridModel, true),
            gridOff: m.commandRequest(gridModel, false).kind,
            first: m.firstValues([row('lr', '0.1, 0.01'), row('l', '[1, 2]')]),
            missing: m.commandState({...model, command: 'python t.py {lr} {batch}', rows: [row('lr', '1')]},
                                    false).problems,
            fields: [m.commandFieldFor({loc: ['body', 'command', 2]}),
                     m.commandFieldFor({loc: ['body', 'base', 'config']}),
                     m.commandFieldFor({loc: ['body', 'grid', 'lr']}), m.commandFieldFor({loc: ['body', 'gpus']}),
                     m.commandFieldFor({loc: ['body']})],
            cloned: m.commandModelFromRun({name: 'r', command: ['python', 'train.py', 'two words', '{lr}'],
                                           config: {lr: 0.1}, gpus: 2, queue: 'cmd-cuda-2gpus'}),
          };
        })()""",
    )
    assert told["single"] == {
        "config": {"lr": 0.1, "opt": {"name": "adam"}, "layers": [64, 32], "flag": True, "s": "0.5", "w": "a, b"},
        "grid": {},
        "problems": [],
    }
    assert told["grid"] == {
        "config": {"lr": 0.1, "layers": [64, 32], "n": "a,b"},
        "grid": {"lr": [0.1, 0.01], "layers": [[64, 32], [8]], "n": ["a,b", "c"]},
        "problems": [],
    }
    assert told["bad"]["problems"] == [
        "a key is needed for the value '3'",
        "'a..b' is not a dotted key (letters, digits, _ and -, parts joined by dots)",
        "'lr' is given twice",
        'x: a value is needed (write "" for an empty string)',
        "e: empty value between commas",
        "'o.p' is inside 'o', which has a value of its own",
    ]
    assert told["rows"] == [
        {"key": "lr", "text": "0.1"},
        {"key": "opt.name", "text": "adam"},
        {"key": "s", "text": '"0.5"'},  # a string that reads as a number keeps its quotes
        {"key": "t", "text": "plain text"},
        {"key": "layers", "text": "[64,32]"},
        {"key": "on", "text": "false"},
    ]
    assert told["back"] == {
        "lr": 0.1,
        "opt": {"name": "adam"},
        "s": "0.5",
        "t": "plain text",
        "layers": [64, 32],
        "on": False,
    }
    assert told["gridRows"] == [{"key": "lr", "text": "0.1, 0.01"}, {"key": "tag", "text": '"a,b", c'}]
    assert told["json"][0]["problems"] == ['the config must be a JSON object, e.g. {"lr": 0.1}']
    assert told["json"][1]["problems"][0].startswith("the JSON does not parse: ")
    assert told["json"][2] == {"config": {}, "problems": []}
    command = ["python", "train.py", "--lr", "{lr}", "--epochs", "{epochs}"]
    assert told["run"] == {
        "kind": "run",
        "body": {
            "name": "cmd",
            "command": command,
            "config": {"lr": 0.1, "epochs": 3},
            "device": "cuda",
            "gpus": 2,
            "tags": ["a"],
        },
    }
    assert told["sweep"] == {
        "kind": "sweep",
        "body": {
            "name": "cmd",
            "base": {
                "command": command,
                "config": {"lr": 0.1, "epochs": 1},
                "device": "cuda",
                "gpus": 2,
                "tags": ["a"],
            },
            "grid": {"lr": [0.1, 0.01], "epochs": [1, 2]},
        },
    }
    assert told["gridOff"] == "run"  # grid mode off: "0.1, 0.01" is one text value, not a grid
    assert told["first"] == [{"key": "lr", "text": "0.1"}, {"key": "l", "text": "[1, 2]"}]
    assert told["missing"] == {"command": ["{batch} is not in the config"], "config": []}
    assert told["fields"] == ["command", "config", "config", "gpus", None]
    cloned = told["cloned"]
    assert cloned["command"] == "python train.py 'two words' {lr}" and cloned["rows"] == [{"key": "lr", "text": "0.1"}]
    assert cloned["name"] == ["r copy"] and cloned["gpus"] == [2] and cloned["device"] == ["cuda"]


def test_command_capacity_warning_needs_a_worker_with_code(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "workers.js",
        """(() => {
          const q = (name, workers) => ({name, workers, queued: 0});
          const plain = {online: 1, queues: [q('any', 1), q('cpu', 1)]};
          const cpuCode = {online: 2, queues: [q('any', 2), q('cpu', 2), q('cmd-any', 1), q('cmd-cpu', 1)]};
          return [m.commandCapacityWarning(plain, ['auto']), m.commandCapacityWarning(cpuCode, ['cuda']),
                  m.commandCapacityWarning(cpuCode, ['auto']),
                  m.commandCapacityWarning({online: 0, queues: []}, ['cpu'])];
        })()""",
    )
    assert told[0].startswith("No online worker runs commands: this run will wait in the queue until one starts")
    assert "trainboard worker --code DIR" in told[0]
    assert told[1] == (
        "No online worker runs commands on cuda: this run will wait in the queue until one starts"
        " (trainboard worker --code DIR --device cuda)."
    )
    assert told[2] == ""
    assert told[3] == told[0]


def test_a_workers_devices_name_the_gpus_it_schedules(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "workers.js",
        """[m.devicesText({devices: ['cpu']}),
            m.devicesText({devices: ['cpu', 'cuda'], gpus: ['0: NVIDIA H200', '2: NVIDIA H200']}),
            m.devicesText({devices: ['cpu', 'cuda'], gpus: ['1: A100']}),
            m.devicesText({devices: ['cpu', 'cuda'], gpus: ['NVIDIA H200', 'NVIDIA H200']})]""",
    )
    assert told == [
        "cpu",
        "cpu, cuda · 2 × NVIDIA H200 (GPUs 0, 2)",
        "cpu, cuda · A100 (GPU 1)",
        "cpu, cuda · 2 × NVIDIA H200",
    ]


def test_a_workers_multi_gpu_queues_read_as_one_range(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "workers.js",
        """(() => {
          const base = ['any', 'cuda', 'cmd-any', 'cmd-cuda'];
          const upTo = (n) => [...base, ...Array.from({length: n - 1}, (_, i) => `cmd-cuda-${i + 2}gpus`)];
          return [m.queuesText(upTo(8)), m.queuesText(upTo(2)), m.queuesText(['any', 'cpu']),
                  m.queuesText([...base, 'cmd-cuda-2gpus', 'cmd-cuda-4gpus'])];
        })()""",
    )
    assert told == [
        "any, cuda, cmd-any, cmd-cuda, cmd-cuda-2…8gpus",
        "any, cuda, cmd-any, cmd-cuda, cmd-cuda-2gpus",
        "any, cpu",
        "any, cuda, cmd-any, cmd-cuda, cmd-cuda-2gpus, cmd-cuda-4gpus",  # not a range: every name
    ]


def test_a_command_run_asking_for_more_gpus_than_any_worker_has_is_warned_about(page: Page, stack: Stack) -> None:
    told = _run(
        page,
        stack,
        "workers.js",
        """(() => {
          const w = (gpus, online = true, queues = ['any', 'cuda', 'cmd-any', 'cmd-cuda']) => ({online, queues, gpus});
          const two = {workers: [w(['0: H200', '1: H200']), w(['0: A', '1: A', '2: A', '3: A'], false)]};
          return [m.gpuCapacityWarning(two, 2), m.gpuCapacityWarning(two, 0), m.gpuCapacityWarning(two, 4),
                  m.gpuCapacityWarning({workers: [w(['0: A'], true, ['any', 'cuda'])]}, 1)];
        })()""",
    )
    assert told[0] == told[1] == ""
    assert told[2].startswith("No online worker that runs commands has 4 GPUs (the most any has is 2): this run will")
    assert "trainboard worker --device cuda --gpus 0,1,… --code DIR" in told[2]
    assert "(none runs commands on cuda)" in told[3]
