"""A plain ASGI middleware that answers 413 to a request body over its limit.

By the Content-Length header before the app runs, and by counting the bytes as a chunked body streams in (no
header to trust). Artifact uploads (``PUT /api/runs/{id}/artifacts/{name}``) are the one exception: that route
streams the body to disk and enforces its own, larger limit (TRAINBOARD_MAX_ARTIFACT_BYTES), so that a refused
file leaves a warning on its run.

Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware wraps every request in extra
tasks and streams, which cost a millisecond a request on the metrics path.
"""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI lets an HTTPException out of its body parsing, so it answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body over {limit} bytes")


ARTIFACT_UPLOAD = re.compile(r"/api/runs/[^/]+/artifacts/[^/]+$")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "PUT" and ARTIFACT_UPLOAD.search(scope["path"])):
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await _reply_413(send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if started:
                raise
            await _reply_413(send, limit)


async def _reply_413(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit} bytes"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
