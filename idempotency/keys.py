"""Claiming, finishing and releasing idempotency keys: the storage side of ``Idempotency-Key``.

Semantics (Stripe's): the first request with a key does the work and its response is stored; the same key
with the same request within ``TTL`` gets that response back without the work being done again; the same
key with a different request is refused (``KeyReused``, 422); a key whose first request is still running
makes the newcomer wait up to ``WAIT_FOR_IN_PROGRESS`` for its response, then refuses it (``KeyInProgress``,
409). Waiting first means a client's quick automatic retry gets the answer rather than a 409.

The database does the locking, on Postgres and SQLite alike: inserting the unique (organization, key) row
is the claim, and every later change is a conditional UPDATE/DELETE on the claim token.

Stored bodies are encrypted with ``FIELD_ENCRYPTION_KEYS`` (the credentials' keys): a response can carry a
secret shown once (a webhook subscription's signing secret), which must not sit in clear text for 24 h.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from idempotency.models import IdempotencyKey

TTL = dt.timedelta(hours=24)
# A claim still in progress after this was abandoned (its process died: gunicorn kills a request after
# 30 s), and the next request with the key may do the work.
ABANDONED_AFTER = dt.timedelta(seconds=60)
WAIT_FOR_IN_PROGRESS = 5.0  # seconds
_POLL = (0.02, 0.25)  # first and longest pause between looks at a key in progress


class KeyReused(Exception):
    """The key was used with a different request (method, path or body)."""


class KeyInProgress(Exception):
    """The key's first request is still running."""


class KeyUnreadable(Exception):
    """The stored response was encrypted with a key no longer configured (rotated away within 24 h)."""


@dataclass(frozen=True)
class Claim:
    """This request holds the key and does the work."""

    pk: int
    token: str


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    headers: dict
    body: bytes


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path with query, and the body. A JSON body is
    compared by value (key order and spacing do not matter); anything else byte for byte."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode("utf-8", "surrogateescape"), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def idempotency_claim(*, organization_id: int, key: str, fingerprint: str) -> Claim | StoredResponse:
    """Claim ``key`` for this request, or return the response stored for it.

    Raises ``KeyReused`` for a different request with the key, ``KeyInProgress`` when its first request
    is still running after ``WAIT_FOR_IN_PROGRESS``, ``KeyUnreadable`` when its stored response cannot be
    decrypted any more.
    """
    deadline = time.monotonic() + WAIT_FOR_IN_PROGRESS
    pause = _POLL[0]
    while True:
        outcome = _claim_once(organization_id=organization_id, key=key, fingerprint=fingerprint)
        if outcome is not None:
            return outcome
        if time.monotonic() >= deadline:
            raise KeyInProgress(key)
        _pause(pause)  # another request holds the key: look again until its answer is stored
        pause = min(pause * 2, _POLL[1])


def _pause(seconds: float) -> None:
    time.sleep(seconds)


def _claim_once(*, organization_id: int, key: str, fingerprint: str) -> Claim | StoredResponse | None:
    """One attempt; ``None`` while another request holds the key."""
    now = timezone.now()
    token = secrets.token_hex(16)
    try:
        with transaction.atomic():  # a savepoint inside a caller's transaction, so a clash leaves it usable
            row = IdempotencyKey.objects.create(
                organization_id=organization_id,
                key=key,
                fingerprint=fingerprint,
                claim=token,
                locked_at=now,
                created_at=now,
            )
        return Claim(row.pk, token)
    except IntegrityError:
        pass
    row = IdempotencyKey.objects.filter(organization_id=organization_id, key=key).first()
    if row is None:  # released between our insert and this read: try again at once
        return _claim_once(organization_id=organization_id, key=key, fingerprint=fingerprint)
    if row.created_at <= now - TTL:  # expired: the key is free again
        IdempotencyKey.objects.filter(pk=row.pk, claim=row.claim).delete()
        return _claim_once(organization_id=organization_id, key=key, fingerprint=fingerprint)
    if row.fingerprint != fingerprint:
        raise KeyReused(key)
    if row.state == IdempotencyKey.State.DONE:
        return StoredResponse(row.status_code, dict(row.headers), _decrypt(bytes(row.body)))
    if row.locked_at <= now - ABANDONED_AFTER:
        taken = IdempotencyKey.objects.filter(pk=row.pk, state=row.state, claim=row.claim).update(
            claim=token, locked_at=now
        )
        if taken:
            return Claim(row.pk, token)
    return None


def idempotency_finish(*, claim: Claim, status_code: int, headers: dict, body: bytes) -> bool:
    """Store the response of the claimed request; ``False`` if the claim was taken over meanwhile."""
    return bool(
        IdempotencyKey.objects.filter(pk=claim.pk, claim=claim.token, state=IdempotencyKey.State.IN_PROGRESS).update(
            state=IdempotencyKey.State.DONE,
            status_code=status_code,
            headers=headers,
            body=_fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).encrypt(body),
            completed_at=timezone.now(),
        )
    )


def idempotency_release(*, claim: Claim) -> None:
    """Forget a claim whose request failed with a server error, so a retry does the work."""
    IdempotencyKey.objects.filter(pk=claim.pk, claim=claim.token, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotency_purge(*, now: dt.datetime | None = None) -> int:
    """Delete keys older than ``TTL``; returns how many."""
    cutoff = (now or timezone.now()) - TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lte=cutoff).delete()
    return deleted


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    """The credentials' keys (validated at start-up by channelmgr.crypto); the first encrypts."""
    return MultiFernet([Fernet(key.strip().encode()) for key in keys])


def _decrypt(token: bytes) -> bytes:
    try:
        return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).decrypt(token)
    except InvalidToken as exc:
        raise KeyUnreadable() from exc
