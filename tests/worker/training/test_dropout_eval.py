"""fig3's inference schemes on a small trained dropout MLP."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from tests.worker.training.helpers import small_spec
from worker.training.data import load_data
from worker.training.device import Accel
from worker.training.dropout_eval import mask_sums, scale_scheme_model
from worker.training.models import MLP

CPU = Accel(torch.device("cpu"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[MLP, torch.Tensor]:
    """A 784-64-10 MLP with dropout 0.5 trained for a few epochs, and test images."""
    from tests.utils.datasets import write_mnist

    data_dir = write_mnist(tmp_path_factory.mktemp("data"), n_train=400, n_test=200)
    data = load_data(small_spec(), data_dir=data_dir, cache_dir=data_dir / "cache")
    torch.manual_seed(0)
    model = MLP(784, [64], 10, dropout=0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(3):
        for idx in torch.randperm(len(data.train)).split(16):
            optimizer.zero_grad()
            F.cross_entropy(model(data.train.x[idx]), data.train.y[idx]).backward()
            optimizer.step()
    return model.eval(), data.test.x


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_scheme_i_is_eval_mode(trained: tuple[MLP, torch.Tensor], p: float) -> None:
    model, x = copy.deepcopy(trained[0]), trained[1]
    for layer in model:
        if isinstance(layer, torch.nn.Dropout):
            layer.p = p
    with torch.no_grad():
        eval_mode, scheme_i = model.eval()(x), scale_scheme_model(model)(x)
    if p == 0.5:
        assert torch.equal(scheme_i, eval_mode)  # (w / 0.5) * 0.5 is exact in floating point
    else:
        torch.testing.assert_close(scheme_i, eval_mode)
    assert not any(isinstance(layer, torch.nn.Dropout) for layer in scale_scheme_model(model))


def test_mask_averages_converge_to_scheme_i(trained: tuple[MLP, torch.Tensor]) -> None:
    model, x = trained
    with torch.no_grad():
        reference = model.eval()(x)
    torch.manual_seed(0)
    gaps, agreement = {}, {}
    for n, logit_sum, prob_sum in mask_sums(model, x, max_n=400, accel=CPU):
        if n in (4, 400):
            # One dropout layer feeding the linear output: the expected masked logits are scheme (i)'s.
            gaps[n] = (logit_sum / n - reference).abs().mean().item()
            agreement[n] = (prob_sum.argmax(1) == reference.argmax(1)).float().mean().item()
    model.eval()
    assert gaps[400] < gaps[4] / 4  # the error shrinks like 1/sqrt(N)
    assert agreement[400] >= max(agreement[4], 0.95)
