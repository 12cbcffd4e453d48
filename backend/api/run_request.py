"""The body of `POST /api/runs`: a run spec (built-in, or external as before) or a script's own run with any config.

A body with a `command` key is a command run (`CommandRunIn`: your own command, filled from its `config`, run by a
worker started with `--code DIR`); one with a `config` key is a script's run (`ExternalRunIn`: `external`, `name`,
`tags`, `config`); any other is a `RunSpec`. The choice is made here rather than by a pydantic union, so that a 422
names the field as the launch form knows it (`["body", "optimizer", "lr"]`), with no union member's name in between.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from backend.schemas import CommandRunIn, ExternalRunIn
from trainboard.command import CommandError
from trainboard.spec import RunSpec

RunRequest = RunSpec | ExternalRunIn | CommandRunIn
Model = TypeVar("Model", bound=BaseModel)

CONFIG_NEEDS_EXTERNAL = (
    'a free-form config is for a run your own script trains: send "external": true with it '
    "(a built-in run's config is its spec)"
)


def parse_run_request(body: dict[str, Any]) -> RunRequest:
    """The spec, external run or command run the body describes; RequestValidationError (a 422) naming the bad
    field (a command's missing placeholder: ``["body", "command", <index>]``)."""
    if "command" in body:
        return parse_command_run(body)
    if "config" in body and body.get("external") is not True:
        raise RequestValidationError([_error(("config",), CONFIG_NEEDS_EXTERNAL)])
    model: type[RunSpec | ExternalRunIn] = ExternalRunIn if "config" in body else RunSpec
    return _validated(model, body)


def parse_command_run(body: dict[str, Any], *, loc: tuple[str, ...] = ("body",)) -> CommandRunIn:
    """A command run, every placeholder of its command found in its config; errors at ``loc`` + the field."""
    request = _validated(CommandRunIn, body, loc=loc)
    try:
        request.argv()
    except CommandError as exc:
        raise RequestValidationError([_error(("command", exc.index or 0), str(exc), loc=loc)]) from None
    return request


def _validated(model: type[Any], body: dict[str, Any], *, loc: tuple[str, ...] = ("body",)) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _request_error(exc, loc) from None


def _request_error(exc: ValidationError, loc: tuple[str, ...]) -> RequestValidationError:
    return RequestValidationError([{**error, "loc": (*loc, *error["loc"])} for error in exc.errors(include_url=False)])


def _error(field: tuple[str | int, ...], msg: str, *, loc: tuple[str, ...] = ("body",)) -> dict[str, Any]:
    return {"loc": (*loc, *field), "msg": msg, "type": "value_error", "input": None}


def request_body_schema(*models: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses its own body: one of ``models``, with their sub-schemas
    inlined (the operation stands alone)."""
    inlined = [_inline(model) for model in models]
    schema = inlined[0] if len(inlined) == 1 else {"oneOf": inlined}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def validated_json(model: type[Model], body: bytes, *, loc: tuple[str, ...] = ("body",)) -> Model:
    """``model`` validated straight from a raw JSON body by pydantic's own parser (for a 1,000-point batch about
    half the time of FastAPI's ``json.loads`` then validation); a 422 names the field as FastAPI's would."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        error = _request_error(exc, loc)
        for detail in error.errors():
            if detail["type"] == "json_invalid":
                detail["input"] = None  # the whole body, which may be megabytes: not sent back (FastAPI sends {})
        raise error from None


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
