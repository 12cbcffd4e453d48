"""What a script prints goes to its run's log (`OutputCapture`), and still to its terminal, against a real API."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from tests.utils.stack import REPO, Stack, api_only_stack, free_port
from trainboard.client import Client
from trainboard.output_capture import LineSplitter, LogSender, OutputCapture

stack = api_only_stack("capture")


@pytest.fixture
def client(stack: Stack) -> Iterator[Client]:
    with stack.api_client() as client:
        yield client


def _script_run(client: Client) -> tuple[int, Client]:
    """An external run, and a client holding its lease (what `trainboard.init` hands the capture)."""
    run = client.create_run({"external": True, "name": "printing script"})
    return int(run["id"]), Client(client.url, token="", lease=run["lease"])


def _log(client: Client, run_id: int) -> list[str]:
    return client.request("GET", f"/runs/{run_id}/logs", params={"limit": 10_000})["lines"]  # type: ignore[no-any-return]


def test_the_terminal_shows_exactly_what_it_did_and_the_log_gets_every_line(client: Client) -> None:
    run_id, writer = _script_run(client)
    script = textwrap.dedent(
        f"""
        import sys
        from trainboard.client import Client
        from trainboard.output_capture import OutputCapture

        capture = OutputCapture(Client({client.url!r}, token="", lease={writer.lease!r}), {run_id}).start()
        print("epoch 1: loss=0.50")
        print("ünïcode ✓ <b>bold</b>", file=sys.stderr)
        for percent in (10, 50, 100):
            sys.stderr.write(f"\\rtraining {{percent}}%")
        sys.stderr.write("\\n")
        print("a", "b", sep=", ", end="!\\n")
        sys.stdout.write("no newline at the end")
        assert capture.close(timeout=30)
        print("after close: terminal only")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode() == "epoch 1: loss=0.50\na, b!\nno newline at the endafter close: terminal only\n"
    assert done.stderr.decode() == "ünïcode ✓ <b>bold</b>\n\rtraining 10%\rtraining 50%\rtraining 100%\n"
    assert _log(client, run_id) == [
        "epoch 1: loss=0.50",
        "ünïcode ✓ <b>bold</b>",
        "training 100%",  # the progress bar's last state, not each redraw
        "a, b!",
        "no newline at the end",  # a partial line is sent at close
    ]


def test_it_wraps_a_stream_already_replaced_and_puts_it_back(client: Client, capsys: pytest.CaptureFixture) -> None:
    run_id, writer = _script_run(client)
    replaced = sys.stdout  # pytest's capture: the capture must pass text on to it
    capture = OutputCapture(writer, run_id).start()
    assert sys.stdout is not replaced
    for n in range(1_200):  # several batches
        print(f"line {n}")
    assert capture.close(timeout=30)
    assert sys.stdout is replaced
    assert capsys.readouterr().out == "".join(f"line {n}\n" for n in range(1_200))
    assert _log(client, run_id) == [f"line {n}" for n in range(1_200)]


def test_lines_printed_from_four_threads_arrive_whole_and_each_threads_in_order(client: Client) -> None:
    run_id, writer = _script_run(client)
    switch = sys.getswitchinterval()
    capture = OutputCapture(writer, run_id).start()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can: between a print's text and its newline

    together = threading.Barrier(4)

    def chatter(name: str) -> None:
        together.wait()
        for n in range(300):
            print(f"{name} {n}")  # print writes the text and its newline separately: threads interleave

    threads = [threading.Thread(target=chatter, args=(f"thread{t}",)) for t in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert capture.close(timeout=30)

    lines = _log(client, run_id)
    assert len(lines) == 1_200
    for t in range(4):
        assert [line for line in lines if line.startswith(f"thread{t} ")] == [f"thread{t} {n}" for n in range(300)]


def test_lines_printed_while_the_api_is_down_arrive_once_it_is_back(stack: Stack, client: Client) -> None:
    run_id, writer = _script_run(client)
    capture = OutputCapture(writer, run_id, flush_every_s=0.1).start()
    print("before the outage")
    time.sleep(0.5)
    stack.stop("api")
    try:
        for n in range(2_000):
            print(f"during the outage {n}")  # print never waits for the API
        time.sleep(3)
    finally:
        stack.start("api", "api")
        stack.wait_healthy()
    print("after the outage")
    assert capture.close(timeout=60)
    assert capture.sender is not None and capture.sender.dropped == 0
    assert _log(client, run_id) == [
        "before the outage",
        *(f"during the outage {n}" for n in range(2_000)),
        "after the outage",
    ]


def test_beyond_its_bound_the_sender_drops_the_oldest_and_says_so_once(client: Client) -> None:
    said: list[str] = []
    nobody = Client(f"http://127.0.0.1:{free_port()}", token="", lease="x")  # no API listens there
    sender = LogSender(nobody, 1, max_pending=100, say=said.append)
    sender.add_lines(f"line {n}" for n in range(250))
    sender.add_lines(["one more"])
    assert sender.dropped >= 151 and sender.pending <= 100 + 500
    assert len([s for s in said if "dropped" in s]) == 1
    assert not sender.close(timeout=0.5)
    assert "not delivered" in said[-1]


def test_a_gap_from_dropped_lines_is_marked_in_the_log(stack: Stack, client: Client) -> None:
    run_id, writer = _script_run(client)
    said: list[str] = []
    stack.stop("api")
    try:
        sender = LogSender(writer, run_id, max_pending=10, say=said.append)
        sender.add_lines(f"line {n}" for n in range(25))
    finally:
        stack.start("api", "api")
        stack.wait_healthy()
    assert sender.close(timeout=60)
    assert _log(client, run_id) == ["[trainboard: 15 lines dropped here: the API was unreachable]"] + [
        f"line {n}" for n in range(15, 25)
    ]


def test_a_progress_bar_keeps_only_its_last_state_however_long_it_runs() -> None:
    emitted: list[str] = []
    lines = LineSplitter(emitted.extend)
    for step in range(10_000):
        lines.feed(f"\r{step / 100:.0f}% |{'#' * (step // 500)}")
    lines.feed("\r\n")
    lines.feed("done\r\n")  # Windows line ends
    assert emitted == [f"100% |{'#' * 19}", "done"]
