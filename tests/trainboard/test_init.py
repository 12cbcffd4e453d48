"""`trainboard.init()`, the five-line API, against a real `trainboard api` process (SQLite, then Postgres)."""

from __future__ import annotations

import argparse
import enum
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import trainboard
from tests.conftest import _truncate
from tests.utils.stack import REPO, Stack, running_stack
from trainboard import Client
from trainboard.client import ApiError
from trainboard.tracking import TrackedRun


class Optimizer(enum.Enum):
    SGD = "sgd"
    ADAM = "adam"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env: dict[str, str] = {}
    if request.param == "postgres":
        url = request.getfixturevalue("migrated_postgres")
        _truncate(url)
        env["DATABASE_URL"] = url
    with running_stack(tmp_path_factory.mktemp(f"init-{request.param}"), workers=0, extra_env=env) as stack:
        yield stack


@pytest.fixture
def client(stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Client]:
    """The API found from the environment, as a user's script finds it; the working directory is a fresh folder."""
    for name in ("TRAINBOARD_TOKEN", "TRAINBOARD_RUN_ID", "TRAINBOARD_LEASE", "TRAINBOARD_SYSTEM_METRICS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRAINBOARD_API_URL", stack.url)
    monkeypatch.chdir(tmp_path)
    with stack.api_client() as client:
        yield client


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "not seen in time"
        time.sleep(0.05)
    return result


def artifacts(client: Client, run_id: int) -> dict[str, int]:
    return {item["name"]: item["size"] for item in client.request("GET", f"/runs/{run_id}/artifacts")}


def png(client: Client, run_id: int, name: str) -> Image.Image:
    data = client.request("GET", f"/runs/{run_id}/artifacts/{name}")
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


def media_index(client: Client, run_id: int) -> dict[str, list[dict[str, Any]]]:
    return client.request("GET", f"/runs/{run_id}/artifacts/media.json")  # type: ignore[no-any-return]


def test_the_five_lines_track_a_script_end_to_end(client: Client, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--data", type=Path, default=Path("data/mnist"))
    args = parser.parse_args([])
    args.optimizer = Optimizer.ADAM
    args.layers = (64, 32)
    (tmp_path / "model.pt").write_bytes(b"weights v1")

    run = trainboard.init(name="cnn lr sweep", config=vars(args), tags=["mine"])
    stored = client.get_run(run.id)
    assert stored["name"] == "cnn lr sweep" and stored["spec"]["tags"] == ["mine"] and stored["status"] == "running"
    assert stored["config"] == {"lr": 0.1, "data": "data/mnist", "optimizer": "ADAM", "layers": [64, 32]}

    for it in range(3):
        run.log({"train/loss": 1.0 / (it + 1), "lr": 0.1}, step=it * 10)
    run.log({"valid/acc": 0.5})  # no step: the one after the last call's
    run.log({"valid/acc": 0.75})
    run.config["lr"] = 0.05  # sent from the background thread while the run lives
    run.config.update({"schedule": {"gamma": 0.9}})
    wait_for(lambda: client.get_run(run.id)["config"].get("schedule") == {"gamma": 0.9})
    assert client.get_run(run.id)["config"]["lr"] == 0.05
    run.summary["best_acc"] = 0.75
    image = run.log_image("samples", np.zeros((8, 6, 3), dtype=np.float32), caption="inputs")
    assert run.save("model.pt") == "model.pt"
    (tmp_path / "model.pt").write_bytes(b"overwritten after save")  # save() took a copy
    assert not run.should_stop
    result = run.finish()

    assert result["status"] == "succeeded" and result["summary"] == {"best_acc": 0.75}
    data = client.metrics(run.id)
    assert data["train/loss"]["step"] == [0, 10, 20] and data["lr"]["value"] == [0.1] * 3
    assert data["valid/acc"] == {"step": [21, 22], "value": [0.5, 0.75]}
    assert image == "media-samples-000000022.png"  # at the step of the last log()
    assert media_index(client, run.id) == {"samples": [{"step": 22, "file": image, "caption": "inputs"}]}
    assert png(client, run.id, image).size == (6, 8)
    (tmp_path / "model.pt").unlink()
    restored = run.restore("model.pt")
    assert restored == tmp_path / "model.pt" and restored.read_bytes() == b"weights v1"


def test_log_image_takes_arrays_pil_images_paths_and_tensors(client: Client, tmp_path: Path) -> None:
    Image.new("RGB", (5, 4), (255, 0, 0)).save(tmp_path / "red.jpg")
    with trainboard.init(name="images", system_metrics=False) as run:
        grey = np.full((4, 7), 255, dtype=np.uint8)
        names = [
            run.log_image("train/samples", grey, step=12, caption="grey"),
            run.log_image("train/samples", Image.new("RGBA", (3, 2)), step=13),
            run.log_image("photos:raw", tmp_path / "red.jpg", step=1, caption="a path"),
            run.log_image("chw", np.ones((3, 4, 5), dtype=np.float64), step=0),
        ]
        with pytest.raises(ValueError, match="image key 'bad key'"):
            run.log_image("bad key", grey)
        with pytest.raises(ValueError, match="channels"):
            run.log_image("odd", np.zeros((5, 6, 7)))
    assert names == [
        "media-train.samples-000000012.png",
        "media-train.samples-000000013.png",
        "media-photos_raw-000000001.png",
        "media-chw-000000000.png",
    ]
    index = media_index(client, run.id)
    assert index["train/samples"] == [
        {"step": 12, "file": names[0], "caption": "grey"},
        {"step": 13, "file": names[1], "caption": None},
    ]
    assert index["photos:raw"] == [{"step": 1, "file": names[2], "caption": "a path"}]
    assert png(client, run.id, names[0]).size == (7, 4)
    assert png(client, run.id, names[1]).mode == "RGBA"
    assert png(client, run.id, names[2]).convert("RGB").getpixel((2, 2))[0] > 200  # red survived
    chw = png(client, run.id, names[3])
    assert chw.size == (5, 4) and chw.getpixel((0, 0)) == (255, 255, 255)


def test_a_torch_batch_becomes_one_grid_image(client: Client) -> None:
    torch = pytest.importorskip("torch")
    with trainboard.init(name="tensor", system_metrics=False) as run:
        run.log({"loss": 1.0}, step=4)
        name = run.log_image("batch", torch.rand(16, 1, 8, 8), caption="inputs")  # NCHW: a 4 x 4 grid
        single = run.log_image("one", torch.zeros(3, 3, 3), step=5)  # CHW wins for a tensor
    assert name == "media-batch-000000004.png"
    assert png(client, run.id, name).size == (4 * 10 + 2, 4 * 10 + 2)
    assert png(client, run.id, single).size == (3, 3)


def test_should_stop_turns_true_when_the_run_is_cancelled(client: Client) -> None:
    run = trainboard.init(name="cancel me", system_metrics=False)
    run.log({"loss": 1.0})
    assert not run.should_stop
    client.cancel(run.id)
    step = 1
    deadline = time.monotonic() + 10
    while not run.should_stop:  # a training loop: the next reply says cancelled
        assert time.monotonic() < deadline
        run.log({"loss": 1.0 / step})
        step += 1
        time.sleep(0.05)
    assert run.finish()["status"] == "cancelled"
    assert client.metrics(run.id)["loss"]["step"] == list(range(step))


def test_attaching_to_a_sweeps_run_and_stopping_when_its_rule_says_so(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = {"external": True, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}}
    rule = {"method": "median", "min_epochs": 1, "min_peers": 2}
    sweep = client.create_sweep(
        {"name": "scripted", "base": base, "grid": {"seed": [1, 2, 3]}, "early_termination": rule}
    )
    mine, *peers = sweep["runs"]
    for peer in peers:  # two other scripts already reported a good epoch 1
        lease = client.claim(peer, worker="peer")["lease"]
        with Client(client.url, token="", lease=lease) as writer:
            writer.post_points(peer, [{"key": "valid_acc", "step": 1, "value": 0.9}])

    monkeypatch.setenv("TRAINBOARD_RUN_ID", str(mine))  # no TRAINBOARD_LEASE: init claims the run
    run = trainboard.init(config={"note": "attached"}, system_metrics=False)
    assert run.id == mine
    assert run.config["seed"] == 1 and run.config["note"] == "attached"  # the API's config, and the script's key
    with pytest.raises(ApiError, match="409"):
        client.claim(mine, worker="thief")
    run.log({"valid_acc": 0.2}, step=1)  # below the median of its peers
    wait_for(lambda: run.should_stop)
    assert "median rule" in (run.stop_reason or "")
    result = run.finish()
    assert result["status"] == "succeeded" and result["config"]["note"] == "attached"


def test_attaching_with_the_lease_a_worker_gives(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    created = client.create_run({"external": True, "name": "given", "config": {"lr": 0.1}})
    monkeypatch.setenv("TRAINBOARD_RUN_ID", str(created["id"]))
    monkeypatch.setenv("TRAINBOARD_LEASE", created["lease"])
    with trainboard.init(name="ignored", system_metrics=False) as run:
        assert run.config == {"lr": 0.1}
        run.log({"loss": 0.5})
    stored = client.get_run(created["id"])
    assert stored["status"] == "succeeded" and stored["name"] == "given"
    assert client.metrics(run.id)["loss"] == {"step": [0], "value": [0.5]}


def test_an_exception_fails_the_run_and_ctrl_c_cancels_it_with_every_point(client: Client) -> None:
    with pytest.raises(ValueError, match="diverged"), trainboard.init(name="crash", system_metrics=False) as crashed:
        crashed.log({"loss": 1.0})
        raise ValueError("loss diverged")
    stored = client.get_run(crashed.id)
    assert stored["status"] == "failed"
    assert "ValueError: loss diverged" in stored["error"] and "Traceback" in stored["error"]

    with pytest.raises(KeyboardInterrupt), trainboard.init(name="ctrl-c", system_metrics=False) as interrupted:
        for step in range(3000):
            interrupted.log({"loss": float(step), "acc": 0.5})
        raise KeyboardInterrupt
    stored = client.get_run(interrupted.id)
    assert stored["status"] == "cancelled"
    data = client.metrics(interrupted.id, max_points=10_000)
    assert data["loss"]["step"] == list(range(3000)) and data["acc"]["step"] == list(range(3000))


def test_system_metrics_arrive_under_system_unless_turned_off(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    with trainboard.init(name="busy", system_metrics_every_s=0.2) as run:
        run.log({"loss": 1.0})
        wait_for(lambda: run._tracked.sent > 1)  # a sample went out with the loss
        time.sleep(0.5)
    keys = {item["key"] for item in client.request("GET", f"/runs/{run.id}/keys")}
    assert {"loss", "system/cpu_percent", "system/ram_gb", "system/proc_rss_gb"} <= keys

    monkeypatch.setenv("TRAINBOARD_SYSTEM_METRICS", "0")
    with trainboard.init(name="quiet", system_metrics_every_s=0.2) as quiet:
        quiet.log({"loss": 1.0})
        time.sleep(0.8)
    assert [item["key"] for item in client.request("GET", f"/runs/{quiet.id}/keys")] == ["loss"]


def test_an_api_outage_mid_run_loses_no_point_and_no_file(stack: Stack, client: Client, tmp_path: Path) -> None:
    run = trainboard.init(name="outage", system_metrics=False)
    for step in range(500):
        run.log({"loss": float(step)})
    stack.stop("api")
    for step in range(500, 2500):  # log() never blocks, whether or not the API answers
        run.log({"loss": float(step), "acc": 0.5})
    image = run.log_image("samples", np.ones((4, 4), dtype=np.uint8) * 200, caption="during the outage")
    (tmp_path / "ckpt.bin").write_bytes(b"\x00\x01" * 1000)
    run.save(tmp_path / "ckpt.bin", name="checkpoint")
    run.config["phase"] = "after outage"
    time.sleep(3)  # the sender and the uploads fail and back off meanwhile
    stack.start("api", "api")
    stack.wait_healthy()
    result = run.finish(timeout=60)

    assert result["status"] == "succeeded" and result["config"]["phase"] == "after outage"
    data = client.metrics(run.id, max_points=10_000)
    assert data["loss"]["step"] == list(range(2500)) and data["acc"]["step"] == list(range(500, 2500))
    assert artifacts(client, run.id)["checkpoint"] == 2000
    assert media_index(client, run.id)["samples"] == [{"step": 2499, "file": image, "caption": "during the outage"}]
    assert png(client, run.id, image).getpixel((0, 0)) == 200


@pytest.mark.parametrize(
    ("ending", "status", "error"),
    [
        ("pass", "succeeded", None),
        ("raise RuntimeError('out of memory')", "failed", "the script died: RuntimeError: out of memory"),
    ],
)
def test_a_script_that_never_calls_finish_is_finished_at_exit(
    stack: Stack, client: Client, ending: str, status: str, error: str | None
) -> None:
    script = (
        "import trainboard\n"
        "run = trainboard.init(name='forgot finish', system_metrics=False)\n"
        "print(run.id, flush=True)\n"
        "for step in range(1500):\n"
        "    run.log({'loss': 0.1})\n"
        f"{ending}\n"
    )
    env = {**os.environ, "TRAINBOARD_API_URL": stack.url}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
    run_id = int(done.stdout.split()[0])
    stored = client.get_run(run_id)
    assert stored["status"] == status
    if error is None:
        assert stored["error"] is None
    else:
        assert error in stored["error"]
    assert client.metrics(run_id)["loss"]["step"] == list(range(1500))


def test_bad_input_is_refused_at_the_call_naming_the_problem(client: Client) -> None:
    with pytest.raises(TypeError, match="config must be a mapping"):
        trainboard.init(config=[("lr", 0.1)])  # type: ignore[arg-type]
    with pytest.raises(ApiError, match="422"):
        trainboard.init(config={"deep": json.loads("[" * 40 + "]" * 40)})
    with trainboard.init(name="bad input", system_metrics=False) as run:
        with pytest.raises(ValueError, match="metric key 'bad key'"):
            run.log({"bad key": 1.0})
        with pytest.raises(TypeError, match="takes a mapping"):
            run.log(0.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="step must be an int"):
            run.log({"loss": 1.0}, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(FileNotFoundError, match="no file"):
            run.save("missing.pt")
        run.log({"loss": 1.0})
    with pytest.raises(RuntimeError, match="finished"):
        run.log_image("late", np.zeros((2, 2)))
    with pytest.raises(FileNotFoundError, match="no file 'nothing.pt'"):
        run.restore("nothing.pt")
    with pytest.raises(ValueError, match="not an artifact name"):
        run.restore("../escape.pt")
    assert client.metrics(run.id) == {"loss": {"step": [0], "value": [1.0]}}


def test_the_summary_arrives_while_the_run_lives_even_as_points_flow(client: Client) -> None:
    created = client.create_run({"external": True, "name": "summary so far"})
    run = TrackedRun(client.with_lease(created["lease"]), created, heartbeat_every_s=0.3, flush_every_s=0.05)
    run.summary["best_acc"] = np.float32(0.5)  # numpy numbers are sent as numbers
    step = 0
    deadline = time.monotonic() + 10
    while client.get_run(run.id)["summary"] != {"best_acc": 0.5}:  # points keep flowing meanwhile
        assert time.monotonic() < deadline, "the summary never arrived before finish()"
        run.log(step=step, loss=1.0)
        step += 1
        time.sleep(0.02)
    assert run.finish()["summary"] == {"best_acc": 0.5}


def test_what_the_script_prints_shows_in_its_terminal_and_in_the_runs_log(stack: Stack, client: Client) -> None:
    """init tees stdout and stderr: the terminal shows every line as before, and the run's log has them too,
    the traceback of the exception that ended it included; TRAINBOARD_CAPTURE_OUTPUT=0 leaves the log empty."""
    script = (
        "import sys, trainboard\n"
        "run = trainboard.init(name='prints', system_metrics=False)\n"
        "print(run.id, flush=True)\n"
        "for epoch in range(1, 4):\n"
        "    run.log({'loss': 1 / epoch})\n"
        "    print(f'epoch {epoch} done')\n"
        "print('careful: lr is high', file=sys.stderr)\n"
        "with run:\n"
        "    raise ValueError('diverged')\n"
    )
    env = {**os.environ, "TRAINBOARD_API_URL": stack.url}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
    run_id = int(done.stdout.split()[0])
    assert done.stdout.splitlines()[1:] == ["epoch 1 done", "epoch 2 done", "epoch 3 done"]
    assert "careful: lr is high" in done.stderr and "ValueError: diverged" in done.stderr
    lines = client.request("GET", f"/runs/{run_id}/logs")["lines"]
    assert lines[:5] == [str(run_id), "epoch 1 done", "epoch 2 done", "epoch 3 done", "careful: lr is high"]
    assert any("ValueError: diverged" in line for line in lines), lines
    assert client.get_run(run_id)["status"] == "failed"

    quiet = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "TRAINBOARD_CAPTURE_OUTPUT": "0"},
        cwd=REPO,
    )
    quiet_id = int(quiet.stdout.split()[0])
    assert "epoch 3 done" in quiet.stdout
    assert client.request("GET", f"/runs/{quiet_id}/logs")["lines"] == []
