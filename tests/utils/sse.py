"""Reading a live stream in tests: Server-Sent Events frames as (id, kind, data)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

Event = tuple[int, str, dict[str, Any]]


def sse_events(lines: Iterable[str]) -> Iterator[Event]:
    """The events of a stream's lines, as they arrive: (id, kind, data); stops at `end`."""
    event_id, kind = 0, ""
    for line in lines:
        if line.startswith("id:"):
            event_id = int(line[3:])
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            if kind == "end":
                return
            yield event_id, kind, json.loads(line[5:])
