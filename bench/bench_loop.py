"""Training throughput of trainboard's loop against a bare PyTorch loop and the report's style of loop.

In one process, on the same model, tensors and batch size, it times:

  ours   worker.training.loop.train_epoch with all tracking on (per-step loss and parameter norm,
         running train loss/accuracy, a callback consuming every point, should_abort polling);
         "ours full" adds what train() does per epoch: evaluate valid and test, save a checkpoint.
  bare   randperm indexing, zero_grad / forward / loss / backward / step, nothing else.
  report a torchvision-style Dataset with per-sample transforms behind a DataLoader, loss.item()
         every step, then the training and validation sets evaluated each epoch (the report's loop).

Workloads: fig1's MLP (784-800-800-10, SGD lr 0.02, batch 64) and vgg "deep" (Adam, batch 16).
Synthetic tensors of the right shape by default; ``--data-dir`` uses the real MNIST and Dogs vs
Cats. Each loop trains its own copy of the same initial model. ours and bare take turns on short
segments (50 MLP steps, 10 vgg steps; each segment is one "epoch" for ours, so it flushes more
often than in a real run), many turns each, the order reversed every other turn; the two
full-epoch loops then take ``--rounds`` turns each. The first turn of each is a warm-up. The best
turn of each loop is what counts (other tenants of a shared machine only ever slow a loop down);
the median is printed beside it. On CUDA, ours and bare then each train alone for ``--util-seconds``
while NVML's GPU utilisation is sampled every 0.1 s (the share of time a kernel was running): a loop that
keeps the GPU waiting on the host shows it there, not in samples/s alone.

    .venv/bin/python bench/bench_loop.py [--device cpu|cuda] [--data-dir DIR] [--workloads mlp,vgg]
        [--segments N] [--util-seconds S]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from trainboard.spec import RunSpec
from trainboard.system_metrics import SystemSampler
from worker.training import checkpoint
from worker.training.callbacks import Callback, Point
from worker.training.data import Data, Split, load_data
from worker.training.device import Accel, resolve_accel, tune_malloc
from worker.training.evaluate import evaluate
from worker.training.loop import StepTracker, make_optimizer, train_epoch
from worker.training.models import build_model

EpochFn = Callable[[Split, int], None]


@dataclass(frozen=True)
class Workload:
    name: str
    spec: RunSpec
    n_train: int  # synthetic sizes; real data uses its own (vgg capped at n_train)
    n_valid: int
    n_test: int
    segment_steps: int  # steps per interleaved segment of the ours-vs-bare comparison
    segments: int


WORKLOADS = {
    "mlp": Workload(
        "mlp 784-800-800-10, SGD, batch 64",
        RunSpec.model_validate(
            {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [800, 800]}, "batch_size": 64, "seed": 0}
        ),
        4500,
        500,
        2000,
        50,
        60,  # many short turns: a 2-3 % difference needs them on a shared machine
    ),
    "vgg": Workload(
        "vgg deep, Adam, batch 16",
        RunSpec.model_validate(
            {
                "dataset": "dogs-vs-cats",
                "model": {"arch": "vgg", "blocks": "deep"},
                "optimizer": {"name": "adam", "lr": 0.001},
                "batch_size": 16,
                "seed": 0,
            }
        ),
        800,
        80,
        160,
        10,
        12,
    ),
}


class Consumer(Callback):
    """Consumes every point the way a worker would, without the network."""

    def __init__(self) -> None:
        self.n_points = 0
        self.total = 0.0

    def on_points(self, points: list[Point]) -> None:
        self.n_points += len(points)
        self.total += sum(p.value for p in points)


def synthetic_images(spec: RunSpec, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images N x C x H x W and labels shaped like the spec's dataset."""
    generator = torch.Generator().manual_seed(seed)
    shape, classes = ((1, 28, 28), 10) if spec.dataset == "mnist" else ((3, 64, 64), 2)
    images = torch.randint(0, 256, (n, *shape), generator=generator, dtype=torch.uint8)
    return images, torch.randint(0, classes, (n,), generator=generator)


def as_float(images: torch.Tensor, spec: RunSpec) -> torch.Tensor:
    return images.float().div_(255.0) if spec.dataset == "mnist" else Data.inputs(images)


def build_data(work: Workload, data_dir: Path | None) -> tuple[Data, dict[str, torch.Tensor]]:
    """The tensors every loop trains on (float, so the bare loop needs no conversion), plus uint8 copies."""
    if data_dir is None:
        splits = {
            name: synthetic_images(work.spec, n, seed)
            for name, n, seed in (("train", work.n_train, 1), ("valid", work.n_valid, 2), ("test", work.n_test, 3))
        }
        classes = tuple(str(i) for i in range(10 if work.spec.dataset == "mnist" else 2))
    else:
        limit = None if work.spec.dataset == "mnist" else work.n_train
        spec = work.spec.model_copy(update={"limit_train": limit})
        real = load_data(spec, data_dir=data_dir, cache_dir=Path(tempfile.gettempdir()) / "trainboard-bench-cache")
        splits = {name: (Data.pixels(s.x), s.y) for name, s in (("train", real.train), ("valid", real.valid))}
        splits["test"] = (Data.pixels(real.test.x), real.test.y)
        classes = real.classes
    floats = {name: Split(as_float(x, work.spec), y) for name, (x, y) in splits.items()}
    data = Data(work.spec.dataset, floats["train"], floats["valid"], floats["test"], classes)
    return data, {name: x for name, (x, _) in splits.items()}


# --- the three loops ---------------------------------------------------------------------------


def run_ours(model: nn.Module, work: Workload, data: Data, accel: Accel, *, full: bool, ckpt_dir: Path):
    optimizer = make_optimizer(work.spec.optimizer, model.parameters())
    tracker = StepTracker(model.parameters(), Consumer())
    step = 0

    def epoch(split: Split, seed: int) -> None:
        nonlocal step
        train_epoch(
            model, optimizer, split, batch_size=work.spec.batch_size, seed=seed, first_step=step + 1,
            augmentation=False, accel=accel, tracker=tracker,
        )  # fmt: skip
        step += -(-len(split) // work.spec.batch_size)
        if full and split is data.train:
            evaluate(model, data.valid, accel=accel)
            evaluate(model, data.test, accel=accel)
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": seed}
            checkpoint.save(ckpt_dir / "last.pt", {**state, "best_model": model.state_dict()})

    return epoch


class Untracked(StepTracker):
    """Records nothing: ``ours`` without its tracking, to split the loop's cost from the tracker's. It takes no
    norms, so the loop steps with a plain ``optimizer.step()``, never SGD in backward (which hands them over)."""

    @property
    def squared_norms(self) -> bool:
        return False

    def step(self, *args: object, **kwargs: object) -> None:
        pass

    def end_epoch(self) -> tuple[float, float]:
        return 0.0, 0.0


def run_untracked(model: nn.Module, work: Workload, accel: Accel):
    optimizer = make_optimizer(work.spec.optimizer, model.parameters())
    tracker = Untracked(model.parameters(), Callback())

    def epoch(split: Split, seed: int) -> None:
        train_epoch(
            model, optimizer, split, batch_size=work.spec.batch_size, seed=seed, first_step=1,
            augmentation=False, accel=accel, tracker=tracker,
        )  # fmt: skip

    return epoch


def run_bare(model: nn.Module, work: Workload, data: Data, accel: Accel):
    spec = work.spec.optimizer
    optimizer: torch.optim.Optimizer
    if spec.name == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=spec.lr)

    def epoch(split: Split, seed: int) -> None:
        model.train()
        x, y = split.x, split.y
        perm = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed)).to(x.device)
        for idx in perm.split(work.spec.batch_size):
            optimizer.zero_grad()
            with accel.autocast():  # a no-op unless accel.amp (the bf16 row of --breakdown)
                loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()

    return epoch


class ImageFolderLike(Dataset):
    """What the report fed its DataLoader: one PIL image per item, transformed on every access."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Callable) -> None:
        self.images = images.permute(0, 2, 3, 1).numpy()
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        pixels = self.images[i]
        image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        return self.transform(image), self.labels[i]


def run_report(model: nn.Module, work: Workload, data: Data, pixels: dict[str, torch.Tensor], accel: Accel):
    steps: list[Callable] = [transforms.ToTensor()]
    if work.spec.dataset != "mnist":
        steps.append(transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)))
    transform = transforms.Compose(steps)
    train_set = ImageFolderLike(pixels["train"], data.train.y.cpu(), transform)
    valid_set = ImageFolderLike(pixels["valid"], data.valid.y.cpu(), transform)
    batch = work.spec.batch_size
    train_loader = DataLoader(train_set, batch_size=batch, shuffle=True)
    optimizer: torch.optim.Optimizer
    if work.spec.optimizer.name == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=work.spec.optimizer.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=work.spec.optimizer.lr)
    device = accel.device

    def report_evaluate(loader: DataLoader) -> float:
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for x, y in loader:
                pred = model(x.to(device)).argmax(1)
                correct += int((pred == y.to(device)).sum().item())
                total += len(y)
        model.train()
        return correct / max(total, 1)

    def epoch(split: Split, seed: int) -> None:
        torch.manual_seed(seed)
        loader = train_loader if split is data.train else DataLoader(
            torch.utils.data.Subset(train_set, range(len(split))), batch_size=batch, shuffle=True
        )  # fmt: skip
        model.train()
        losses = []
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        if split is data.train:
            report_evaluate(DataLoader(valid_set, batch_size=batch))
            report_evaluate(DataLoader(train_set, batch_size=batch))

    return epoch


# --- timing ------------------------------------------------------------------------------------


def machine_load() -> str:
    """Load average and, where the kernel reports it, the share of time tasks waited for a CPU."""
    text = f"load average {os.getloadavg()[0]:.1f}"
    try:
        some = Path("/proc/pressure/cpu").read_text().split()[1]  # "avg10=12.34"
        return f"{text}, CPU pressure {some.split('=')[1]} % (avg10)"
    except (OSError, IndexError):
        return text


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(epoch: EpochFn, split: Split, seed: int, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    epoch(split, seed)
    _sync(device)
    return time.perf_counter() - start


def interleave(loops: dict[str, EpochFn], splits: list[Split], device: torch.device) -> dict[str, list[float]]:
    """Seconds per split for each loop, the loops taking turns (order reversed every other split)."""
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    for i, split in enumerate(splits):
        for name in list(loops) if i % 2 == 0 else list(reversed(loops)):
            seconds[name].append(_timed(loops[name], split, i + 1, device))
    return seconds


def norm_seconds(model: nn.Module, device: torch.device, repeats: int = 300) -> float:
    """Seconds per step that the tracker spends on the parameter norm (the loop's only per-step extra work)."""
    tracker = StepTracker(model.parameters(), Callback())
    best = float("inf")
    for _ in range(5):
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            tracker.param_norms()
        _sync(device)
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


@dataclass(frozen=True)
class Utilisation:
    """NVML's GPU utilisation (percent of time a kernel ran) over one loop's stretch of training."""

    mean: float
    peak: float
    samples: int
    memory_gb: float


class NvmlSampler(threading.Thread):
    """Reads GPU 0's utilisation and memory from NVML every 0.1 s until ``stop`` is set."""

    def __init__(self, sampler: SystemSampler) -> None:
        super().__init__(daemon=True)
        self.sampler = sampler
        self.stop = threading.Event()
        self.readings: list[tuple[float, float]] = []  # (seconds since start, percent)
        self.memory_gb: list[float] = []

    def run(self) -> None:
        started = time.perf_counter()
        while not self.stop.wait(0.1):
            points = self.sampler()
            if "system/gpu0/util_percent" in points:
                self.readings.append((time.perf_counter() - started, points["system/gpu0/util_percent"]))
            if "system/gpu0/mem_gb" in points:
                self.memory_gb.append(points["system/gpu0/mem_gb"])


def gpu_utilisation(loops: dict[str, EpochFn], splits: list[Split], seconds: float) -> dict[str, Utilisation]:
    """Each loop trains alone for about ``seconds`` (its segments over and over) while NVML is sampled every
    0.1 s; the first 0.5 s of each stretch is left out (NVML averages over up to a second behind). Empty where
    NVML sees no GPU."""
    sampler = SystemSampler()
    try:
        if sampler.gpu_count == 0:
            return {}
        out: dict[str, Utilisation] = {}
        for name, epoch in loops.items():
            thread = NvmlSampler(sampler)
            thread.start()
            deadline = time.perf_counter() + seconds
            turn = 0
            while time.perf_counter() < deadline:
                epoch(splits[turn % len(splits)], 1000 + turn)
                turn += 1
            torch.cuda.synchronize()
            thread.stop.set()
            thread.join()
            kept = [value for at, value in thread.readings if at >= 0.5] or [value for _, value in thread.readings]
            if kept:
                out[name] = Utilisation(statistics.fmean(kept), max(kept), len(kept), max(thread.memory_gb, default=0))
        return out
    finally:
        sampler.close()


@dataclass
class Rates:
    """samples/s of each loop: the best segment or epoch, and the median one; GPU utilisation on CUDA."""

    best: dict[str, float]
    median: dict[str, float]
    norm_s: float
    gpu: dict[str, Utilisation]


BREAKDOWN = {
    "ours_bf16": "  ours with bf16 autocast (CUDA only; off by default)",
    "untracked": "  ours without its tracking (the loop alone)",
    "bare_bf16": "  bare with bf16 autocast",
}


def bench(
    work: Workload,
    *,
    device: str,
    data_dir: Path | None,
    rounds: int,
    util_seconds: float = 3.0,
    breakdown: bool = False,
) -> Rates:
    """Step loops in short interleaved segments (many turns each), then full epochs (``rounds`` turns each)."""
    accel = resolve_accel(device, conv=work.spec.model.arch != "mlp")
    data, pixels = build_data(work, data_dir)
    data = data.to(accel.device)
    torch.manual_seed(0)
    initial = build_model(work.spec, in_shape=data.shape, n_classes=len(data.classes))

    def fresh(plain: bool) -> nn.Module:
        model = copy.deepcopy(initial)
        return model.to(accel.device) if plain else accel.prepare_model(model)

    size = work.segment_steps * work.spec.batch_size
    starts = [(i * size) % max(len(data.train) - size, 1) for i in range(work.segments + 1)]
    splits = [Split(data.train.x[s : s + size], data.train.y[s : s + size]) for s in starts]
    with tempfile.TemporaryDirectory() as tmp:
        step_loops = {"ours": run_ours(fresh(False), work, data, accel, full=False, ckpt_dir=Path(tmp))}
        step_loops["bare"] = run_bare(fresh(True), work, data, accel)
        if breakdown:  # where ours's time goes: autocast, the tracker, the loop
            step_loops["untracked"] = run_untracked(fresh(False), work, accel)
            if accel.device.type == "cuda" and torch.cuda.is_bf16_supported():
                bf16 = dataclasses.replace(accel, amp=True)
                step_loops["ours_bf16"] = run_ours(fresh(False), work, data, bf16, full=False, ckpt_dir=Path(tmp))
                step_loops["bare_bf16"] = run_bare(fresh(True), work, data, bf16)
        seconds = interleave(step_loops, splits, accel.device)  # the first turn of each is the warm-up
        main_loops = {name: step_loops[name] for name in ("ours", "bare")}
        gpu = gpu_utilisation(main_loops, splits, util_seconds) if accel.device.type == "cuda" else {}
        epoch_loops = {
            "ours_full": run_ours(fresh(False), work, data, accel, full=True, ckpt_dir=Path(tmp)),
            "report_full": run_report(fresh(True), work, data, pixels, accel),
        }
        interleave(epoch_loops, splits[:1], accel.device)  # warm-up
        seconds.update(interleave(epoch_loops, [data.train] * rounds, accel.device))
    counts = {name: size for name in step_loops} | {name: len(data.train) for name in epoch_loops}
    kept = {name: times[1:] if name in step_loops else times for name, times in seconds.items()}
    return Rates(
        best={name: counts[name] / min(times) for name, times in kept.items()},
        median={name: counts[name] / statistics.median(times) for name, times in kept.items()},
        norm_s=norm_seconds(fresh(False), accel.device),
        gpu=gpu,
    )


def print_utilisation(gpu: dict[str, Utilisation], seconds: float) -> None:
    if not gpu:
        print("  GPU utilisation: not measured (NVML sees no GPU)")
        return
    for name, util in gpu.items():
        print(
            f"  GPU utilisation, {name:<4} alone for {seconds:.0f} s: mean {util.mean:5.1f} %, peak {util.peak:5.1f} % "
            f"({util.samples} NVML samples; GPU memory used {util.memory_gb:.2f} GB)"
        )
    if "ours" in gpu and "bare" in gpu and gpu["bare"].mean > 0:
        print(f"  GPU utilisation ours / bare = {gpu['ours'].mean / gpu['bare'].mean:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--data-dir", type=Path, default=None, help="use real data laid out as TRAINBOARD_DATA_DIR")
    parser.add_argument("--workloads", default="mlp,vgg", help="comma-separated: mlp, vgg")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--segments", type=int, help="interleaved turns of ours and bare (default: the workload's)")
    parser.add_argument(
        "--util-seconds",
        type=float,
        default=3.0,
        help="CUDA: seconds each loop trains alone while NVML's GPU utilisation is sampled",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time ours without its tracking, and (CUDA) ours and bare with bf16 autocast",
    )
    parser.add_argument(
        "--no-malloc-tuning", action="store_true", help="keep glibc's trim thresholds (train() raises them)"
    )
    args = parser.parse_args()
    if not args.no_malloc_tuning:
        tune_malloc()  # process-wide, so every loop below gets it
    source = "synthetic" if args.data_dir is None else args.data_dir
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, data {source}")
    print(f"{machine_load()} at the start")
    for key in args.workloads.split(","):
        work = WORKLOADS[key]
        if args.segments is not None:
            work = dataclasses.replace(work, segments=args.segments)
        started = time.perf_counter()
        rates = bench(
            work,
            device=args.device,
            data_dir=args.data_dir,
            rounds=args.rounds,
            util_seconds=args.util_seconds,
            breakdown=args.breakdown,
        )
        print(f"\n{work.name}  ({time.perf_counter() - started:.0f} s; {machine_load()})")
        labels = {
            "ours": "ours (train step + all tracking)",
            "bare": "bare PyTorch loop",
            "ours_full": "ours full epoch (+ valid/test eval, checkpoint)",
            "report_full": "report-style epoch (DataLoader, + train/valid eval)",
        }
        print(f"  {'samples/s':>62} {'best':>9} {'median':>9}")
        for name, label in labels.items():
            print(f"  {label:<62} {rates.best[name]:>9.1f} {rates.median[name]:>9.1f}")
        for name, label in BREAKDOWN.items():
            if name in rates.best:
                ratio = f"{rates.best[name] / rates.best['bare']:.3f} / {rates.median[name] / rates.median['bare']:.3f}"
                print(f"  {label:<62} {rates.best[name]:>9.1f} {rates.median[name]:>9.1f}  vs bare {ratio}")
        step_s = work.spec.batch_size / rates.best["bare"]
        print(f"  param_norm alone: {rates.norm_s * 1e6:.0f} us per step = {rates.norm_s / step_s:.1%} of a bare step")
        for label, table in (("best", rates.best), ("median", rates.median)):
            print(
                f"  {label:<6}  ours / bare = {table['ours'] / table['bare']:.3f}   "
                f"ours / report = {table['ours_full'] / table['report_full']:.3f} (full epochs)"
            )
        if args.device == "cuda":
            print_utilisation(rates.gpu, args.util_seconds)
    print(f"\n{machine_load()} at the end")


if __name__ == "__main__":
    main()
