"""The body of `POST /api/runs`: a run spec (built-in, or external as before) or a script's own run with any config.

A body with a `config` key is a script's run (`ExternalRunIn`: `external`, `name`, `tags`, `config`); any other is
a `RunSpec`. The choice is made here rather than by a pydantic union, so that a 422 names the field as the
launch form knows it (`["body", "optimizer", "lr"]`), with no union member's name in between.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from backend.schemas import ExternalRunIn
from trainboard.spec import RunSpec

CONFIG_NEEDS_EXTERNAL = (
    'a free-form config is for a run your own script trains: send "external": true with it '
    "(a built-in run's config is its spec)"
)


def parse_run_request(body: dict[str, Any]) -> RunSpec | ExternalRunIn:
    """The spec or the external run the body describes; RequestValidationError (a 422) naming the bad field."""
    if "config" in body and body.get("external") is not True:
        raise RequestValidationError(
            [{"loc": ("body", "config"), "msg": CONFIG_NEEDS_EXTERNAL, "type": "value_error", "input": None}]
        )
    model: type[RunSpec | ExternalRunIn] = ExternalRunIn if "config" in body else RunSpec
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in errors]) from None


def request_body_schema() -> dict[str, Any]:
    """The OpenAPI request body: either model, with their sub-schemas inlined (the operation stands alone)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"oneOf": [_inline(RunSpec), _inline(ExternalRunIn)]}}},
        }
    }


def _inline(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
