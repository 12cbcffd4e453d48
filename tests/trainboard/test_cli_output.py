"""What the CLI prints, without a server: numbers, the `ls` table and `watch`'s pacing."""

from __future__ import annotations

from trainboard.cli_output import RunWatch, format_number, runs_table


def test_numbers_read_like_numbers() -> None:
    cases: dict[object, str] = {
        0.777999997138977: "0.778",
        0.06303445994853973: "0.06303",
        1.0: "1",
        123.456789: "123.5",
        12345.678: "12346",
        2.5e-07: "2.5e-07",
        3e20: "3e+20",
        float("nan"): "nan",
        None: "nan",
        42: "42",
        "baseline": "baseline",
    }
    assert {value: format_number(value) for value in cases} == cases
    assert format_number(True) == "true"


def test_ls_lists_each_runs_own_summary_and_fits_the_terminal() -> None:
    runs = [
        {"id": 1, "name": "report run", "status": "succeeded", "epoch": 2, "summary": {"best_valid_acc": 0.91234}},
        {"id": 12, "name": "my script", "status": "running", "epoch": 0, "summary": {"f1": {"macro": 0.5}}},
        {"id": 13, "name": "queued one", "status": "queued", "epoch": 0, "summary": None},
    ]
    assert runs_table(runs) == [
        "   id  status     epoch  name        summary",
        "    1  succeeded      2  report run  best_valid_acc 0.9123",
        "   12  running        0  my script   f1.macro 0.5",
        "   13  queued         0  queued one  -",
    ]
    assert [len(line) for line in runs_table(runs, width=40)] == [40, 40, 40, 38]


def test_watch_prints_a_runs_own_keys_at_a_readable_pace() -> None:
    lines: list[str] = []
    now = [0.0]
    watch = RunWatch(7, external=True, write=lines.append, every_s=2.0, clock=lambda: now[0])
    watch.metrics(
        {"seq": 3, "train/loss": {"step": [1, 2], "value": [0.5, 0.4444444]}, "lr": {"step": [2], "value": [0.1]}}
    )
    assert lines == ["[run 7] step 2  lr 0.1  train/loss 0.4444"]
    now[0] = 1.0
    watch.metrics({"train/loss": {"step": [3], "value": [0.3]}})
    watch.metrics({"train/loss": {"step": [4], "value": [0.25]}, "epoch": {"step": [4], "value": [1.0]}})
    assert len(lines) == 1, "held back for two seconds"
    now[0] = 2.5
    watch.metrics({"train/loss": {"step": [5], "value": [0.2]}})
    assert lines[1:] == ["[run 7] step 4  epoch 1", "[run 7] step 5  train/loss 0.2"]
    now[0] = 3.0
    watch.metrics({"lr": {"step": [6], "value": [0.01]}})
    watch.status({"status": "succeeded", "epoch": 1, "progress": 1.0})
    assert lines[3:] == ["[run 7] step 6  lr 0.01", "[run 7] succeeded epoch 1 progress 100 %"], "no value is lost"


def test_watch_prints_a_built_in_runs_report_keys_one_line_an_epoch() -> None:
    lines: list[str] = []
    watch = RunWatch(3, external=False, write=lines.append)
    watch.metrics(
        {"valid_acc": {"step": [1, 2], "value": [0.9, 0.95]}, "train_loss": {"step": [1, 2], "value": [0.3, 0.2]}}
    )
    assert lines == [
        "[run 3] epoch 1  train_loss 0.3  valid_acc 0.9",
        "[run 3] epoch 2  train_loss 0.2  valid_acc 0.95",
    ]
