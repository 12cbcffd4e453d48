"""Per-attempt leases: which attempt of a run may write to it.

A claim (``POST /runs/{id}/claim``) hands the worker a random secret and stores only its SHA-256 on the run.
Every status report, metric batch and artifact upload of that attempt presents the secret in the
``X-Trainboard-Lease`` header. A token says who may call a route; the lease says which attempt may write to
this run: a worker presumed dead whose run was re-queued and claimed again holds a stale lease, gets 409, and
stops. An external run's lease is in its create reply (the script is its only attempt).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.models import Run
from backend.schemas import TERMINAL

LEASE_HEADER = "X-Trainboard-Lease"
MISSING = f"this run is being written by the worker that claimed it: send its lease in {LEASE_HEADER}"
# A worker reporting its outcome holds the lease until then; after it, nothing more is added to the run.
ENDED_BY_ITS_ATTEMPT = frozenset({"succeeded", "failed"})


class WriteRefused(Exception):
    """A write the run does not take now: ``status_code`` (403, 409) and a ``detail`` that says why."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


def issue(run: Run) -> str:
    """Give ``run`` a fresh lease: store its hash, return the secret (shown to the claimer once)."""
    lease = secrets.token_urlsafe(32)
    run.lease_hash = digest(lease)
    return lease


def check(run: Run, lease: str | None) -> None:
    """Raise WriteRefused unless ``lease`` is the run's current one: 403 when absent, 409 when stale or wrong."""
    if not lease:
        raise WriteRefused(403, MISSING)
    if run.lease_hash is None or not hmac.compare_digest(digest(lease), run.lease_hash):
        raise WriteRefused(409, _stale(run))


def is_current(factory: sessionmaker[Session], run_id: int, lease: str) -> bool:
    """Whether ``lease`` is run ``run_id``'s current lease (what lets a command run's code in without a token)."""
    with factory() as session:
        lease_hash = session.scalar(select(Run.lease_hash).where(Run.id == run_id))
    return lease_hash is not None and hmac.compare_digest(digest(lease), lease_hash)


def check_points(run: Run, lease: str | None) -> None:
    """``check``, and a run its attempt already ended (succeeded or failed) takes no more points."""
    check(run, lease)
    if run.status in ENDED_BY_ITS_ATTEMPT:
        raise WriteRefused(409, f"run {run.id} has finished ({run.status}): it takes no more points; stop writing")


def artifact_write_allowed(run: Run, *, name: str, exists: bool) -> str | None:
    """Why an artifact upload is refused (a finished run's artifacts are write-once), or None when allowed."""
    if run.status in TERMINAL and exists:
        return f"run {run.id} has finished ({run.status}): its artifact {name!r} is kept as it is (write-once)"
    return None


def _stale(run: Run) -> str:
    if run.external and run.status == "running":
        now = "it is tracked by the script that holds its lease (from the create or claim reply)"
    elif run.status == "queued":
        now = "it was re-queued (its worker went silent) and waits for a worker"
    elif run.status == "running":
        now = f"it belongs to attempt {run.attempts} on {run.worker or 'another worker'} (re-queued and claimed again)"
    else:
        now = f"it has finished ({run.status})"
    return f"stale or wrong lease for run {run.id}: {now}; this attempt must stop writing to it"


def digest(lease: str) -> str:
    """What a run keeps of its lease (``lease_hash``): the lease itself is never stored."""
    return hashlib.sha256(lease.encode()).hexdigest()
