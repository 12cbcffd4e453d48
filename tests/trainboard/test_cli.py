"""The `trainboard` command as a user types it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.utils.datasets import write_mnist
from tests.utils.stack import running_stack

SPEC_YAML = """\
name: cli run
dataset: mnist
model: {arch: mlp, hidden: [32]}
optimizer: {name: sgd, lr: 0.1}
batch_size: 32
epochs: 2
device: cpu
n_misclassified: 4
"""


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainboard.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=240
    )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINBOARD_")}
    env.update(TRAINBOARD_HOME=str(tmp_path / "home"), PYTHONPATH=str(Path(__file__).resolve().parents[2]), **extra)
    return env


def test_train_runs_locally_with_progress_and_summary(tmp_path: Path) -> None:
    data = write_mnist(tmp_path / "data", n_train=600, n_test=200)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_YAML)
    result = _cli("train", str(spec), "--out", str(tmp_path / "out"), env=_env(tmp_path, TRAINBOARD_DATA_DIR=str(data)),
                  cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout is the summary alone: `trainboard train spec > summary.json`
    assert summary["n_params"] == 784 * 32 + 32 + 330
    assert 1 <= summary["best_epoch"] <= 2 and summary["test_acc_at_best"] > 0.5
    assert "step" in result.stderr and "epoch 2: " in result.stderr, "a progress bar and per-epoch lines"
    assert len(re.findall(r"\bepoch 2\b", result.stderr)) == 1, f"epoch 2 printed once:\n{result.stderr}"
    assert not re.search(r"\.\d{7,}", result.stderr), f"numbers for people:\n{result.stderr}"
    assert " INFO " not in result.stderr, result.stderr
    assert (tmp_path / "out" / "checkpoints" / "last.pt").exists()
    assert any("misclassified" in p.name for p in (tmp_path / "out" / "artifacts").iterdir())


def test_train_names_the_bad_field(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC_YAML.replace("lr: 0.1", "lr: fast"))
    result = _cli("train", str(spec), env=_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "optimizer.lr" in result.stderr


@pytest.mark.parametrize(
    ("command", "setting", "value"),
    [("api", "TRAINBOARD_INGEST_CONNECTIONS", "-1"), ("migrate", "TRAINBOARD_STREAM_POLL_S", "often")],
)
def test_a_bad_setting_is_named_by_its_environment_variable(
    tmp_path: Path, command: str, setting: str, value: str
) -> None:
    result = _cli(command, env=_env(tmp_path, **{setting: value}), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {setting}: "), result.stderr
    assert "Traceback" not in result.stderr


def test_submit_and_ls_talk_to_the_api(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_YAML)
    with running_stack(tmp_path, workers=0) as stack:
        env = _env(tmp_path, TRAINBOARD_API_URL=stack.url)
        submitted = _cli("submit", str(spec), env=env, cwd=tmp_path)
        assert submitted.returncode == 0, submitted.stderr
        assert submitted.stdout == f"run 1 queued: {stack.url}/#/runs/1\n"
        assert submitted.stderr == "", "no library logging between the command's own lines"
        listed = _cli("ls", env=env, cwd=tmp_path)
        assert "cli run" in listed.stdout and "queued" in listed.stdout
        assert listed.stderr == ""
        verbose = _cli("ls", "-v", env=env, cwd=tmp_path)
        assert "HTTP Request: GET" in verbose.stderr and "cli run" in verbose.stdout, "-v shows what happens"
        query = "config.batch_size = 32 and status:queued"
        queried = _cli("ls", query, "--sort", "config.epochs", env=env, cwd=tmp_path)
        assert "cli run" in queried.stdout, queried.stderr
        assert "cli run" not in _cli("ls", "config.batch_size > 32", env=env, cwd=tmp_path).stdout
        bad = _cli("ls", "config.batch_size >", env=env, cwd=tmp_path)
        assert bad.returncode == 1 and "at position 19: expected a value after '>'" in bad.stderr
        assert httpx.get(f"{stack.url}/api/runs/1").json()["spec"]["batch_size"] == 32


SWEEP_YAML = """\
name: cli sweep
base: {dataset: mnist, model: {arch: mlp, hidden: [16]}, batch_size: 32, epochs: 1, device: cpu}
grid: {seed: [1, 2, 3]}
"""


def test_sweep_prints_the_sweep_and_its_runs(tmp_path: Path) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text(SWEEP_YAML)
    with running_stack(tmp_path, workers=0) as stack:
        result = _cli("sweep", str(spec), env=_env(tmp_path, TRAINBOARD_API_URL=stack.url), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        printed = re.fullmatch(r"sweep (\d+): 3 runs \[(\d+), (\d+), (\d+)\]\n", result.stdout)
        assert printed, result.stdout
        sweep_id, run_ids = int(printed[1]), [int(run_id) for run_id in printed.groups()[1:]]
        assert httpx.get(f"{stack.url}/api/sweeps/{sweep_id}").json()["runs"] == run_ids
        runs = [httpx.get(f"{stack.url}/api/runs/{run_id}").json() for run_id in run_ids]
        assert sorted(run["spec"]["seed"] for run in runs) == [1, 2, 3]
        assert {run["status"] for run in runs} == {"queued"}


def test_watch_follows_a_run_to_its_end(tmp_path: Path) -> None:
    data = write_mnist(tmp_path / "data", n_train=600, n_test=200)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_YAML)
    with running_stack(tmp_path, data_dir=data, workers=1) as stack:
        env = _env(tmp_path, TRAINBOARD_API_URL=stack.url)
        # submit --watch: queued, trained, exit 0 once it succeeded.
        submitted = _cli("submit", str(spec), "--watch", env=env, cwd=tmp_path)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        queued = re.match(r"run (\d+) queued", submitted.stdout)
        assert queued, submitted.stdout
        run_id = int(queued[1])
        assert f"[run {run_id}] succeeded" in submitted.stdout
        epoch_lines = [line for line in submitted.stdout.splitlines() if line.startswith(f"[run {run_id}] epoch 2  ")]
        assert len(epoch_lines) == 1, submitted.stdout
        assert re.search(r"  valid_acc (1|0\.\d{1,4})(  |$)", epoch_lines[0]), epoch_lines
        assert not re.search(r"\.\d{7,}", submitted.stdout), f"numbers for people:\n{submitted.stdout}"
        assert "HTTP Request" not in submitted.stdout + submitted.stderr

        # watch RUN on a run that is training: it follows it until it ends, and a cancelled run is exit 1.
        slow = {**yaml.safe_load(SPEC_YAML), "name": "watched", "batch_size": 8, "epochs": 200}
        slow_id = httpx.post(f"{stack.url}/api/runs", json=slow).json()["id"]
        watch = subprocess.Popen(
            [sys.executable, "-m", "trainboard.cli", "watch", str(slow_id)],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            stack.wait_for_run(slow_id, {"running"}, timeout=60)
            time.sleep(1)
            assert watch.poll() is None, "watch ends with the run, not before"
            httpx.post(f"{stack.url}/api/runs/{slow_id}/cancel")
            out, err = watch.communicate(timeout=60)
        finally:
            watch.kill()
        assert watch.returncode == 1, f"watch exited {watch.returncode} for a cancelled run:\n{out}{err}"
        assert f"[run {slow_id}] running" in out and f"[run {slow_id}] cancelled" in out

        # watch on a finished run replays it and answers with its outcome.
        replay = _cli("watch", str(run_id), env=env, cwd=tmp_path)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert f"[run {run_id}] succeeded" in replay.stdout


def test_ls_and_watch_show_an_external_runs_own_keys(tmp_path: Path) -> None:
    with running_stack(tmp_path, workers=0) as stack:
        created = httpx.post(f"{stack.url}/api/runs", json={"name": "my script", "external": True}).json()
        run_id, lease = created["id"], {"X-Trainboard-Lease": created["lease"]}
        points = [{"key": "train/loss", "step": step, "value": 1 / step - 0.222000002861023} for step in (1, 2, 3)]
        points += [{"key": "charts/lr", "step": 3, "value": 0.001}, {"key": "grad_norm", "step": 2, "value": 12345.678}]
        httpx.post(f"{stack.url}/api/runs/{run_id}/metrics", json={"points": points}, headers=lease).raise_for_status()
        summary = {"best": {"score": 0.123456789}, "note": "baseline", "epochs_done": 3}
        httpx.post(
            f"{stack.url}/api/runs/{run_id}/status", json={"status": "succeeded", "summary": summary}, headers=lease
        ).raise_for_status()
        env = _env(tmp_path, TRAINBOARD_API_URL=stack.url)

        watched = _cli("watch", str(run_id), env=env, cwd=tmp_path)
        assert watched.returncode == 0, watched.stdout + watched.stderr
        assert f"[run {run_id}] step 3  charts/lr 0.001  train/loss 0.1113\n" in watched.stdout, watched.stdout
        assert f"[run {run_id}] step 2  grad_norm 12346\n" in watched.stdout, watched.stdout
        assert f"[run {run_id}] succeeded" in watched.stdout and watched.stderr == ""

        listed = _cli("ls", env=env, cwd=tmp_path)
        row = next(line for line in listed.stdout.splitlines() if "my script" in line)
        assert row.endswith("my script  best.score 0.1235  epochs_done 3  note baseline"), listed.stdout
