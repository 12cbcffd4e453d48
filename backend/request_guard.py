"""The first thing every request meets: the Host check, the cross-site check, the token and the caller's role.

Plain ASGI, and it answers before the app runs, so a refused request never has a byte of its body read: an
unauthenticated 1 GiB upload costs the API nothing. In order:

1. ``Host`` must be a loopback name or one of ``TRAINBOARD_ALLOWED_HOSTS`` (DNS rebinding: a foreign page whose
   name resolves to 127.0.0.1 sends its own name), else 400;
2. a state-changing request (POST, PUT, PATCH, DELETE) a browser marks as sent from another site
   (``Sec-Fetch-Site: cross-site``/``same-site``, or an ``Origin`` that is not this host) gets 403: without a token,
   any web page could otherwise cancel runs with a plain form post;
3. ``/api`` routes but ``/api/health`` need a known token (``Authorization: Bearer``; ``?token=`` on the live
   stream only), else 401, and the token's role must allow the route (``backend/auth.py``), else 403;
4. or, with no token, a run's lease (``X-Trainboard-Lease``): only for ``auth.LEASE_RULES``'s requests about that
   run (else 403), and only while it is the run's current lease (else 401), checked against the database.

The caller is left in ``scope["state"]["principal"]`` for the routes (``deps.PrincipalDep``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.auth import (
    ANONYMOUS,
    LEASE_ONLY,
    PUBLIC_PATHS,
    QUERY_TOKEN_PATH,
    Principal,
    TokenTable,
    allowed_roles,
    lease_principal,
    leased_run,
)
from trainboard.settings import Settings, is_loopback

logger = logging.getLogger(__name__)
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FOREIGN_FETCH_SITES = frozenset({b"cross-site", b"same-site"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
LEASE_HEADER = b"x-trainboard-lease"
Refusal = tuple[int, str, list[tuple[bytes, bytes]]]
# Whether ``lease`` is run ``run_id``'s current lease (a database read: called in a thread).
LeaseCheck = Callable[[int, str], bool]


@dataclass(frozen=True)
class _LeaseToCheck:
    run_id: int
    lease: str


class RequestGuard:
    def __init__(
        self, app: ASGIApp, *, settings: Settings, tokens: TokenTable, lease_check: LeaseCheck | None = None
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.lease_check = lease_check
        allowed = set(settings.allowed_host_names)
        if settings.host.lower() not in WILDCARD_BINDS and not is_loopback(settings.host):
            allowed.add(settings.host.lower())  # `trainboard api --host 10.0.0.5` answers to that address
        self.any_host = "*" in allowed
        self.allowed_hosts = frozenset(allowed - {"*"})
        if settings.host.lower() in WILDCARD_BINDS and not allowed:
            logger.warning(
                "listening on every interface, but answering only to loopback host names: set "
                "TRAINBOARD_ALLOWED_HOSTS to the names people and workers use to reach this machine"
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        refusal = self._check(scope, headers)
        if isinstance(refusal, _LeaseToCheck):
            refusal = await self._check_lease(scope, refusal)
        if refusal is not None:
            status, detail, extra = refusal
            await _reply(send, status, detail, extra)
            return
        await self.app(scope, receive, send)

    async def _check_lease(self, scope: Scope, claim: _LeaseToCheck) -> Refusal | None:
        """The lease alone authorises the request while it is the run's current one."""
        if self.lease_check is None or not await run_in_threadpool(self.lease_check, claim.run_id, claim.lease):
            return (
                401,
                f"no token, and X-Trainboard-Lease is not run {claim.run_id}'s current lease (the run was re-queued "
                "and claimed again, or has no such lease): this attempt must stop",
                [(b"www-authenticate", b"Bearer")],
            )
        scope.setdefault("state", {})["principal"] = lease_principal(claim.run_id)
        return None

    def _check(self, scope: Scope, headers: dict[bytes, bytes]) -> Refusal | _LeaseToCheck | None:
        host = headers.get(b"host", b"").decode("latin-1").lower()
        host_name, host_port = _split_host(host)
        if not self._host_allowed(host_name):
            return (
                400,
                f"this server does not answer to the host name {host_name!r}: add it to TRAINBOARD_ALLOWED_HOSTS "
                "(comma-separated) if that is how people reach it",
                [],
            )
        method: str = scope["method"]
        if method in STATE_CHANGING:
            foreign = self._foreign_origin(headers, host_name, host_port)
            if foreign:
                return 403, f"cross-site request refused: {foreign}", []
        path: str = scope["path"]
        if not path.startswith("/api/") or path.rstrip("/") in PUBLIC_PATHS:
            scope.setdefault("state", {})["principal"] = ANONYMOUS
            return None
        principal = self._authenticate(scope, headers, path)
        lease = headers.get(LEASE_HEADER, b"").decode("latin-1").strip()
        if principal is None and lease and b"authorization" not in headers:
            run_id = leased_run(method, path)
            if run_id is None:
                return 403, f"{LEASE_ONLY}: {allowed_roles(method, path)[1]} needs a token", []
            return _LeaseToCheck(run_id, lease)
        if principal is None:
            return (
                401,
                "missing or wrong token: send 'Authorization: Bearer <token>' (TRAINBOARD_TOKEN)",
                [(b"www-authenticate", b"Bearer")],
            )
        roles, action = allowed_roles(method, path)
        if principal.role not in roles:
            needed = " or ".join(sorted(roles))
            return 403, f"{principal.name} has role {principal.role}: {action} needs role {needed}", []
        scope.setdefault("state", {})["principal"] = principal
        return None

    def _host_allowed(self, name: str) -> bool:
        return self.any_host or is_loopback(name) or name in self.allowed_hosts

    def _foreign_origin(self, headers: dict[bytes, bytes], host_name: str, host_port: str | None) -> str | None:
        """Why the browser says this request comes from another site, or None (same origin, or not a browser)."""
        site = headers.get(b"sec-fetch-site")
        if site in FOREIGN_FETCH_SITES:
            return f"the browser sent it from another site (Sec-Fetch-Site: {site.decode()})"
        origin = headers.get(b"origin")
        if origin is None:
            return None  # curl, scripts, workers: no browser, no ambient credentials to abuse
        text = origin.decode("latin-1")
        try:
            parts = urlsplit(text)
            origin_name, origin_port = (parts.hostname or ""), (str(parts.port) if parts.port else None)
        except ValueError:
            return f"Origin {text!r} is not a URL"
        # A port left out on one side is the scheme's default, which a TLS proxy in front may change.
        if origin_name == host_name and (origin_port == host_port or None in (origin_port, host_port)):
            return None
        return f"Origin {text!r} is not this site ({host_name})"

    def _authenticate(self, scope: Scope, headers: dict[bytes, bytes], path: str) -> Principal | None:
        if not self.tokens.enabled:
            return ANONYMOUS
        header = headers.get(b"authorization", b"").decode("latin-1")
        if header[:7].lower() == "bearer ":
            return self.tokens.authenticate(header[7:])
        if scope["method"] == "GET" and QUERY_TOKEN_PATH.fullmatch(path):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            return self.tokens.authenticate(query.get("token", [""])[0])
        return None


def _split_host(host: str) -> tuple[str, str | None]:
    """("name", "port") from a Host header: ``localhost:8000``, ``[::1]:8000``, ``example.org``."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return name, port or None
    name, _, port = host.partition(":")
    return name.rstrip("."), port or None


async def _reply(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
