"""Run artifacts (filter images, misclassified galleries, ...) stored as files under TRAINBOARD_HOME."""

from __future__ import annotations

import mimetypes
import os
import re
from pathlib import Path

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MEDIA_TYPES = {".json": "application/json", ".png": "image/png", ".pt": "application/octet-stream"}


def is_valid_name(name: str) -> bool:
    return bool(NAME_PATTERN.match(name)) and ".." not in name


def media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def run_dir(root: Path, run_id: int) -> Path:
    return root / str(run_id)


def resolve(root: Path, run_id: int, name: str) -> Path | None:
    """The file of an artifact, or None when the name is unsafe or the file would lie outside the run's folder."""
    if not is_valid_name(name):
        return None
    base = run_dir(root, run_id).resolve()
    path = (base / name).resolve()
    if path.parent != base:
        return None
    return path


def save(root: Path, run_id: int, name: str, data: bytes) -> Path:
    path = resolve(root, run_id, name)
    if path is None:
        raise ValueError(f"invalid artifact name {name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def list_names(root: Path, run_id: int) -> list[tuple[str, int]]:
    base = run_dir(root, run_id)
    if not base.is_dir():
        return []
    return sorted(
        (p.name, p.stat().st_size)
        for p in base.iterdir()
        if p.is_file() and not p.is_symlink() and is_valid_name(p.name)
    )
