"""The report's architectures, init schemes, and the two bugs of the report's code kept out."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.worker.training.helpers import small_spec
from worker.training.models import MLP, build_model, count_params, init_weights, mnist_cnn, vgg

MNIST = (1, 28, 28)
RGB64 = (3, 64, 64)


def test_report_mlp_has_1_276_810_parameters() -> None:
    assert count_params(MLP(784, [800, 800], 10)) == 1_276_810


@pytest.mark.parametrize(
    ("blocks", "expected"), [("shallow", 5_274_882), ("shallow-fat", 9_539_074), ("deep", 1_373_986)]
)
def test_vgg_parameter_counts_match_the_report(blocks: str, expected: int) -> None:
    spec = small_spec(dataset="dogs-vs-cats", model={"arch": "vgg", "blocks": blocks})
    assert count_params(build_model(spec, in_shape=RGB64, n_classes=2)) == expected


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]


def _biases(model: nn.Module) -> list[torch.Tensor]:
    return [m.bias for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d) and m.bias is not None]


def test_zero_init_sets_every_weight_and_bias_to_zero() -> None:
    model = vgg(RGB64, 2, filters=[8, 16])
    init_weights(model, "zero")
    assert all(torch.count_nonzero(w) == 0 for w in _weights(model) + _biases(model))
    batchnorm = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert torch.all(batchnorm.weight == 1)  # BatchNorm keeps its defaults


def test_normal_init_draws_standard_normal_weights() -> None:
    torch.manual_seed(0)
    model = MLP(784, [800], 10)
    init_weights(model, "normal")
    weight = _weights(model)[0]
    assert abs(weight.mean().item()) < 0.01
    assert weight.std().item() == pytest.approx(1.0, abs=0.01)
    assert all(torch.count_nonzero(b) == 0 for b in _biases(model))


def test_glorot_init_is_uniform_within_the_relu_gain_bound() -> None:
    torch.manual_seed(0)
    model = mnist_cnn(MNIST, 10, norm="batchnorm", dropout=0.0)
    init_weights(model, "glorot")
    for weight in _weights(model):
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
        bound = math.sqrt(2.0) * math.sqrt(6.0 / (fan_in + fan_out))
        assert weight.abs().max().item() <= bound
        assert weight.abs().max().item() > 0.9 * bound  # spread over the whole range, not a narrower one
        assert weight.std().item() == pytest.approx(bound / math.sqrt(3.0), rel=0.1)


@pytest.mark.parametrize(
    "model",
    [
        MLP(784, [32, 32], 10),
        mnist_cnn(MNIST, 10, norm="batchnorm", dropout=0.0),
        mnist_cnn(MNIST, 10, norm="dropout", dropout=0.5),
    ],
    ids=["mlp", "cnn-batchnorm", "cnn-dropout"],
)
def test_a_samples_output_does_not_depend_on_the_rest_of_the_batch(model: nn.Module) -> None:
    torch.manual_seed(0)
    model.eval()
    batch = torch.rand(8, *MNIST)
    other = batch.clone()
    other[1:] = torch.rand(7, *MNIST)  # sample 0 unchanged, everything else different
    with torch.no_grad():
        alone, first, second = model(batch[:1]), model(batch), model(other)
    assert first.shape == (8, 10)
    torch.testing.assert_close(first[0], second[0])
    torch.testing.assert_close(first[:1], alone)


def test_vgg_flattens_sample_by_sample() -> None:
    torch.manual_seed(0)
    model = vgg(RGB64, 2, filters=[8, 8, 8, 8, 8]).eval()
    batch = torch.rand(4, *RGB64)
    with torch.no_grad():
        together = model(batch)
        one_by_one = torch.cat([model(batch[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(together, one_by_one)


def test_probabilities_are_normalized_per_sample_over_the_classes() -> None:
    torch.manual_seed(0)
    model = MLP(784, [32], 10).eval()
    logits = model(torch.rand(5, *MNIST))
    labels = torch.arange(5)
    probs = logits.softmax(1)
    torch.testing.assert_close(probs.sum(1), torch.ones(5))
    per_sample = -F.log_softmax(logits, dim=1)[torch.arange(5), labels].mean()
    torch.testing.assert_close(F.cross_entropy(logits, labels), per_sample)
    across_batch = -F.log_softmax(logits, dim=0)[torch.arange(5), labels].mean()  # the report's dim=0 bug
    assert not torch.allclose(F.cross_entropy(logits, labels), across_batch)
