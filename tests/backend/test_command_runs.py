"""Command runs: your own command, its `{dotted.key}` placeholders filled from its config, queued apart for workers
started with `--code DIR`; a sweep over a command base; a missing placeholder or a bad field is a 422 naming it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.utils.leases import claim

COMMAND = ["python", "train.py", "--lr", "{optimizer.lr}", "--epochs={epochs}", "--name", "{tag}", "{{literal}}"]
CONFIG = {"optimizer": {"lr": 0.1, "name": "sgd"}, "epochs": 3, "tag": "a b; rm -rf /"}


def launch(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "mine", "command": COMMAND, "config": CONFIG, **fields}
    reply = client.post("/api/runs", json=body)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def refusal(client: TestClient, **fields: Any) -> tuple[list[Any], str]:
    reply = client.post("/api/runs", json={"command": COMMAND, "config": CONFIG, **fields})
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"][0]
    return detail["loc"], detail["msg"]


def test_a_command_run_shows_its_command_config_gpus_and_the_filled_command(client: TestClient) -> None:
    run = launch(client, device="cuda", gpus=2, tags=["mine"])
    again = client.get(f"/api/runs/{run['id']}").json()
    for shown in (run, again):
        assert shown["command"] == COMMAND
        assert shown["config"] == CONFIG
        assert shown["gpus"] == 2
        assert shown["argv"] == [
            "python",
            "train.py",
            "--lr",
            "0.1",
            "--epochs=3",
            "--name",
            "a b; rm -rf /",
            "{literal}",
        ]
        assert shown["status"] == "queued" and shown["queue"] == "cmd-cuda-2gpus"
        assert not shown["external"]
    listed = client.get("/api/runs").json()
    assert listed[0]["argv"][3] == "0.1", "the runs list shows the filled command too"


@pytest.mark.parametrize(
    ("fields", "queue", "gpus"),
    [
        ({}, "cmd-any", 0),
        ({"device": "cpu"}, "cmd-cpu", 0),
        ({"device": "cuda"}, "cmd-cuda", 1),
        ({"gpus": 1}, "cmd-cuda", 1),
        ({"gpus": 2}, "cmd-cuda-2gpus", 2),
        ({"device": "cuda", "gpus": 64}, "cmd-cuda-64gpus", 64),
    ],
)
def test_command_runs_wait_in_their_own_queues(
    client: TestClient, fields: dict[str, Any], queue: str, gpus: int
) -> None:
    run = launch(client, **fields)
    assert (run["queue"], run["gpus"]) == (queue, gpus)


def test_a_built_in_run_has_no_command(client: TestClient) -> None:
    run = client.post("/api/runs", json={"name": "builtin"}).json()
    assert (run["command"], run["argv"], run["gpus"], run["queue"]) == (None, None, None, "any")


def test_a_placeholder_missing_from_the_config_is_named(client: TestClient) -> None:
    loc, msg = refusal(client, command=["python", "train.py", "--wd", "{optimizer.weight_decay}"])
    assert loc == ["body", "command", 3]
    assert "{optimizer.weight_decay}" in msg and "config" in msg


def test_a_lone_brace_is_refused_with_the_way_to_write_one(client: TestClient) -> None:
    loc, msg = refusal(client, command=["python", "-c", "print({})"])
    assert loc == ["body", "command", 2] and "{{" in msg


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"command": []}, ["body", "command"]),
        ({"command": ["python", 3]}, ["body", "command", 1]),
        ({"command": "python train.py"}, ["body", "command"]),
        ({"command": [" "]}, ["body", "command"]),
        ({"command": ["x" * 5000]}, ["body", "command", 0]),
        ({"command": ["python"] * 300}, ["body", "command"]),
        ({"config": [1, 2]}, ["body", "config"]),
        ({"config": {"blob": "x" * 70_000}}, ["body", "config"]),
        ({"device": "tpu"}, ["body", "device"]),
        ({"gpus": -1}, ["body", "gpus"]),
        ({"gpus": 1000}, ["body", "gpus"]),
        ({"device": "cpu", "gpus": 1}, ["body", "gpus"]),
        ({"shell": True}, ["body", "shell"]),
    ],
)
def test_bad_fields_are_a_422_naming_them(client: TestClient, fields: dict[str, Any], loc: list[Any]) -> None:
    assert refusal(client, **fields)[0] == loc


def test_a_queued_command_run_says_it_needs_a_worker_that_runs_commands(client: TestClient) -> None:
    run = launch(client)
    assert "needs a worker that runs commands" in run["status_detail"]
    assert "trainboard worker --code DIR" in run["status_detail"]
    # A plain worker online changes nothing: it never takes command runs.
    beat = {"host": "box", "devices": ["cpu"], "queues": ["any", "cpu"], "session": "s1"}
    assert client.put("/api/workers/plain", json=beat).status_code == 200
    assert "needs a worker that runs commands" in client.get(f"/api/runs/{run['id']}").json()["status_detail"]
    beat["queues"] = ["any", "cpu", "cmd-any", "cmd-cpu"]
    assert client.put("/api/workers/coder", json=beat).status_code == 200
    detail = client.get(f"/api/runs/{run['id']}").json()["status_detail"]
    assert "needs a worker" not in detail and "waiting for a worker that runs commands" in detail
    queues = {q["name"]: (q["queued"], q["workers"]) for q in client.get("/api/workers").json()["queues"]}
    assert queues["cmd-any"] == (1, 1) and queues["any"] == (0, 2)


def test_a_run_asking_for_more_gpus_waits_for_a_worker_that_has_them(client: TestClient) -> None:
    run = launch(client, gpus=3)
    cuda = ["any", "cuda", "cmd-any", "cmd-cuda"]
    small = {"host": "a", "devices": ["cpu", "cuda"], "gpus": ["0: T4", "1: T4"], "session": "s1",
             "queues": [*cuda, "cmd-cuda-2gpus"]}  # fmt: skip
    assert client.put("/api/workers/small", json=small).status_code == 200
    detail = client.get(f"/api/runs/{run['id']}").json()["status_detail"]
    assert "needs a worker that runs commands on 3 GPUs" in detail and "--gpus 0,1,2" in detail
    queues = {q["name"]: (q["queued"], q["workers"]) for q in client.get("/api/workers").json()["queues"]}
    assert queues["cmd-cuda-2gpus"] == (0, 1) and queues["cmd-cuda-3gpus"] == (1, 0), queues
    big = {**small, "session": "s2", "gpus": [f"{i}: H200" for i in range(4)],
           "queues": [*cuda, "cmd-cuda-2gpus", "cmd-cuda-3gpus", "cmd-cuda-4gpus"]}  # fmt: skip
    assert client.put("/api/workers/big", json=big).status_code == 200
    assert client.get(f"/api/runs/{run['id']}").json()["status_detail"] == (
        "waiting for 3 free GPUs on a worker that runs commands"
    )
    names = [q["name"] for q in client.get("/api/workers").json()["queues"]]
    assert names[-3:] == ["cmd-cuda-2gpus", "cmd-cuda-3gpus", "cmd-cuda-4gpus"]
    for name in ("cmd-cuda-1gpus", "cmd-cuda-02gpus", "cmd-cuda-65gpus", "cmd-cpu-2gpus"):
        reply = client.put("/api/workers/bad", json={**big, "queues": [name]})
        assert reply.status_code == 422 and reply.json()["detail"][0]["loc"][:2] == ["body", "queues"], name


def test_the_script_of_a_command_run_may_send_its_config(client: TestClient) -> None:
    run = launch(client)
    headers = claim(client, run["id"])
    config = {**CONFIG, "epochs": 5, "seen_by_script": True}
    reply = client.post(f"/api/runs/{run['id']}/status", json={"config": config}, headers=headers)
    assert reply.status_code == 200, reply.text
    shown = client.get(f"/api/runs/{run['id']}").json()
    assert shown["config"] == config
    assert shown["argv"][4] == "--epochs=3", "a retry runs the command it was launched with"


def test_a_sweep_over_a_command_run_fills_each_runs_command_from_its_own_config(client: TestClient) -> None:
    base = {"command": COMMAND, "config": CONFIG, "device": "cpu"}
    grid = {"optimizer.lr": [0.1, 0.01], "epochs": [1, 2, 3]}
    reply = client.post("/api/sweeps", json={"name": "cmd", "base": base, "grid": grid})
    assert reply.status_code == 201, reply.text
    sweep = reply.json()
    runs = [client.get(f"/api/runs/{run_id}").json() for run_id in sweep["runs"]]
    assert len(runs) == 6
    assert {(run["argv"][3], run["argv"][4]) for run in runs} == {
        (lr, f"--epochs={e}") for lr in ("0.1", "0.01") for e in (1, 2, 3)
    }
    assert all(run["queue"] == "cmd-cpu" and run["config"]["optimizer"]["name"] == "sgd" for run in runs)
    assert {tuple(row["values"].values()) for row in sweep["results"]} == {
        (lr, e) for lr in (0.1, 0.01) for e in (1, 2, 3)
    }


def test_a_random_sweep_over_a_command_run(client: TestClient) -> None:
    base = {"command": ["python", "t.py", "--lr", "{lr}"], "config": {}, "device": "cuda", "gpus": 2}
    body = {"base": base, "grid": {"lr": {"min": 0.001, "max": 0.1, "log": True}}, "method": "random", "n": 4}
    sweep = client.post("/api/sweeps", json=body).json()
    runs = [client.get(f"/api/runs/{run_id}").json() for run_id in sweep["runs"]]
    lrs = [float(run["argv"][3]) for run in runs]
    assert len(lrs) == 4 and all(0.001 <= lr <= 0.1 for lr in lrs)
    assert {run["queue"] for run in runs} == {"cmd-cuda-2gpus"}, "each run waits for a worker with two GPUs"


def test_a_sweep_whose_command_needs_a_key_no_run_has_is_refused(client: TestClient) -> None:
    base = {"command": ["python", "t.py", "{momentum}"], "config": {}}
    reply = client.post("/api/sweeps", json={"base": base, "grid": {"lr": [0.1, 0.2]}})
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"][0]
    assert detail["loc"] == ["body", "base", "command", "2"] and "{momentum}" in detail["msg"]


def test_a_bad_command_grid_value_names_the_grid_key(client: TestClient) -> None:
    base = {"command": ["python", "t.py"], "config": {}, "device": "cpu"}
    reply = client.post("/api/sweeps", json={"base": base, "grid": {"gpus": [0, 1]}})
    assert reply.status_code == 201, "gpus here is a config key of the script, not the run's field"
