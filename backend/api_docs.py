"""/docs (Swagger UI) and /redoc served by the app itself, from frontend/vendor/: they work offline, and no
third-party script runs next to the token.

FastAPI's own pages load both from a CDN. These use its "self-hosting JavaScript and CSS for docs" recipe. The
Swagger UI page starts the bundle with one inline script; rather than allow inline script, the page's policy
names that script by its hash, so nothing else inline can run.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER_JS = "/vendor/swagger-ui-bundle-5.35.0.js"
SWAGGER_CSS = "/vendor/swagger-ui-5.35.0.css"
REDOC_JS = "/vendor/redoc.standalone-2.5.4.js"
FAVICON = "data:,"  # no request for an icon (FastAPI's default is on its CDN)
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_csp(page: str) -> str:
    """The docs pages' policy: our scripts plus the page's own inline ones by hash; styles inline (both
    libraries style their elements from script); ReDoc's search runs in a worker made from a blob: URL."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(page)
    )
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {hashes}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _with_policy(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = docs_csp(bytes(response.body).decode())
    return response


def install_docs(app: FastAPI) -> None:
    """Add /docs and /redoc (create the app with ``docs_url=None, redoc_url=None``)."""

    def openapi_url(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/") + (app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} · API",
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url=FAVICON,
            oauth2_redirect_url=None,
        )
        return _with_policy(page)

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} · API",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )
        return _with_policy(page)
