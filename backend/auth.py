"""Who may call what: named tokens with roles, and the role each API route needs.

Three modes, from the settings:
- no token (the laptop default, loopback only): every caller is the anonymous admin;
- ``TRAINBOARD_TOKEN``: one shared secret, whose holder is an admin;
- ``TRAINBOARD_TOKENS_FILE``: one token a line, ``name role secret`` (``#`` starts a comment), roles ``admin``,
  ``user`` (launch, cancel, read, and rename, tag, annotate, archive or delete any run or sweep: runs have no
  owner), ``read`` (dashboards and reads only) and ``worker`` (claim runs and report on
  them). With a file, ``TRAINBOARD_TOKEN`` is only what this process itself presents (a worker's secret).

The table here is checked by ``request_guard`` before a route runs and before any body byte is read. A route
missing from it needs ``admin`` for anything but a read, so a new write route is closed until it is listed.

A run's lease is a credential of its own, for the user's code a worker runs (a command run): with tokens on, a
request with no token but the run's *current* lease in ``X-Trainboard-Lease`` may make the requests of
``LEASE_RULES`` about that run, and nothing else, so the user's code never sees the worker's token. Launching a
command run is launching code on a worker: ``admin`` and ``user`` may, as they may launch any run.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from trainboard.settings import MAKE_A_TOKEN, MIN_TOKEN_LENGTH, Settings


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"
    READ = "read"
    WORKER = "worker"
    RUN = "run"  # not a token's role: the caller holds a run's current lease and no token (LEASE_RULES)


TOKEN_ROLES = (Role.ADMIN, Role.USER, Role.READ, Role.WORKER)


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a token's name and role (``anonymous`` when the API has no tokens)."""

    name: str
    role: Role


ANONYMOUS = Principal(name="anonymous", role=Role.ADMIN)
EVERYONE = frozenset(Role)
LAUNCHERS = frozenset({Role.ADMIN, Role.USER})
WORKERS = frozenset({Role.ADMIN, Role.WORKER})
# Writes for one attempt of a run: a worker's, or the user's own script for an external run. The lease the
# attempt got when it was claimed or created decides which attempt may write (backend/services/leases.py).
REPORTERS = frozenset({Role.ADMIN, Role.WORKER, Role.USER})
ADMINS = frozenset({Role.ADMIN})

_RUN = r"/api/runs/[^/]+"
# (method, path pattern, roles allowed, what it does: for the 403 message). Reads (GET, HEAD) are open to every
# role unless listed.
RULES: tuple[tuple[str, re.Pattern[str], frozenset[Role], str], ...] = tuple(
    (method, re.compile(pattern + r"/?"), roles, action)
    for method, pattern, roles, action in (
        ("POST", r"/api/runs", LAUNCHERS, "launching runs"),
        ("POST", _RUN + r"/cancel", LAUNCHERS, "cancelling runs"),
        ("POST", _RUN + r"/claim", WORKERS, "claiming runs"),
        ("POST", _RUN + r"/status", REPORTERS, "reporting on a run"),
        ("POST", _RUN + r"/metrics", REPORTERS, "posting metrics"),
        ("POST", _RUN + r"/logs", REPORTERS, "posting log lines"),
        ("PUT", _RUN + r"/artifacts/[^/]+", REPORTERS, "uploading artifacts"),
        ("PATCH", _RUN, LAUNCHERS, "editing runs"),
        ("DELETE", _RUN, LAUNCHERS, "deleting runs"),
        ("POST", r"/api/sweeps", LAUNCHERS, "launching sweeps"),
        ("POST", r"/api/sweeps/[^/]+/cancel", LAUNCHERS, "cancelling sweeps"),
        ("POST", r"/api/sweeps/[^/]+/runs", LAUNCHERS, "adding runs to sweeps"),
        ("PATCH", r"/api/sweeps/[^/]+", LAUNCHERS, "editing sweeps"),
        ("DELETE", r"/api/sweeps/[^/]+", LAUNCHERS, "deleting sweeps"),
        ("POST", r"/api/presets/[^/]+", LAUNCHERS, "launching presets"),
        ("PUT", r"/api/workers/[^/]+", WORKERS, "registering workers"),
    )
)
# What a run's current lease alone lets its holder do, about that run only (the group is the run's id): read it and
# its files (trainboard.init attaches, run.restore), and write what its attempt writes.
_LEASED_RUN = r"/api/runs/(?P<run>[0-9]{1,10})"
LEASE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (method, re.compile(_LEASED_RUN + pattern + r"/?"))
    for method, pattern in (
        ("GET", ""),
        ("GET", r"/artifacts/[^/]+"),
        ("POST", r"/status"),
        ("POST", r"/metrics"),
        ("POST", r"/logs"),
        ("PUT", r"/artifacts/[^/]+"),
    )
)
LEASE_ONLY = (
    "a run's lease (X-Trainboard-Lease) without a token only lets its attempt read that run and its files and "
    "write its status, metrics, logs and artifacts"
)
PUBLIC_PATHS = frozenset({"/api/health"})
# EventSource cannot send headers, so the live stream alone may carry the token as ?token=; no other route
# accepts a token in its URL, where a proxy's access log would keep it.
QUERY_TOKEN_PATH = re.compile(_RUN + r"/events/?")


def leased_run(method: str, path: str) -> int | None:
    """The run whose lease may authorise this request on its own (``LEASE_RULES``), or None."""
    for rule_method, pattern in LEASE_RULES:
        match = pattern.fullmatch(path) if rule_method == method else None
        if match is not None:
            return int(match.group("run"))
    return None


def lease_principal(run_id: int) -> Principal:
    return Principal(name=f"run {run_id}'s attempt (its lease)", role=Role.RUN)


class TokensFileError(ValueError):
    """The tokens file is missing, unreadable or has a bad line; the message names the line."""


def allowed_roles(method: str, path: str) -> tuple[frozenset[Role], str]:
    """The roles that may make this request, and what it does in words."""
    for rule_method, pattern, roles, action in RULES:
        if rule_method == method and pattern.fullmatch(path):
            return roles, action
    if method in ("GET", "HEAD"):
        return EVERYONE, "reading"
    return ADMINS, f"{method} {path}"


class TokenTable:
    """The secrets the API accepts, kept as SHA-256 digests: comparing digests with ``compare_digest`` takes the
    same time whatever the secret's length, and no secret stays in memory longer than loading takes."""

    def __init__(self, entries: dict[bytes, Principal]) -> None:
        self._entries = entries

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def authenticate(self, presented: str) -> Principal | None:
        """The principal whose secret was presented, or None. An empty secret never matches."""
        presented = presented.strip()
        if not presented:
            return None
        digest = _digest(presented)
        found = None
        for known, principal in self._entries.items():
            if hmac.compare_digest(known, digest):
                found = principal
        return found


def load_token_table(settings: Settings) -> TokenTable:
    """The tokens the API accepts: the tokens file, else TRAINBOARD_TOKEN as one admin, else none."""
    if settings.tokens_file is not None:
        return TokenTable(parse_tokens_file(settings.tokens_file))
    if settings.token is not None:
        return TokenTable({_digest(settings.token.get_secret_value()): Principal(name="admin", role=Role.ADMIN)})
    return TokenTable({})


def parse_tokens_file(path: Path) -> dict[bytes, Principal]:
    """Read ``name role secret`` lines. Refuses short or repeated secrets, repeated names and unknown roles."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TokensFileError(f"TRAINBOARD_TOKENS_FILE {path}: cannot read it ({exc.strerror})") from exc
    entries: dict[bytes, Principal] = {}
    names: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"TRAINBOARD_TOKENS_FILE {path}, line {number}"
        fields = line.split()
        if len(fields) != 3:
            raise TokensFileError(f"{where}: expected 'name role secret', got {len(fields)} field(s)")
        name, role, secret = fields
        if role not in TOKEN_ROLES:
            raise TokensFileError(f"{where}: unknown role {role!r}; roles are {', '.join(TOKEN_ROLES)}")
        if len(secret) < MIN_TOKEN_LENGTH:
            raise TokensFileError(
                f"{where}: the secret of {name!r} has {len(secret)} characters; a token needs at least "
                f"{MIN_TOKEN_LENGTH}. Make one with: {MAKE_A_TOKEN}"
            )
        if name in names:
            raise TokensFileError(f"{where}: the name {name!r} is used twice")
        digest = _digest(secret)
        if digest in entries:
            raise TokensFileError(f"{where}: {name!r} has the same secret as {entries[digest].name!r}")
        names.add(name)
        entries[digest] = Principal(name=name, role=Role(role))
    if not entries:
        raise TokensFileError(f"TRAINBOARD_TOKENS_FILE {path}: no tokens in it (one 'name role secret' a line)")
    return entries


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
