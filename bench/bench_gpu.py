"""Every GPU check of the project in one command with one time budget: what a lent GPU machine runs.

    python3 bench/bench_gpu.py --out DIR [--data-dir DIR] [--budget-s 540] [--device cuda]
    python3 bench/bench_gpu.py --out /tmp/gpu-dry --device cpu --quick     # proves every step on a CPU

Steps, each a subprocess with its own time cap (cut to what is left of the budget), its output written to
``OUT/<step>.txt`` as it comes, so a slow step cannot eat the others' time and a step killed at its cap still
leaves what it printed; ``OUT/summary.txt`` is rewritten after every step (name, exit status, seconds, the
lines that matter):

  1. device      nvidia-smi, torch's view of the GPU (name, memory, capability, versions)
  2. test_cuda   pytest tests/e2e/test_cuda.py: a cuda worker trains on its GPU, a command run sees it, NVML
  3. bench_loop  bench/bench_loop.py --device cuda: ours with all tracking vs the bare loop, GPU utilisation
  4. figs        bench/bench_figs.py: fig1's two runs and the fig5 grid through api + workers, full epochs

Standard library only, so it runs (and reports what is missing) before anything else is importable.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Lines of each step's output that the summary repeats (the rest is in the step's own file).
KEY_LINES = (
    "NVIDIA",
    "torch ",
    "cuda ",
    "device ",
    " passed",
    " failed",
    " skipped",
    " error",
    "ours / bare",
    "GPU utilisation",
    "ours (train",
    "bare PyTorch",
    "-> ",
    "runs succeeded",
    "load average",
    "Error",
)


@dataclass
class Step:
    name: str
    command: list[str]
    cap_s: float
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    name: str
    status: str  # "ok", "exit N", "timed out after N s", "skipped: why"
    seconds: float
    key_lines: list[str]


def device_probe() -> str:
    """Python that prints torch's view of the GPUs (a step of its own, so a hung driver cannot stop the rest)."""
    return (
        "import platform, torch\n"
        "print('python', platform.python_version(), 'torch', torch.__version__, 'cuda', torch.version.cuda,"
        " 'cudnn', torch.backends.cudnn.version())\n"
        "print('cuda available', torch.cuda.is_available(), 'devices', torch.cuda.device_count())\n"
        "for i in range(torch.cuda.device_count()):\n"
        "    p = torch.cuda.get_device_properties(i)\n"
        "    print(f'device {i}: {p.name}, {p.total_memory / 2**30:.1f} GiB, capability {p.major}.{p.minor}, '\n"
        "          f'{p.multi_processor_count} SMs')\n"
        "if torch.cuda.is_available():\n"
        "    x = torch.randn(4096, 4096, device='cuda'); torch.cuda.synchronize()\n"
        "    print('a 4096x4096 matmul on the GPU:', float((x @ x).norm()))\n"
        "import pynvml\n"
        "try:\n"
        "    pynvml.nvmlInit(); print('NVML driver', pynvml.nvmlSystemGetDriverVersion(), 'GPUs',"
        " pynvml.nvmlDeviceGetCount())\n"
        "except pynvml.NVMLError as exc:\n"
        "    print('NVML:', exc)\n"
    )


def plan(args: argparse.Namespace) -> list[Step]:
    py = sys.executable
    quick = args.quick
    data = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    loop = [py, "bench/bench_loop.py", "--device", args.device, "--breakdown"]
    if quick:
        loop += ["--workloads", "mlp", "--segments", "4", "--rounds", "1", "--util-seconds", "1"]
    figs = [py, "bench/bench_figs.py", "--device", args.device, *data, "--workers", str(args.workers)]
    figs += ["--json", str(args.out / "figs.json")]
    if quick:
        figs += ["--quick", "--only", "fig1,fig5"]
    steps = [
        Step(
            "device",
            ["bash", "-c", f'nvidia-smi; nvidia-smi -q | head -40; {py} -c "$PROBE"'],
            60,
            env={"PROBE": device_probe()},
        ),  # fmt: skip
        Step("test_cuda", [py, "-m", "pytest", "tests/e2e/test_cuda.py", "-v", "-rs", "-p", "no:cacheprovider"], 120),
        Step("bench_loop", loop, 150),
        Step("figs", figs, 10_000),  # what is left of the budget
    ]
    return [step for step in steps if step.name in args.steps.split(",")]


def python_path() -> str:
    """The repo first (the benches import ``trainboard``, which is not installed there), then PYTHONPATH."""
    return os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


def run_step(step: Step, *, out: Path, cap_s: float) -> Outcome:
    """Run ``step`` with its output going to OUT/<name>.txt as it comes; kill its process group at ``cap_s``."""
    path = out / f"{step.name}.txt"
    started = time.perf_counter()
    with path.open("w") as log:
        log.write(f"$ {' '.join(step.command)}   (cap {cap_s:.0f} s)\n")
        log.flush()
        process = subprocess.Popen(
            step.command,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": python_path(), **step.env},
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=max(cap_s, 1))
            status = "ok" if code == 0 else f"exit {code}"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
            status = f"timed out after {cap_s:.0f} s (killed; what it printed is kept)"
    seconds = time.perf_counter() - started
    text = path.read_text(errors="replace")
    lines = text.splitlines()[1:]  # the first is the command line
    keys = [line.rstrip() for line in lines if any(key in line for key in KEY_LINES)][-40:]
    return Outcome(step.name, status, seconds, keys)


def write_summary(out: Path, args: argparse.Namespace, outcomes: list[Outcome], pending: list[str]) -> None:
    lines = [
        f"bench_gpu {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC on {platform.node()}: device {args.device}, "
        f"budget {args.budget_s:.0f} s, quick {args.quick}, data {args.data_dir}",
        f"commit {commit()}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}",
        "",
    ]
    for outcome in outcomes:
        lines.append(f"== {outcome.name}: {outcome.status}, {outcome.seconds:.1f} s  ({outcome.name}.txt)")
        lines += [f"   {line}" for line in outcome.key_lines]
    for name in pending:
        lines.append(f"== {name}: not run yet")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")


def commit() -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/bench-gpu")))
    parser.add_argument("--data-dir", type=Path, help="MNIST/ and dogs-vs-cats/ (../shared/data); figs needs it")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--budget-s", type=float, default=540, help="all steps together (default 9 minutes)")
    parser.add_argument("--workers", type=int, default=4, help="figs: worker processes sharing the GPU")
    parser.add_argument("--steps", default="device,test_cuda,bench_loop,figs")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves every step on a CPU")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.data_dir is not None:
        args.data_dir = args.data_dir.resolve()
    deadline = time.monotonic() + args.budget_s
    steps = plan(args)
    outcomes: list[Outcome] = []
    for i, step in enumerate(steps):
        write_summary(args.out, args, outcomes, [s.name for s in steps[i:]])
        left = deadline - time.monotonic() - 5  # the last summary's few seconds
        if step.name == "figs" and args.data_dir is None:
            outcomes.append(Outcome(step.name, "skipped: no --data-dir", 0.0, []))
            continue
        if left < 20:
            outcomes.append(Outcome(step.name, f"skipped: {max(left, 0):.0f} s of the budget left", 0.0, []))
            continue
        cap = min(step.cap_s, left)
        if step.name == "figs":  # it cancels its runs 60 s before its cap, prints what they reached, stops
            step.command += ["--deadline-s", f"{max(cap - 60, 10):.0f}"]
        print(f"[{time.strftime('%H:%M:%S')}] {step.name} (cap {cap:.0f} s): {' '.join(step.command)}", flush=True)
        outcome = run_step(step, out=args.out, cap_s=cap)
        outcomes.append(outcome)
        print(f"[{time.strftime('%H:%M:%S')}] {step.name}: {outcome.status}, {outcome.seconds:.1f} s", flush=True)
    write_summary(args.out, args, outcomes, [])
    print((args.out / "summary.txt").read_text())


if __name__ == "__main__":
    main()
