"""One JSON shape for every API error: ``{"error": code, "detail": text, "fields": {...}}``."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils.log import log_response
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from pms_core.errors import BookingClash, DomainError


def _fields(detail) -> dict:
    if isinstance(detail, dict):
        return detail
    if isinstance(detail, list):
        return {"non_field_errors": detail}
    return {"non_field_errors": [str(detail)]}


def exception_handler(exc, context):
    if isinstance(exc, BookingClash):
        return Response(
            {"error": "booking_clash", "detail": str(exc), "clash": exc.describe()},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DomainError):
        exc = exceptions.ValidationError({"non_field_errors": [str(exc)]})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": "invalid", "detail": "The request is invalid.", "fields": _fields(exc.detail)}
    else:
        code = getattr(exc, "default_code", "error")
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
        response.data = {"error": code, "detail": str(detail)}
    return response


# --- plain Django views (the webhooks), which DRF's handler above never sees ---------------------


def error_response(status_code: int, code: str, detail: str) -> JsonResponse:
    """``{"error": code, "detail": detail}`` with that status."""
    return JsonResponse({"error": code, "detail": detail}, status=status_code)


def require_methods(*methods: str):
    """Django's ``require_http_methods``, answering 405 in the error shape (DRF's code and wording)."""

    def decorator(view):
        @wraps(view)
        def inner(request, *args, **kwargs):
            if request.method not in methods:
                response = error_response(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
                response["Allow"] = ", ".join(methods)
                log_response(
                    "Method Not Allowed (%s): %s", request.method, request.path, response=response, request=request
                )
                return response
            return view(request, *args, **kwargs)

        return inner

    return decorator
