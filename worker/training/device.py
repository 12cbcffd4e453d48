"""Where a run executes and which speed-ups apply there (TF32, channels_last).

On CUDA, runs train in float32 with TF32 tensor-core matmuls and convolutions. bf16 autocast is there
(``Accel.amp``) but off: on an H200 it made the report's workloads slower, not faster (the MLP at batch 64:
0.71x a bare fp32 loop with it, 0.93x without; VGG deep at batch 16: 0.91x with, 1.04x without, BENCHMARKS §7),
because their small batches are bound by kernel launches, and autocast adds a cast kernel per weight per step.

channels_last is used for conv models on the CPU too: oneDNN's convolutions and max-pooling run
faster on it there (docs/BENCHMARKS.md, §7).
Conv evaluation on the CPU also prefers small batches (they stay in cache); an MLP and CUDA big ones.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import sys
from dataclasses import dataclass

import torch
from torch import nn

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_malloc_tuned = False


@dataclass(frozen=True)
class Accel:
    """The device plus the CUDA-only tricks; on the CPU everything runs plain float32, reproducibly.

    ``amp``: bf16 autocast (off by default, see the module's docstring; bench/bench_loop.py --breakdown times it).
    """

    device: torch.device
    amp: bool = False
    channels_last: bool = False
    eval_batch: int = 1024

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """bf16 autocast on CUDA GPUs that support bf16 (no grad scaler needed); a no-op elsewhere."""
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return model

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x


def resolve_accel(device: str, *, conv: bool) -> Accel:
    """``auto`` means CUDA when available. Conv models get channels_last everywhere."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA GPU here; use 'auto' or 'cpu'")
    if device == "cpu" or not torch.cuda.is_available():
        return Accel(torch.device("cpu"), channels_last=conv, eval_batch=64 if conv else 1024)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    return Accel(torch.device("cuda"), channels_last=conv)


def tune_malloc() -> None:
    """Keep memory freed by a training step in the process, instead of handing it back to the kernel.

    Every CPU step frees and re-allocates the same few megabytes (gradients, activations). glibc
    returns them to the kernel whenever the free top of its heap passes the trim threshold, and the
    next step page-faults them back in: about 1,200 minor faults per step for fig1's MLP, ~10 % of
    its step time. Raising the mmap and trim thresholds keeps them (the worker process exists to
    train, so holding on to a few hundred MB is fine). Process-wide, idempotent; a no-op without
    glibc. The same can be had with ``GLIBC_TUNABLES=glibc.malloc.trim_threshold=...`` at start-up.
    """
    global _malloc_tuned
    if _malloc_tuned or not sys.platform.startswith("linux"):
        return
    _malloc_tuned = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(_M_TRIM_THRESHOLD, 512 << 20)
    except (OSError, AttributeError):
        return
    if not ok:
        logger.debug("mallopt refused the thresholds; keeping glibc's defaults")
