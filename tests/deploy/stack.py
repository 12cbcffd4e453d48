"""Reading the deployment files the way Docker and Compose do, without either of them installed."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
# Add-on compose files (`docker compose -f docker-compose.yml -f docker/<name>.compose.yml`).
OVERLAY_FILES = sorted((ROOT / "docker").glob("*.compose.yml"))
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_SPEC = Path(__file__).resolve().parent / "compose-spec.json"

# The `trainboard` subcommands of the product contract.
CLI_SUBCOMMANDS = frozenset({"up", "api", "worker", "migrate", "train", "submit", "sweep", "ls", "watch"})

# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`, `$NAME`;
# `$$` is a literal $.
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    """What `docker compose` reports for a `${NAME:?message}` whose variable is missing."""


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    return data


def compose_spec() -> dict[str, Any]:
    return json.loads(COMPOSE_SPEC.read_text())  # type: ignore[no-any-return]


def interpolated_names(text: str) -> dict[str, bool]:
    """Every variable a compose file interpolates, mapped to whether it is required (`:?` / `?`)."""
    names: dict[str, bool] = {}
    for m in _INTERPOLATION.finditer(text):
        name = m.group("braced") or m.group("bare")
        if name:
            names[name] = names.get(name, False) or (m.group("op") or "").endswith("?")
    return names


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution, applied to every string in a parsed compose file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("bare")
        op, arg = m.group("op") or "", m.group("arg") or ""
        current = env.get(name)
        missing = current is None or (op.startswith(":") and current == "")
        if op.endswith("?") and missing:
            raise InterpolationError(f"required variable {name} is missing a value: {arg}")
        if op.endswith("-") and missing:
            return arg
        return current or ""

    return _INTERPOLATION.sub(substitute, value)


def read_env_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """(the variables a .env file sets, the names it only mentions in commented-out `# NAME=...` lines)."""
    values: dict[str, str] = {}
    commented: set[str] = set()
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if not m:
            continue
        if m.group(1):
            commented.add(m.group(2))
        else:
            values[m.group(2)] = m.group(3).strip()
    return values, commented


def argv(command: str | list[str]) -> list[str]:
    """A compose `command` (string or list) as the argv the container gets."""
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def dockerfile_instructions(path: Path) -> list[Instruction]:
    """A Dockerfile's instructions, with comments dropped and `\\` continuation lines joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        text = " ".join(part.strip() for part in pending)
        pending = []
        keyword, _, args = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    assert not pending, f"{path.name} ends inside a continued instruction"
    return instructions


def exec_form(args: str) -> list[str] | None:
    """The argv of an exec-form (JSON array) CMD/ENTRYPOINT/COPY, or None for the shell form."""
    if not args.startswith("["):
        return None
    parsed = json.loads(args)
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed), args
    return parsed


def copy_sources(instruction: Instruction) -> list[str]:
    """The build-context paths a COPY/ADD reads (none for `COPY --from=<stage>`)."""
    words = exec_form(instruction.args) or shlex.split(instruction.args)
    flags = [w for w in words if w.startswith("--")]
    if any(f.startswith("--from=") for f in flags):
        return []
    paths = [w for w in words if not w.startswith("--")]
    return paths[:-1]


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as (is an exception `!pattern`, regex) pairs, in file order."""
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:].strip() if negate else line
        rules.append((negate, re.compile(_glob_to_regex(pattern.strip("/")))))
    return rules


def dockerignored(path: str) -> bool:
    """Whether the build context leaves out ``path`` (from the repo root); the last matching rule wins."""
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for negate, rule in dockerignore_patterns():
        if any(rule.fullmatch(c) for c in candidates):
            ignored = not negate
    return ignored


def _glob_to_regex(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out
