"""Third-party files (plotly.js bundles; Swagger UI and ReDoc for /docs and /redoc): served from memory, gzipped
once, cached by browsers."""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import HTTPException, Request, Response

VENDOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.(js|css)$")
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
YEAR_S = 365 * 24 * 3600


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int, size: int) -> Asset:
    """Read and compress a file once per version of it (the cache key holds its mtime and size)."""
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:16]
    return Asset(body=body, gzipped=gzip.compress(body, compresslevel=6, mtime=0), etag=f'"{digest}"')


def load_asset(path: Path) -> Asset:
    stat = path.stat()
    return _load(path, stat.st_mtime_ns, stat.st_size)


def vendor_path(directory: Path, name: str) -> Path:
    """``directory/name`` for a plain script or stylesheet name in that folder; 404 for anything else."""
    path = directory / name
    if not VENDOR_NAME.match(name) or not path.is_file() or path.resolve().parent != directory.resolve():
        raise HTTPException(status_code=404, detail="not found")
    return path


def script_response(request: Request, path: Path, *, max_age: int, immutable: bool = False) -> Response:
    """The script (or stylesheet) at ``path``, gzipped when the client accepts it, with a validator and a long
    cache lifetime."""
    asset = load_asset(path)
    headers = {
        "Cache-Control": f"public, max-age={max_age}" + (", immutable" if immutable else ""),
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
    }
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(content=body, media_type=MEDIA_TYPES[path.suffix], headers=headers)
