"""Run artifacts (filter images, misclassified galleries, ...) stored as files under TRAINBOARD_HOME."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from backend.services.event_kinds import EventKind
from backend.services.events import append_event, locked_run

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
CHECKPOINT_NAME = "checkpoint_last.pt"
# What a browser may show on our origin: raster images and JSON. SVG is not here: it can carry script.
INLINE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".json": "application/json",
}
DOWNLOAD_TYPE = "application/octet-stream"
# An artifact opened on its own is a sandboxed document that may load nothing: even a file that slipped past the
# type rules cannot run script with the dashboard's origin (and its token in localStorage).
ARTIFACT_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"
TEMP_PREFIX = ".upload-"


def is_valid_name(name: str) -> bool:
    return bool(NAME_PATTERN.match(name)) and ".." not in name


def media_type(name: str) -> str:
    """The type an artifact is served with: its own for images and JSON, a plain download for anything else."""
    return INLINE_TYPES.get(Path(name).suffix.lower(), DOWNLOAD_TYPE)


def is_inline(name: str) -> bool:
    return Path(name).suffix.lower() in INLINE_TYPES


def serving_headers(name: str) -> dict[str, str]:
    """Headers of every artifact response: no sniffing, a sandbox, and ``attachment`` unless shown inline."""
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": ARTIFACT_CSP}
    if not is_inline(name):
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return headers


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


@dataclass
class Upload:
    """An artifact being received: bytes go to a temp file of its own in the run's folder (never to memory),
    which replaces the artifact only once complete, so readers never see half a file and two concurrent uploads
    of one name never write into the same temp file."""

    path: Path
    temp: Path
    file: BinaryIO
    size: int = field(default=0)
    committed: bool = field(default=False)

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.size += len(chunk)

    def commit(self) -> Path:
        self.file.close()
        os.replace(self.temp, self.path)
        self.committed = True
        return self.path

    def discard(self) -> None:
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


def begin_upload(*, root: Path, run_id: int, name: str) -> Upload:
    """Open a uniquely named temp file for ``name``; ``commit()`` or ``discard()`` it."""
    path = resolve(root, run_id, name)
    if path is None:
        raise ValueError(f"invalid artifact name {name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{name}.", dir=path.parent)
    return Upload(path=path, temp=Path(temp), file=os.fdopen(fd, "wb"))


def list_names(root: Path, run_id: int) -> list[tuple[str, int]]:
    base = run_dir(root, run_id)
    if not base.is_dir():
        return []
    return sorted(
        (p.name, p.stat().st_size)
        for p in base.iterdir()
        if p.is_file() and not p.is_symlink() and is_valid_name(p.name)
    )


def refusal_message(*, name: str, size: int | None, limit: int) -> str:
    """What the run page says about an artifact too large to store, and what it costs the run."""
    what = f"{name} ({_human(size)})" if size is not None else f"{name} (over {_human(limit)})"
    message = f"{what} was not stored: the server's limit is {_human(limit)} (TRAINBOARD_MAX_ARTIFACT_BYTES)"
    if name == CHECKPOINT_NAME:
        message += "; if this run's worker dies it restarts from epoch 1"
    return message


def warn_refused_upload(session: Session, *, run_id: int, name: str, size: int | None, limit: int) -> bool:
    """Append a ``warning`` event saying an artifact was refused for its size; False when the run is gone."""
    with locked_run(session, run_id) as run:
        if run is None:
            return False
        message = refusal_message(name=name, size=size, limit=limit)
        append_event(
            session, run=run, kind=EventKind.WARNING, data={"message": message, "artifact": name, "size": size}
        )
        session.commit()
    return True


def _human(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
