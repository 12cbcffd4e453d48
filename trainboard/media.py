"""Images a script logs (``run.log_image``) and files it saves (``run.save``), as artifacts: their names, PNG
encoding, and the ``media.json`` index the run page's media panel reads.

An image logged under ``key`` at ``step`` is the artifact ``media-<k>-<step:09d>.png``, where ``<k>`` is the key
with every ``/`` replaced by ``.`` and every ``:`` by ``_`` (``train/samples`` at step 12:
``media-train.samples-000000012.png``). ``media.json`` is ``{"<key>": [{"step", "file", "caption"}, ...]}``,
each list in step order, uploaded whole after each image.

Images: a PIL image, a file path (any format Pillow reads), a numpy array or a torch tensor (duck-typed: torch is
never imported). Arrays are HW (grey), HWC or CHW with 1, 3 or 4 channels (a tensor is read as CHW when both
fit, an array as HWC), floats in [0, 1] (clipped) or integers in [0, 255]; a batch (NCHW for a tensor, NHWC or
NCHW for an array) becomes one grid image of ceil(sqrt(N)) columns, 2 black pixels apart. Pillow and numpy are
needed only here, imported when an image is logged.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from trainboard.limits import METRIC_KEY

INDEX_NAME = "media.json"
ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # as the artifacts API takes them
CHANNELS = (1, 3, 4)
GRID_PADDING = 2


def media_name(key: str, step: int) -> str:
    """The artifact name of the image logged under ``key`` at ``step``."""
    return f"media-{key.replace('/', '.').replace(':', '_')}-{step:09d}.png"


def checked_key(key: Any) -> str:
    if not isinstance(key, str) or not METRIC_KEY.fullmatch(key):
        raise ValueError(f"image key {key!r}: use 1 to 64 characters among letters, digits and _ . : / -")
    return key


def artifact_name(path: str | os.PathLike[str], name: str | None = None) -> str:
    """``name``, or the file's base name, made to fit the artifacts API's names: every character outside
    ``A-Za-z0-9._-`` becomes ``_``, a leading ``.``, ``_`` or ``-`` is dropped, and the name is cut to 128
    characters keeping its extension (``my model (v2).pt`` → ``my_model__v2_.pt``)."""
    raw = name if name is not None else Path(path).name
    fitted = re.sub(r"[^A-Za-z0-9._-]", "_", raw).lstrip("._-")
    if len(fitted) > 128:
        stem, dot, ext = fitted.rpartition(".")
        fitted = f"{stem[: 127 - len(ext)]}.{ext}" if dot and len(ext) < 16 else fitted[:128]
    if not ARTIFACT_NAME.fullmatch(fitted):
        raise ValueError(f"cannot make an artifact name of {raw!r}: give name='...' (letters, digits, . _ -)")
    return fitted


class MediaIndex:
    """``media.json`` as the client keeps it: per key, the logged images in step order."""

    def __init__(self, existing: Any = None) -> None:
        self.entries: dict[str, list[dict[str, Any]]] = {}
        if isinstance(existing, dict):
            for key, items in existing.items():
                if isinstance(items, list):
                    self.entries[str(key)] = [item for item in items if isinstance(item, dict) and "step" in item]

    def add(self, key: str, step: int, file: str, caption: str | None) -> bytes:
        """Record an image (replacing one logged under the same key and step); returns the whole index as JSON."""
        items = [item for item in self.entries.get(key, []) if item.get("step") != step]
        items.append({"step": step, "file": file, "caption": caption})
        items.sort(key=lambda item: item["step"])
        self.entries[key] = items
        return json.dumps(self.entries, separators=(",", ":")).encode()


def to_png(image: Any) -> bytes:
    """The image as PNG bytes (see the module's docstring for what is taken)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("log_image needs Pillow (and numpy for arrays): pip install pillow numpy") from None
    if isinstance(image, str | os.PathLike):
        with Image.open(image) as opened:
            picture = opened.copy()
    elif isinstance(image, Image.Image):
        picture = image
    elif hasattr(image, "shape"):
        picture = Image.fromarray(_as_uint8_image(image))
    else:
        raise TypeError(
            f"log_image takes a PIL image, a file path, a numpy array or a torch tensor, not {type(image).__name__}"
        )
    if picture.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        picture = picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _as_uint8_image(array: Any) -> Any:
    """A tensor or an array as a HW or HWC uint8 numpy array; a batch becomes a grid."""
    import numpy as np

    channels_first = type(array).__module__.startswith("torch")
    if channels_first:
        array = array.detach().cpu()
        if array.dtype.is_floating_point:
            array = array.float()  # bfloat16 has no numpy type
        array = array.numpy()
    array = np.asarray(array)
    if array.ndim == 4:
        array = _grid(np.stack([_hwc(item, channels_first) for item in array]))
    elif array.ndim == 3:
        array = _hwc(array, channels_first)
    elif array.ndim != 2:
        raise ValueError(f"an image is HW, HWC, CHW or a batch of them (4 dimensions), not shape {array.shape}")
    array = _to_uint8(array)
    return array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array


def _hwc(array: Any, channels_first: bool) -> Any:
    """One image (3 dimensions) with its channels last."""
    first, last = array.shape[0] in CHANNELS, array.shape[-1] in CHANNELS
    if first and (channels_first or not last):
        return array.transpose(1, 2, 0)
    if last:
        return array
    raise ValueError(f"an image needs 1, 3 or 4 channels first (CHW) or last (HWC), not shape {array.shape}")


def _to_uint8(array: Any) -> Any:
    import numpy as np

    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        return (np.nan_to_num(np.clip(array, 0.0, 1.0)) * 255 + 0.5).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)


def _grid(batch: Any) -> Any:
    """NHWC images in a grid of ceil(sqrt(N)) columns, 2 pixels of black between them (make_grid's layout)."""
    import numpy as np

    count, height, width, channels = batch.shape
    columns = min(count, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / columns)
    pad = GRID_PADDING
    grid = np.zeros((rows * (height + pad) + pad, columns * (width + pad) + pad, channels), dtype=batch.dtype)
    for index in range(count):
        top, left = (index // columns) * (height + pad) + pad, (index % columns) * (width + pad) + pad
        grid[top : top + height, left : left + width] = batch[index]
    return grid
