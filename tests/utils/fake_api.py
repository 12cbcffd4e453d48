"""A stand-in for the API a worker talks to, on a port of its own: it records what the worker's reporter and
log sender post, in arrival order, and answers as the API would. Nothing listens on the port until one starts."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.utils.batches import posted_points

METRICS = re.compile(r"^/api/runs/(\d+)/metrics$")
LOGS = re.compile(r"^/api/runs/(\d+)/logs$")


class FakeApi:
    """Just enough of the API for a worker's reporter and run log: every point and log line posted, in order."""

    def __init__(self, port: int) -> None:
        self.posted: list[tuple[int, str, int]] = []  # (run, key, step)
        self.log_lines: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                match = METRICS.match(self.path)
                if match:
                    run_id = int(match.group(1))
                    points = posted_points(body)
                    api.posted.extend((run_id, key, step) for key, step, _ in points)
                    reply: dict[str, Any] = {"accepted": len(points), "duplicates": 0, "status": "running"}
                elif LOGS.match(self.path):
                    api.log_lines.extend(body["lines"])
                    reply = {"accepted": len(body["lines"]), "full": False}
                else:  # /status: the heartbeat
                    reply = {"status": "running", "worker": body.get("worker"), "stop_requested": None}
                self._reply(reply)

            def do_PUT(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                self._reply({"name": self.path.rsplit("/", 1)[-1]})

            def _reply(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def steps(self, run_id: int, key: str = "loss") -> list[int]:
        return [step for run, k, step in self.posted if run == run_id and k == key]
