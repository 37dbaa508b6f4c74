"""OpenAPI documentation shared by every API view: the one error shape and the error status codes.

``ApiSchema`` adds 400/401/403/404 to each operation (409 where a view declares it), so the schema
lists every status code the API can return without each view repeating them. Every write (POST, PUT,
PATCH) also documents the ``Idempotency-Key`` header, the ``Idempotent-Replayed`` response header and the
409/422 answers of idempotency/api.py.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from idempotency.api import HEADER, KEY_PATTERN, REPLAYED_HEADER, WRITE_METHODS

# Ids are positive bigints; anything else in the path is a 404 (never a server error).
MAX_ID = 2**63 - 1
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class ErrorSerializer(serializers.Serializer):
    """The body of every error (config/api_errors.py)."""

    error = serializers.CharField(help_text="A stable code: invalid, not_found, not_authenticated, booking_clash, ...")
    detail = serializers.CharField()
    fields = serializers.DictField(
        required=False, help_text="For 400: the field errors, by field name (a list value by its index)."
    )
    clash = serializers.DictField(required=False, help_text="For booking_clash: the stay that holds the nights.")

    class Meta:
        ref_name = "Error"


ERRORS = {
    400: "Invalid input; `fields` names each bad field. Nothing was written.",
    401: "No or invalid credentials (send `Authorization: Token <key>`).",
    403: "Authenticated but not allowed (a session without CSRF token, or a user without organization).",
    404: "No such object in your organization (another tenant's objects are 404 too).",
    409: "Conflict with the current state; see `detail` (and `clash` for a booking clash).",
    422: "The Idempotency-Key was already used with a different request (method, path or body).",
}
IDEMPOTENCY_IN_PROGRESS = (
    "A request with this Idempotency-Key is still in progress (error `idempotency_key_in_progress`; retry "
    "later), or its stored answer can no longer be read (`idempotency_key_unreadable`; use a new key)."
)
IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    OpenApiParameter.HEADER,
    description="Makes a retry safe (Stripe's semantics). The first request with a key runs; the same key with "
    "the same method, path and body within 24 h gets the first response back byte for byte without running "
    "again; with a different request it gets 422; while the first is still running a retry waits up to 5 s "
    "for its answer, then gets 409. Keys are per organization. A 5xx is not stored.",
)
IDEMPOTENT_REPLAYED = OpenApiParameter(
    REPLAYED_HEADER,
    {"type": "string", "enum": ["true"]},
    OpenApiParameter.HEADER,
    response=True,
    description="Present when this is the stored response of an earlier request with the same Idempotency-Key.",
)


def error(code: int, description: str | None = None) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description or ERRORS[code])


class ApiSchema(AutoSchema):
    """Every operation documents the error codes it can return; public views set ``public = True``."""

    def get_serializer_name(self, serializer, direction):
        """A serializer nested in an API class is named after it (``CalendarSetInput``), so the many
        ``InputSerializer``/``OutputSerializer`` classes get distinct components."""
        cls = serializer.__class__
        outer, _, inner = cls.__qualname__.rpartition(".")
        if outer:
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if "{id}" in self.path:
            params.append(OpenApiParameter("id", ID_SCHEMA, OpenApiParameter.PATH))
        if self.method in WRITE_METHODS:
            params += [IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED]
        return params

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = [400, 404] if getattr(self.view, "public", False) else [400, 401, 403, 404]
        for code in codes:
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(error(code), str(code), direction=direction)
        if self.method in WRITE_METHODS:
            extra = {"409": error(409, IDEMPOTENCY_IN_PROGRESS), "422": error(422)}
            for code, response in extra.items():
                if code not in responses:
                    responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses
