"""How much memory a run spec asks of a worker, worked out from the spec alone (no torch: the API imports it).

The estimate mirrors ``worker/training/models.py`` layer by layer, in float32:

- **weights**: the exact parameter count; gradients (one more copy); the optimizer's state (momentum: one
  buffer, adam: two, plain sgd: none).
- **training step**: what autograd keeps for backward, per image, times the batch size (Linear/Conv/BatchNorm
  keep their input, ReLU its output, max-pooling its int64 indices, dropout its mask), plus the largest
  activation once more, for what is alive only for a moment (an output nothing keeps, a gradient in backward).
  On the CPU this is within 15 % of the measured peak of a training step (tests/trainboard/test_estimate.py).
- **evaluation**: a no-grad forward of ``eval_batch`` images (1024; 64 for a conv model on ``device: cpu``, as
  ``worker/training/device.py`` picks), where each layer's input and output are alive at once.

The peak is the weights plus the larger of the training step and the evaluation. On a GPU with bf16 autocast
the activations take about half of this, so the estimate errs on the safe side. The dataset itself (up to a
few hundred MB on the device) is not counted: it depends on the files, not on the spec. The input shape is the
spec's (``RunSpec.input_shape``: 28x28 gray, CIFAR-10's 32x32 RGB, or ``image_size`` for image folders).

``checkpoint_bytes`` is the size of ``checkpoint_last.pt``, written (and uploaded) every epoch: the model,
the optimizer state, and the best epoch's model, which resuming needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trainboard.spec import RunSpec

GB = 2**30  # what nvidia-smi and torch call a GB
FLOAT = 4
INDEX = 8  # max-pooling's indices are int64
MASK = 4  # dropout keeps a float mask on the CPU (a bool one on CUDA)
CNN_FILTERS = (32, 64)
CNN_HIDDEN = 128
VGG_HIDDEN = 1024
EVAL_BATCH = 1024
CPU_CONV_EVAL_BATCH = 64
OPTIMIZER_BUFFERS = {"sgd": 0, "momentum": 1, "adam": 2}
# The number of classes of each built-in dataset; an image folder's is only known from its files, so the estimate
# counts FOLDER_CLASSES (only the last layer depends on it: a few KB per class).
N_CLASSES = {"mnist": 10, "fashion-mnist": 10, "cifar10": 10, "dogs-vs-cats": 2}
FOLDER_CLASSES = 100


@dataclass(frozen=True)
class RunEstimate:
    """Bytes a run needs on its worker, and the spec field that makes most of them."""

    n_params: int
    batch_size: int  # per training step: the spec's, or ``limit_train`` when that is smaller
    weight_bytes: int  # parameters + gradients + optimizer state
    saved_bytes_per_image: int  # what autograd keeps for backward, per image of a training batch
    activation_bytes: int  # the training step's activations at ``batch_size`` (saved + in flight)
    eval_batch: int
    eval_bytes: int  # activations alive at once while evaluating ``eval_batch`` images
    checkpoint_bytes: int
    floor_bytes: int  # the peak at batch_size 1: what no smaller batch can save
    dominant: tuple[str, ...]  # ("batch_size",) or the model field, e.g. ("model", "blocks")

    @property
    def total_bytes(self) -> int:
        """The peak: weights, gradients and optimizer state plus the larger of training and evaluation."""
        return self.weight_bytes + max(self.activation_bytes, self.eval_bytes)


class RunTooLarge(ValueError):
    """A spec whose estimate is over the cap; ``field`` is the spec field to change, ``msg`` says by how much."""

    def __init__(self, field: tuple[str, ...], msg: str) -> None:
        super().__init__(msg)
        self.field = field
        self.msg = msg


@dataclass
class _Trace:
    """Walks a model's layers for one image, recording what training keeps and what evaluation holds at once."""

    input_bytes: int
    params: int = 0
    state_bytes: int = 0  # parameters and buffers, as a state_dict holds them
    saved: dict[int, int] = field(default_factory=dict)  # tensor id -> bytes, each tensor counted once
    largest: int = 0
    eval_peak: int = 0
    _tensors: list[int] = field(default_factory=list)  # bytes of each tensor made, by id

    def __post_init__(self) -> None:
        self._tensors.append(self.input_bytes)
        self.eval_peak = self.input_bytes
        self.current = 0

    def layer(
        self, out_bytes: int, *, keeps: str = "", extra: int = 0, params: int = 0, buffers: int = 0, evals: bool = True
    ) -> None:
        """One layer making a new tensor of ``out_bytes``; ``keeps`` is "input", "output" or "" for backward.

        ``extra``: bytes it keeps besides (pooling indices, a dropout mask). ``evals``: False for dropout,
        which passes its input through untouched in evaluation.
        """
        self.params += params
        self.state_bytes += (params + buffers) * FLOAT
        out = len(self._tensors)
        self._tensors.append(out_bytes)
        if keeps == "input":
            self.saved[self.current] = self._tensors[self.current]
        elif keeps == "output":
            self.saved[out] = out_bytes
        if extra:
            self.saved[-out] = extra
        self.largest = max(self.largest, out_bytes)
        if evals:
            # the caller keeps the batch alive, so the input image counts alongside each layer's in and out
            held = self.input_bytes if self.current else 0
            self.eval_peak = max(self.eval_peak, held + self._tensors[self.current] + out_bytes + extra)
        self.current = out

    def linear(self, n_in: int, n_out: int) -> None:
        self.layer(n_out * FLOAT, keeps="input", params=n_in * n_out + n_out)

    def conv3x3(self, c_in: int, c_out: int, pixels: int) -> None:
        self.layer(c_out * pixels * FLOAT, keeps="input", params=c_out * c_in * 9 + c_out)

    def batchnorm(self, channels: int, elements: int) -> None:
        # running mean and variance, plus an int64 batch counter (two floats' worth)
        self.layer(elements * FLOAT, keeps="input", params=2 * channels, buffers=2 * channels + 2)

    def relu(self, elements: int) -> None:
        self.layer(elements * FLOAT, keeps="output")

    def maxpool(self, out_elements: int) -> None:
        self.layer(out_elements * FLOAT, keeps="input", extra=out_elements * INDEX)

    def dropout(self, elements: int) -> None:
        self.layer(elements * FLOAT, extra=elements * MASK, evals=False)

    def loss(self, n_classes: int) -> None:
        # log-softmax keeps its output; the loss keeps the int64 label
        self.layer(n_classes * FLOAT, keeps="output", extra=INDEX, evals=False)


def _mlp(trace: _Trace, spec: RunSpec, in_features: int, n_classes: int) -> None:
    width = in_features
    for size in spec.model.hidden:
        trace.linear(width, size)
        trace.relu(size)
        if spec.model.dropout > 0:
            trace.dropout(size)
        width = size
    trace.linear(width, n_classes)


def _cnn(trace: _Trace, spec: RunSpec, shape: tuple[int, int, int], n_classes: int) -> None:
    channels, height, width = shape
    batchnorm = spec.model.norm == "batchnorm"
    for out in CNN_FILTERS:
        trace.conv3x3(channels, out, height * width)
        if batchnorm:
            trace.batchnorm(out, out * height * width)
        trace.relu(out * height * width)
        height, width = height // 2, width // 2
        trace.maxpool(out * height * width)
        if not batchnorm:
            trace.dropout(out * height * width)
        channels = out
    trace.linear(channels * height * width, CNN_HIDDEN)
    if batchnorm:
        trace.batchnorm(CNN_HIDDEN, CNN_HIDDEN)
    trace.relu(CNN_HIDDEN)
    if not batchnorm:
        trace.dropout(CNN_HIDDEN)
    trace.linear(CNN_HIDDEN, n_classes)


def _vgg(trace: _Trace, spec: RunSpec, shape: tuple[int, int, int], n_classes: int) -> None:
    channels, height, width = shape
    for out in spec.model.block_filters():
        trace.conv3x3(channels, out, height * width)
        trace.batchnorm(out, out * height * width)
        trace.relu(out * height * width)
        channels, height, width = out, height // 2, width // 2
        trace.maxpool(channels * height * width)
    width_in = channels * height * width
    for _ in range(2):
        trace.linear(width_in, VGG_HIDDEN)
        trace.batchnorm(VGG_HIDDEN, VGG_HIDDEN)
        trace.relu(VGG_HIDDEN)
        width_in = VGG_HIDDEN
    trace.linear(VGG_HIDDEN, n_classes)


def model_input(spec: RunSpec) -> tuple[tuple[int, int, int], int]:
    """The shape of one image (channels, height, width) and the number of classes the estimate sizes for."""
    return spec.input_shape(), N_CLASSES.get(spec.dataset, FOLDER_CLASSES)


def _trace(spec: RunSpec) -> _Trace:
    shape, n_classes = model_input(spec)
    channels, height, width = shape
    trace = _Trace(input_bytes=channels * height * width * FLOAT)
    if spec.model.arch == "mlp":
        _mlp(trace, spec, channels * height * width, n_classes)
    elif spec.model.arch == "cnn":
        _cnn(trace, spec, shape, n_classes)
    else:
        _vgg(trace, spec, shape, n_classes)
    trace.loss(n_classes)
    return trace


def count_params(spec: RunSpec) -> int:
    """The trainable parameters of the model the worker builds for ``spec`` (as ``sum(p.numel())``)."""
    return _trace(spec).params


def estimate_run(spec: RunSpec) -> RunEstimate:
    """The memory and checkpoint size of ``spec`` on a worker, and the spec field that dominates them."""
    trace = _trace(spec)
    batch = min(spec.batch_size, spec.limit_train or spec.batch_size)
    eval_batch = CPU_CONV_EVAL_BATCH if spec.device == "cpu" and spec.model.arch != "mlp" else EVAL_BATCH
    optimizer_bytes = trace.params * FLOAT * OPTIMIZER_BUFFERS[spec.optimizer.name]
    weight_bytes = 2 * trace.params * FLOAT + optimizer_bytes
    saved = sum(trace.saved.values())
    per_image = saved + trace.largest
    eval_bytes = trace.eval_peak * eval_batch
    activation_bytes = per_image * batch
    return RunEstimate(
        n_params=trace.params,
        batch_size=batch,
        weight_bytes=weight_bytes,
        saved_bytes_per_image=saved,
        activation_bytes=activation_bytes,
        eval_batch=eval_batch,
        eval_bytes=eval_bytes,
        checkpoint_bytes=2 * trace.state_bytes + optimizer_bytes,
        floor_bytes=weight_bytes + max(per_image, eval_bytes),
        dominant=("batch_size",) if activation_bytes > max(weight_bytes, eval_bytes) else _model_field(spec),
    )


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / GB:.1f} GB" if n_bytes >= GB / 10 else f"{n_bytes / GB:.2f} GB"


def check_fits(spec: RunSpec, *, max_gb: float) -> RunEstimate:
    """The estimate of ``spec``, or ``RunTooLarge`` naming the field to change when it is over ``max_gb``.

    The field is ``batch_size`` when a smaller batch would fit, else the model's (no batch size helps).
    """
    estimate = estimate_run(spec)
    limit = max_gb * GB
    if estimate.total_bytes <= limit:
        return estimate
    parts = f"parameters, gradients and optimizer state {_gb(estimate.weight_bytes)}, "
    parts += f"activations {_gb(estimate.activation_bytes)} at batch_size {estimate.batch_size}"
    if estimate.eval_bytes > estimate.activation_bytes:
        parts += f", evaluation {_gb(estimate.eval_bytes)} at {estimate.eval_batch} images a batch"
    msg = f"this run needs about {_gb(estimate.total_bytes)} ({parts}); "
    msg += f"the limit is {max_gb:g} GB (TRAINBOARD_MAX_RUN_GB)"
    if estimate.floor_bytes > limit:
        hint = f"even at batch_size 1 it needs {_gb(estimate.floor_bytes)}, "
        hint += f"and its checkpoint takes {_gb(estimate.checkpoint_bytes)} every epoch: make the model smaller"
        raise RunTooLarge(_model_field(spec), f"{msg}; {hint}")
    per_image = estimate.activation_bytes // estimate.batch_size
    largest_batch = int((limit - estimate.weight_bytes) // per_image)
    raise RunTooLarge(("batch_size",), f"{msg}; a batch_size of at most {largest_batch} fits")


def _model_field(spec: RunSpec) -> tuple[str, ...]:
    # the cnn's shape is fixed: only another architecture makes it smaller
    return {"mlp": ("model", "hidden"), "cnn": ("model", "arch")}.get(spec.model.arch, ("model", "blocks"))
