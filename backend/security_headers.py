"""A plain ASGI middleware that gives every response the dashboard's security headers.

Plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a millisecond a request on the metrics path
(see body_limit.py). A response that sets one of these headers itself keeps its own: artifacts are served with a
``sandbox`` policy, the /docs and /redoc pages with one that allows their single inline script.

A reply sent before the request's body was read to its end (a 401, a 413: a refusal) also gets
``Connection: close``. Otherwise uvicorn keeps the connection and reads and discards the rest of the body, so a
refused 1 GiB upload would still be received whole; closing makes the refusal cost nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts only from our origin: no inline script, no eval, so an injected string can never run. Styles allow
# 'unsafe-inline' because Plotly writes style attributes and <style> elements as it draws. Images may be blob:
# URLs (artifacts fetched with the token) and data: URLs (Plotly's PNG export).
DASHBOARD_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DEFAULT_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": DASHBOARD_CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, headers: Mapping[str, str] = DEFAULT_HEADERS) -> None:
        self.app = app
        self.headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        body_pending = _has_body(scope)

        async def tracked_receive() -> Message:
            nonlocal body_pending
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_pending = False
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _ in own}
                missing = [(name, value) for name, value in self.headers if name not in present]
                if body_pending and b"connection" not in present:
                    missing.append((b"connection", b"close"))
                if missing:
                    message = {**message, "headers": own + missing}
            await send(message)

        await self.app(scope, tracked_receive if body_pending else receive, send_with_headers)


def _has_body(scope: Scope) -> bool:
    """Whether the request comes with a body: a non-zero Content-Length, or chunked."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return True
    return False
