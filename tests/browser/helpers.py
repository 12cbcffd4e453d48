"""Helpers of the browser tests: what the pages said, screenshots, tiny PNGs."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TOKEN = "s3cret-browser-token"  # what the token-protected stack of the tests requires
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


@dataclass
class Watch:
    """The console errors of the current test's page (the ``page`` fixture fails the test on any not ``allowed``)
    and every URL the pages of the module requested."""

    origins: list[str]
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def on_console(self, message: Any) -> None:
        text = f"{message.text} @ {message.location.get('url', '')}"
        if message.type == "error" and not any(p.search(text) for p in self.allowed):
            self.errors.append(f"console: {text}")

    def on_page_error(self, error: Any) -> None:
        self.errors.append(f"pageerror: {error}")

    def on_request(self, request: Any) -> None:
        url = request.url
        if not (any(url == o or url.startswith(o + "/") for o in self.origins) or url.startswith(("data:", "blob:"))):
            self.foreign.append(url)


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # a full-page shot of a scrolled page draws the sticky bar mid-page: back to the top, once scrolling settled
    page.wait_for_function("() => { window.scrollTo({top: 0, behavior: 'instant'}); return window.scrollY === 0; }")
    page.wait_for_timeout(100)
    page.screenshot(path=str(path), full_page=True)
    return path


def chart_png(page: Page, chart: str) -> tuple[str, int, int]:
    """Click the PNG button of Plotly's mode bar on a chart; the download's (file name, width, height)."""
    plot = page.locator(f'[data-chart="{chart}"]')
    plot.scroll_into_view_if_needed()
    plot.hover()  # the mode bar shows on hover
    with page.expect_download() as download:
        plot.locator('.modebar-btn[data-title*="png" i]').click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), f"{chart}: the download is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return download.value.suggested_filename, width, height


def png(width: int, height: int, pixel: Any) -> bytes:
    """A small RGB PNG; ``pixel(x, y)`` gives (r, g, b)."""
    raw = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class DroppingProxy:
    """A TCP proxy in front of the API whose connections the test can cut, as a flaky network would."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.down = False
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def drop(self) -> None:
        """Cut every open connection and refuse new ones until restore()."""
        self.down = True
        with self.lock:
            open_sockets = list(self.sockets)
        for sock in open_sockets:
            self._close(sock)

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self.drop()
        self.server.close()


class LeaseBook:
    """The tests play every run's writer (an external run's script, or the worker that claimed a run): an API
    client with ``event_hooks=LEASES.hooks()`` notes the lease of each run it creates or claims and sends it in
    X-Trainboard-Lease with that run's status, metric and artifact writes."""

    WRITE = re.compile(r"/runs/(\d+)/(?:status|metrics|logs|artifacts/)")
    ISSUED = re.compile(r"/runs(?:/\d+/claim)?$")

    def __init__(self) -> None:
        self.leases: dict[str, str] = {}

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self._send], "response": [self._note]}

    def _send(self, request: Any) -> None:
        match = self.WRITE.search(request.url.path)
        if match and match.group(1) in self.leases:
            request.headers["X-Trainboard-Lease"] = self.leases[match.group(1)]

    def _note(self, response: Any) -> None:
        if response.request.method != "POST" or response.status_code not in (200, 201):
            return
        if self.ISSUED.search(response.request.url.path):
            run = json.loads(response.read())
            if isinstance(run, dict) and run.get("lease"):
                self.leases[str(run["id"])] = run["lease"]


LEASES = LeaseBook()
