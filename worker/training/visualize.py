"""fig6 and fig7 as PNG bytes (made with PIL): first-layer filters, activation maximization, and
the misclassified test images with their predicted class and confidence."""

from __future__ import annotations

import io
import json

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from worker.training.data import Data
from worker.training.device import Accel
from worker.training.evaluate import predict

Artifact = tuple[str, bytes, str]  # name, data, media type
PNG = "image/png"
MAX_FIRST_LAYER_TILES = 64
TILE_TARGET_PX = 96
FILTER_TILE_PX = 64


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def to_uint8(tiles: torch.Tensor) -> np.ndarray:
    """Min-max scale each tile of ``tiles`` (N x C x H x W) to 0..255, as N x H x W x C uint8."""
    flat = tiles.detach().float().cpu().flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    scaled = (flat - low) / (high - low).clamp_min(1e-12) * 255.0
    return scaled.round().to(torch.uint8).view_as(tiles).permute(0, 2, 3, 1).numpy()


def tile_image(tile: np.ndarray, scale: int) -> Image.Image:
    """An H x W x C uint8 array (C = 1 or 3) as an RGB image, upscaled ``scale`` times without blurring."""
    image = Image.fromarray(tile[..., 0] if tile.shape[-1] == 1 else tile).convert("RGB")
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def grid(
    images: list[Image.Image], *, captions: list[str] | None = None, columns: int = 8, gap: int = 4
) -> Image.Image:
    """Tiles of equal size in a grid on a dark background, each with an optional caption below it."""
    if not images:
        canvas = Image.new("RGB", (320, 40), (24, 24, 24))
        ImageDraw.Draw(canvas).text((8, 12), "nothing to show", fill=(220, 220, 220))
        return canvas
    width, height = images[0].size
    caption_h = 14 if captions else 0
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    canvas = Image.new("RGB", (columns * (width + gap) + gap, rows * (height + caption_h + gap) + gap), (24, 24, 24))
    draw = ImageDraw.Draw(canvas)
    for i, image in enumerate(images):
        x, y = gap + (i % columns) * (width + gap), gap + (i // columns) * (height + caption_h + gap)
        canvas.paste(image, (x, y))
        if captions:
            draw.text((x + 1, y + height + 1), captions[i], fill=(235, 235, 235))
    return canvas


def first_layer_filters(model: nn.Module, *, in_shape: tuple[int, int, int]) -> Artifact:
    """First conv kernels as RGB (or gray) tiles; for an MLP the input weights of its first units as images."""
    layer = next(m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    weight = layer.weight.detach()
    if isinstance(layer, nn.Linear):
        weight = weight.view(-1, *in_shape)
    weight = weight[:MAX_FIRST_LAYER_TILES]
    scale = max(2, FILTER_TILE_PX // weight.shape[-1])
    tiles = [tile_image(t, scale) for t in to_uint8(weight)]
    return "filters_first_layer.png", png_bytes(grid(tiles)), PNG


def activation_maximization(
    model: nn.Module, *, data: Data, n_filters: int = 8, steps: int = 40, seed: int = 0
) -> Artifact | None:
    """Inputs that maximize the mean activation of a few filters of the deepest conv layer (conv models only).

    Normalized gradient ascent from small noise, with a little L2 decay on the image, for a fixed
    number of steps on a batch of one image per filter: a second or two on a CPU.
    """
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Sequential):
        return None
    last_conv = max(i for i, m in enumerate(features) if isinstance(m, nn.Conv2d))
    end = next(i for i in range(last_conv, len(features)) if isinstance(features[i], nn.ReLU))
    body = features[: end + 1]
    conv = features[last_conv]
    assert isinstance(conv, nn.Conv2d)
    channels = torch.arange(min(n_filters, conv.out_channels))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    low, high = (-1.0, 1.0) if data.train.x.dtype == torch.uint8 else (0.0, 1.0)
    generator = torch.Generator().manual_seed(seed)
    x = (0.5 * (low + high) + 0.05 * torch.randn(len(channels), *data.shape, generator=generator)).to(device)
    for _ in range(steps):
        x.requires_grad_(True)
        activation = body(x)[torch.arange(len(channels)), channels.to(device)]
        objective = activation.mean(dim=(1, 2)).sum() - 1e-3 * x.pow(2).sum()
        (grad,) = torch.autograd.grad(objective, x)
        with torch.no_grad():
            x = (x + 0.05 * grad / grad.flatten(1).std(1).clamp_min(1e-8).view(-1, 1, 1, 1)).clamp_(low, high)
    model.train(was_training)
    scale = max(1, TILE_TARGET_PX // data.shape[-1])
    tiles = [tile_image(t, scale) for t in to_uint8(x)]
    captions = [f"filter {int(c)}" for c in channels]
    return "filters_activation_max.png", png_bytes(grid(tiles, captions=captions, columns=4)), PNG


def misclassified(model: nn.Module, data: Data, *, n: int, accel: Accel) -> list[Artifact]:
    """fig7: the ``n`` most confidently misclassified test images, a grid, one PNG each and an index.

    ``misclassified.json`` lists ``{index, true, pred, confidence, image}`` (index into the test set,
    class names, the softmax probability of the predicted class, the per-image file name).
    """
    probs = predict(model, data.test, accel=accel).softmax(1)
    confidence, pred = probs.max(1)
    wrong = (pred != data.test.y).nonzero().flatten()
    chosen = wrong[confidence[wrong].argsort(descending=True, stable=True)][:n]
    pixels = Data.pixels(data.test.x[chosen]).cpu().permute(0, 2, 3, 1).numpy()
    scale = max(1, TILE_TARGET_PX // data.shape[-1])
    rows = zip(
        chosen.tolist(), data.test.y[chosen].tolist(), pred[chosen].tolist(), confidence[chosen].tolist(), strict=True
    )
    entries, tiles, artifacts = [], [], []
    for i, (index, true, predicted, conf) in enumerate(rows):
        name = f"misclassified_{i}.png"
        tile = tile_image(pixels[i], scale)
        tiles.append(tile)
        artifacts.append((name, png_bytes(tile), PNG))
        entries.append(
            {
                "index": index,
                "true": data.classes[true],
                "pred": data.classes[predicted],
                "confidence": round(conf, 4),
                "image": name,
            }
        )
    # PIL's default font is about 6 px a character: long class names are cut to keep each caption under its tile
    room = max(3, (scale * data.shape[-1] // 6 - 5) // 2)
    captions = [f"{str(e['true'])[:room]}>{str(e['pred'])[:room]} {float(e['confidence']):.0%}" for e in entries]
    index = json.dumps(entries, indent=1).encode()
    grid_png = png_bytes(grid(tiles, captions=captions, columns=6))
    return [("misclassified.json", index, "application/json"), ("misclassified_grid.png", grid_png, PNG), *artifacts]
