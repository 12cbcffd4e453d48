"""FastAPI's 422 for a request that fails validation, able to echo any input back as valid JSON, and briefly."""

from __future__ import annotations

from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import Request

from backend.finite import MAX_DEPTH, json_safe

ECHO_CHARS = 200  # a longer string in an error's `loc` or `input` is cut to this many characters, then "…"
ECHO_ITEMS = 20  # a longer list or object in an error's `input` is cut to its first this many items


async def validation_error_response(request: Request, exc: RequestValidationError) -> JSONResponse:
    """As FastAPI's own handler, but an `input` holding NaN or infinity (Python's json reads those in request
    bodies) is echoed as null: rendered as is, the 422 itself would fail and the client would get a 500. What is
    echoed is cut short: a 5 MB metric key or a 100,000-point list that fails validation is named in a reply of a
    few hundred bytes, not sent back whole (twice, in `loc` and `input`)."""
    errors = [{**error, "loc": [brief(part) for part in error["loc"]]} for error in jsonable_encoder(exc.errors())]
    try:
        detail = json_safe([_briefly_echoed(error) for error in errors])
    except ValueError:  # an input nested too deep to echo: the error names the field all the same
        detail = json_safe([{key: value for key, value in error.items() if key != "input"} for error in errors])
    return JSONResponse(status_code=422, content={"detail": detail})


def _briefly_echoed(error: dict[str, Any]) -> dict[str, Any]:
    return {**error, "input": brief(error["input"])} if "input" in error else error


def brief(value: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """``value`` with every string longer than ECHO_CHARS cut to that length plus "…", and every list or object
    cut to its first ECHO_ITEMS items (a cut list ends with "…"); what is short stays as it is.

    Raises ValueError for nesting deeper than ``max_depth`` levels.
    """
    if isinstance(value, str):
        return value if len(value) <= ECHO_CHARS else value[:ECHO_CHARS] + "…"
    if isinstance(value, list | dict) and max_depth <= 0:
        raise ValueError("nested too deep")
    if isinstance(value, list):
        items = [brief(item, max_depth=max_depth - 1) for item in value[:ECHO_ITEMS]]
        return items if len(value) <= ECHO_ITEMS else [*items, "…"]
    if isinstance(value, dict):
        kept = list(value.items())[:ECHO_ITEMS]
        return {brief(key): brief(item, max_depth=max_depth - 1) for key, item in kept}
    return value
