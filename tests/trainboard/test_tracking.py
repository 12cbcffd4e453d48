"""The tracking client (`start_run(client, spec)` → `TrackedRun`) against a real `trainboard api` process."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.utils.stack import Stack, api_only_stack, free_port
from trainboard import Client, start_run
from trainboard.client import ApiError
from trainboard.tracking import TrackedRun, TrackingError

stack = api_only_stack("tracking")


@pytest.fixture
def client(stack: Stack) -> Iterator[Client]:
    with stack.api_client() as client:
        yield client


def series(client: Client, run_id: int) -> dict[str, dict[str, list]]:
    return client.metrics(run_id)


def assert_exactly_once(data: dict[str, list], steps: range) -> None:
    assert data["step"] == list(steps), "every step stored once, in order"


def test_points_arrive_exactly_once_and_the_outcome_is_reported(client: Client) -> None:
    with start_run(client, {"name": "tracked", "tags": ["script"]}) as run:
        assert isinstance(run, TrackedRun)
        for step in range(2500):  # several full batches and a partial one
            run.log(step=step, loss=1.0 / (step + 1), acc=step / 2500)
        run.log_dict(2500, {"valid/acc": 0.75})
        run.summary["best_valid_acc"] = 0.75

    stored = client.get_run(run.id)
    assert stored["external"] is True
    assert stored["spec"]["name"] == "tracked" and stored["spec"]["tags"] == ["script"]
    assert stored["status"] == "succeeded"
    assert stored["summary"] == {"best_valid_acc": 0.75}
    assert stored["error"] is None

    data = series(client, run.id)
    assert sorted(data) == ["acc", "loss", "valid/acc"]
    assert_exactly_once(data["loss"], range(2500))
    assert_exactly_once(data["acc"], range(2500))
    assert data["loss"]["value"][9] == pytest.approx(0.1)
    assert data["valid/acc"] == {"step": [2500], "value": [0.75]}
    assert run.sent == 5001 and run.pending == 0 and run.dropped == 0


def test_finish_reports_status_and_summary_and_the_first_value_of_a_step_wins(client: Client) -> None:
    run = start_run(client, {"name": "explicit finish"}, flush_every_s=0.05)
    run.log(step=0, loss=2.0)
    assert run.flush(timeout=10)
    run.log(step=0, loss=99.0)  # the same (key, step) again: a retry, not a new point
    run.log(step=1, loss=float("nan"), acc=None)  # not numbers JSON can carry: stored as null
    run.log(step=2, loss=math.inf)
    result = run.finish("succeeded", summary={"n_params": 10, "duration_s": 1.5})

    assert result["status"] == "succeeded"
    assert result["summary"] == {"n_params": 10, "duration_s": 1.5}
    data = series(client, run.id)
    assert data["loss"] == {"step": [0, 1, 2], "value": [2.0, None, None]}
    assert data["acc"] == {"step": [1], "value": [None]}
    with pytest.raises(RuntimeError, match="finished"):
        run.log(step=3, loss=1.0)


def test_an_exception_in_the_block_marks_the_run_failed_with_its_text(client: Client) -> None:
    # The block's own exception still propagates.
    with pytest.raises(ValueError, match="loss diverged"), start_run(client, {"name": "crashes"}) as run:
        for step in range(10):
            run.log(step=step, loss=float(step))
        raise ValueError("loss diverged at step 9")

    stored = client.get_run(run.id)
    assert stored["status"] == "failed"
    assert "ValueError: loss diverged at step 9" in stored["error"]
    assert "Traceback" in stored["error"]
    assert_exactly_once(series(client, run.id)["loss"], range(10))  # what was logged before the crash is kept


def test_points_logged_while_the_api_is_down_arrive_once_after_it_returns(stack: Stack, client: Client) -> None:
    run = start_run(client, {"name": "outage"}, flush_every_s=0.1)
    for step in range(1500):
        run.log(step=step, loss=float(step))
    assert run.flush(timeout=20)

    stack.stop("api")
    for step in range(1500, 4000):  # log() never blocks, whether or not the API answers
        run.log(step=step, loss=float(step), acc=0.5)
    assert not run.flush(timeout=1.0), "nothing can be acknowledged while the API is down"
    assert run.pending > 0

    stack.start("api", "api")
    stack.wait_healthy()
    result = run.finish("succeeded", summary={"best_valid_acc": 0.5}, timeout=60)

    assert result["status"] == "succeeded"
    data = series(client, run.id)
    assert_exactly_once(data["loss"], range(4000))
    assert data["loss"]["value"][-1] == 3999.0
    assert_exactly_once(data["acc"], range(1500, 4000))
    assert run.pending == 0 and run.dropped == 0


def test_finish_gives_up_after_its_timeout_and_says_how_much_was_lost() -> None:
    nobody = Client(f"http://127.0.0.1:{free_port()}", token="")  # no API listens there
    run = TrackedRun(nobody, {"id": 1, "status": "running"})
    run.log(step=0, loss=1.0)
    run.log(step=1, loss=1.0, acc=0.5)
    with pytest.raises(TrackingError, match="3 points not delivered.*status 'succeeded' not reported"):
        run.finish(timeout=0.5)
    assert run.pending == 3 and run.sent == 0


def test_bad_input_is_refused_at_the_call_naming_the_problem(client: Client) -> None:
    with start_run(client, {"name": "bad input"}) as run:
        with pytest.raises(ValueError, match="metric key 'bad key'"):
            run.log_dict(0, {"bad key": 1.0})
        with pytest.raises(TypeError, match="step must be an int"):
            run.log(step=1.0, loss=1.0)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="step must be between"):
            run.log(step=-1, loss=1.0)
        with pytest.raises(TypeError, match="'acc': a value must be a number"):
            run.log(step=0, loss=1.0, acc="high")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="at least one metric"):
            run.log(step=0)
        run.log(step=0, loss=1.0)  # a refused call left nothing behind: loss at step 0 is free
    assert series(client, run.id) == {"loss": {"step": [0], "value": [1.0]}}
    with pytest.raises(ValueError, match="max_batch"):
        start_run(client, {"name": "never created"}, max_batch=5000)
    with pytest.raises(ApiError, match=r"HTTP 422: .*dataset") as refused:
        start_run(client, {"dataset": "imagenet"})
    assert refused.value.status_code == 422


def test_a_run_cancelled_from_the_dashboard_is_seen_by_the_script(client: Client) -> None:
    run = start_run(client, {"name": "cancel me"}, flush_every_s=0.05)
    client.cancel(run.id)
    run.log(step=0, loss=1.0)
    assert run.flush(timeout=10)
    assert run.cancelled
    result = run.finish("succeeded")
    assert result["status"] == "cancelled"  # a cancelled run stays cancelled


def test_a_script_that_exits_without_finishing_still_delivers_and_is_marked_failed(
    stack: Stack, client: Client
) -> None:
    script = (
        "import sys\n"
        "from trainboard import Client, start_run\n"
        f"run = start_run(Client({stack.url!r}, token=''), {{'name': 'forgot finish'}})\n"
        "for step in range(1500):\n"
        "    run.log(step=step, loss=0.1)\n"
        "print(run.id)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    run_id = int(done.stdout.strip())
    stored = client.get_run(run_id)
    assert stored["status"] == "failed"
    assert "without finishing the run" in stored["error"]
    assert_exactly_once(series(client, run_id)["loss"], range(1500))


def test_the_client_and_start_run_are_exported_and_start_run_works_without_a_spec(stack: Stack) -> None:
    import trainboard

    with trainboard.Client(stack.url, token="") as client:
        with trainboard.start_run(client) as run:
            run.log(step=1, loss=0.5)
        assert client.get_run(run.id)["status"] == "succeeded"
