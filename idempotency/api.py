"""``IdempotentWrites``: the DRF view mixin that gives every POST, PUT and PATCH an ``Idempotency-Key``.

``pms_core.api.base.ApiView`` includes it, so every API view of every app has it; ``ApiSchema`` documents
the header, the ``Idempotent-Replayed`` response header and the 409/422 answers.

A request without the header is not affected. With it (after authentication, so a 401/403 is never
stored): the first request runs and its response (2xx or 4xx) is stored; a 5xx or a crash releases the
key so a retry runs again. Keys are scoped to the caller's organization.
"""

from __future__ import annotations

import re

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.http.request import RawPostDataException
from rest_framework import exceptions, status

from idempotency.keys import (
    Claim,
    KeyInProgress,
    KeyReused,
    KeyUnreadable,
    StoredResponse,
    idempotency_claim,
    idempotency_finish,
    idempotency_release,
    request_fingerprint,
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Visible ASCII without spaces, as Stripe's UUIDs and most clients' keys are.
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
_KEY = re.compile(KEY_PATTERN)
# Headers of the first response worth replaying; the middleware adds the rest to every response anyway.
_STORED_HEADERS = ("Content-Type", "Location", "Allow")


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request (method, path or body)."


class IdempotencyKeyInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_progress"
    default_detail = "A request with this Idempotency-Key is still in progress; retry later."


class IdempotencyKeyUnreadable(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_unreadable"
    default_detail = "The stored response of this Idempotency-Key can no longer be read; use a new key."


class _Replay(Exception):
    """Carries the stored response out of ``initial`` to ``handle_exception``."""

    def __init__(self, stored: StoredResponse):
        self.stored = stored


class IdempotentWrites:
    """Mixin for DRF views (before ``GenericAPIView`` in the bases)."""

    _idempotency_claim: Claim | None = None

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            # Still held here only when the view raised something DRF does not handle (a 500).
            if self._idempotency_claim is not None:
                idempotency_release(claim=self._idempotency_claim)
                self._idempotency_claim = None

    def initial(self, request, *args, **kwargs):
        key = request.headers.get(HEADER) if request.method in WRITE_METHODS else None
        body = _body(request) if key is not None else b""
        super().initial(request, *args, **kwargs)
        organization_id = getattr(request.user, "organization_id", None)
        if key is None or organization_id is None:
            return
        if not _KEY.fullmatch(key):
            raise exceptions.ValidationError(
                {HEADER: ["Must be 1 to 255 visible ASCII characters without spaces (a UUID is a good key)."]}
            )
        fingerprint = request_fingerprint(method=request.method, path=request.get_full_path(), body=body)
        try:
            outcome = idempotency_claim(organization_id=organization_id, key=key, fingerprint=fingerprint)
        except KeyReused as exc:
            raise IdempotencyKeyReused() from exc
        except KeyInProgress as exc:
            raise IdempotencyKeyInProgress() from exc
        except KeyUnreadable as exc:
            raise IdempotencyKeyUnreadable() from exc
        if isinstance(outcome, StoredResponse):
            raise _Replay(outcome)
        self._idempotency_claim = outcome

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            response = HttpResponse(exc.stored.body, status=exc.stored.status_code)
            for name, value in exc.stored.headers.items():
                response[name] = value
            response[REPLAYED_HEADER] = "true"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        claim, self._idempotency_claim = self._idempotency_claim, None
        if claim is None:
            return response
        if response.status_code >= 500 or response.streaming:  # a streamed body cannot be stored whole
            idempotency_release(claim=claim)
            return response
        if hasattr(response, "render"):
            response.render()  # the bytes stored are the bytes sent
        headers = {name: response[name] for name in _STORED_HEADERS if response.has_header(name)}
        idempotency_finish(claim=claim, status_code=response.status_code, headers=headers, body=response.content)
        return response


def _body(request) -> bytes:
    """The raw body, read before DRF parses it (Django keeps it, so parsing still works)."""
    try:
        return request._request.body
    except RawPostDataException as exc:  # only for a multipart body, which the JSON-only API refuses
        raise exceptions.UnsupportedMediaType(request.content_type) from exc
    except RequestDataTooBig as exc:
        raise exceptions.ParseError("The body is larger than the API accepts.") from exc
