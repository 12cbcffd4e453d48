"""Plain SGD inside backward: the same weights as ``optimizer.step()``, bit for bit, and only while training."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.worker.training.helpers import Recorder
from trainboard.spec import OptimizerSpec
from worker.training.data import Split
from worker.training.device import resolve_accel
from worker.training.loop import StepTracker, make_optimizer, train_epoch
from worker.training.sgd_in_backward import SGDInBackward


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [(torch.randn(8, 12, generator=generator), torch.randint(0, 3, (8,), generator=generator)) for _ in range(6)]


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)  # the same dropout masks in both loops
    return F.cross_entropy(model(x), y)


@pytest.mark.parametrize("weight_decay", [0.0, 1e-3])
def test_weights_are_bit_identical_to_optimizer_step(weight_decay: float) -> None:
    spec = OptimizerSpec(name="sgd", lr=0.1, weight_decay=weight_decay)
    reference, ours = _mlp(), _mlp()
    optimizer = make_optimizer(spec, reference.parameters())
    in_backward = SGDInBackward(make_optimizer(spec, ours.parameters()))
    norms = []
    with in_backward:
        for seed, (x, y) in enumerate(_batches()):
            optimizer.zero_grad(set_to_none=True)
            _loss(reference, x, y, seed).backward()
            optimizer.step()
            _loss(ours, x, y, seed).backward()
            norms.append(torch.stack(in_backward.take_squared_norms()).sum().sqrt())
            expected = torch.cat([p.detach().flatten() for p in reference.parameters()]).norm()
            assert float(norms[-1]) == pytest.approx(float(expected), rel=1e-6)
    for a, b in zip(reference.parameters(), ours.parameters(), strict=True):
        assert torch.equal(a, b)
        assert b.grad is None  # freed as soon as it was used
    assert norms[0] != norms[-1]


def test_only_plain_sgd_on_cpu_qualifies() -> None:
    params = list(_mlp().parameters())
    assert SGDInBackward.applies(make_optimizer(OptimizerSpec(name="sgd", lr=0.1), params))
    assert not SGDInBackward.applies(make_optimizer(OptimizerSpec(name="momentum", lr=0.1), params))
    assert not SGDInBackward.applies(make_optimizer(OptimizerSpec(name="adam", lr=0.1), params))
    conv = nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    assert not SGDInBackward.applies(make_optimizer(OptimizerSpec(name="sgd", lr=0.1), conv.parameters()))
    with pytest.raises(ValueError, match="plain SGD"):
        SGDInBackward(make_optimizer(OptimizerSpec(name="adam", lr=0.1), params))


def test_train_epoch_matches_a_bare_loop_and_leaves_no_hook_behind() -> None:
    model, bare = _mlp(), _mlp()
    spec = OptimizerSpec(name="sgd", lr=0.05, weight_decay=1e-3)
    optimizer = make_optimizer(spec, model.parameters())
    x = torch.cat([b[0] for b in _batches()])
    split = Split(x, torch.cat([b[1] for b in _batches()]))
    recorder = Recorder()
    tracker = StepTracker(model.parameters(), recorder, every=4)
    accel = resolve_accel("cpu", conv=False)
    train_epoch(
        model, optimizer, split, batch_size=8, seed=5, first_step=1, augmentation=False, accel=accel, tracker=tracker
    )

    bare_optimizer = make_optimizer(spec, bare.parameters())
    bare.train()
    torch.manual_seed(5)
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(5))
    norms = []
    for idx in order.split(8):
        bare_optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(bare(split.x[idx]), split.y[idx]).backward()
        bare_optimizer.step()
        norms.append(float(torch.cat([p.detach().flatten() for p in bare.parameters()]).norm()))
    for a, b in zip(model.parameters(), bare.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [v for _, v in recorder.series("param_norm")] == pytest.approx(norms, rel=1e-6)

    # After the epoch the hooks are gone: backward fills .grad and moves no weight.
    before = copy.deepcopy(model.state_dict())
    F.cross_entropy(model(x), split.y).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
