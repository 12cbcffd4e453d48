"""What ``device.tune_malloc`` (called by ``train()``) buys: fig1's bare MLP loop in fresh minimal
processes, with glibc's default malloc thresholds and with the raised ones, taking turns.

    .venv/bin/python bench/bench_malloc.py [--rounds 3]

Whether glibc hands the per-step gradients back to the kernel (and page-faults them in again next
step) depends on the heap's history, so a minimal process (torch only) shows the effect best; a
process with a different allocation history may not hit it at all, which is why ``train()`` sets
the thresholds instead of relying on luck.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

EPOCHS = 5


def child(tuned: bool) -> None:
    if tuned:
        from worker.training.device import tune_malloc

        tune_malloc()
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 800), nn.ReLU(), nn.Linear(800, 800), nn.ReLU(), nn.Linear(800, 10)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
    x, y = torch.rand(4480, 1, 28, 28), torch.randint(0, 10, (4480,))

    def epoch() -> None:
        for idx in torch.randperm(len(y)).split(64):
            optimizer.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()

    epoch()
    before = resource.getrusage(resource.RUSAGE_SELF)
    best = float("inf")
    for _ in range(EPOCHS):
        start = time.perf_counter()
        epoch()
        best = min(best, time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_SELF)
    steps = EPOCHS * 70
    faults = (after.ru_minflt - before.ru_minflt) / steps
    system_us = (after.ru_stime - before.ru_stime) / steps * 1e6
    print(f"{len(y) / best:.1f} {faults:.0f} {system_us:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["tuned", "default"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child == "tuned")
        return
    runs: dict[str, list[list[float]]] = {"default": [], "tuned": []}
    for r in range(args.rounds):
        for mode in ("default", "tuned") if r % 2 == 0 else ("tuned", "default"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode], capture_output=True, text=True, check=True
            )
            runs[mode].append([float(v) for v in out.stdout.split()[-3:]])
    for mode, results in runs.items():
        best = max(results)
        print(
            f"{mode:<8} best {best[0]:>8.1f} samples/s, minor faults/step {best[1]:>5.0f}, "
            f"system time/step {best[2]:>5.0f} us"
        )
    print(f"tuned / default = {max(runs['tuned'])[0] / max(runs['default'])[0]:.3f}")


if __name__ == "__main__":
    main()
