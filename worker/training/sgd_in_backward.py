"""Plain SGD applied inside ``backward()`` on the CPU, one parameter at a time, as soon as its gradient is ready.

torch's SGD without momentum updates each parameter on its own: ``g = g + weight_decay * p`` and then
``p -= lr * g``. Doing exactly those two operations in a post-accumulate-grad hook gives bit-identical
weights to ``optimizer.step()`` after ``backward()``, but it touches each gradient right after the
matrix product that wrote it, while it is still in cache, and frees it at once, so the next layer's
gradient reuses the same memory. The squared norm that ``param_norm`` needs is taken in the same hook,
while the updated parameter is still in cache too. On fig1's MLP this is what makes the tracked loop
faster than a bare ``zero_grad / backward / step`` loop (``bench/bench_loop.py``).

Only plain SGD on the CPU qualifies: momentum and Adam keep per-parameter state that the fused
multi-tensor kernels already update well, and on CUDA a per-parameter hook would mean more kernel
launches than the fused optimizer's one.

The hooks are registered only while an epoch trains (``with SGDInBackward(...)``), so evaluation or
the activation-maximization pictures, which never accumulate into ``.grad`` anyway, cannot move a weight.
"""

from __future__ import annotations

from types import TracebackType

import torch
from torch.utils.hooks import RemovableHandle


class SGDInBackward:
    """Runs ``optimizer``'s (plain SGD) step per parameter inside backward; collects squared norms."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        if not self.applies(optimizer):
            raise ValueError("SGDInBackward needs plain SGD (no momentum) on CPU parameters")
        self.group = optimizer.param_groups[0]
        self.params: list[torch.Tensor] = list(self.group["params"])
        self._slot = {id(p): i for i, p in enumerate(self.params)}
        self._squared: list[torch.Tensor | None] = [None] * len(self.params)
        self._handles: list[RemovableHandle] = []

    @staticmethod
    def applies(optimizer: torch.optim.Optimizer) -> bool:
        """True for torch.optim.SGD with one parameter group, no momentum, on contiguous CPU parameters."""
        if type(optimizer) is not torch.optim.SGD or len(optimizer.param_groups) != 1:
            return False
        group = optimizer.param_groups[0]
        plain = group["momentum"] == 0 and not group["maximize"] and not group.get("fused")
        params = group["params"]
        return plain and all(p.device.type == "cpu" and p.is_contiguous() for p in params)

    def __enter__(self) -> SGDInBackward:
        self._handles = [p.register_post_accumulate_grad_hook(self._step) for p in self.params]
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @torch.no_grad()
    def _step(self, param: torch.Tensor) -> None:
        grad = param.grad
        assert grad is not None
        param.grad = None
        weight_decay = self.group["weight_decay"]
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        param.add_(grad, alpha=-self.group["lr"])
        self._squared[self._slot[id(param)]] = _dot(param)

    def take_squared_norms(self) -> list[torch.Tensor]:
        """The squared norm of every parameter after this step's update (in parameter order), for the next step."""
        squared, self._squared = self._squared, [None] * len(self.params)
        # A parameter that got no gradient was not updated (torch's SGD skips it too): take its norm as it is.
        return [value if value is not None else _dot(p) for p, value in zip(self.params, squared, strict=True)]


def _dot(param: torch.Tensor) -> torch.Tensor:
    flat = param.detach().view(-1)
    return torch.dot(flat, flat)
