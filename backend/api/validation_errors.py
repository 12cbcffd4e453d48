"""FastAPI's 422 for a request that fails validation, able to echo any input back as valid JSON."""

from __future__ import annotations

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import Request

from backend.finite import json_safe


async def validation_error_response(request: Request, exc: RequestValidationError) -> JSONResponse:
    """As FastAPI's own handler, but an `input` holding NaN or infinity (Python's json reads those in request
    bodies) is echoed as null: rendered as is, the 422 itself would fail and the client would get a 500."""
    errors = jsonable_encoder(exc.errors())
    try:
        detail = json_safe(errors)
    except ValueError:  # an input nested too deep to echo: the error names the field all the same
        detail = json_safe([{key: value for key, value in error.items() if key != "input"} for error in errors])
    return JSONResponse(status_code=422, content={"detail": detail})
