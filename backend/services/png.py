"""PNG bytes from raw uint8 pixels with only the standard library (the API has no Pillow)."""

from __future__ import annotations

import struct
import zlib

COLOR_TYPES = {1: 0, 3: 2}  # channels -> PNG colour type: gray, RGB


def encode_png(pixels: bytes, *, height: int, width: int, channels: int) -> bytes:
    """An 8-bit gray (1 channel) or RGB (3 channels) PNG of ``pixels`` laid out H x W x C."""
    if channels not in COLOR_TYPES or len(pixels) != height * width * channels:
        raise ValueError("pixels must be H x W x C uint8 with 1 or 3 channels")
    stride = width * channels
    rows = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, COLOR_TYPES[channels], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
