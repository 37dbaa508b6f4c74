"""The request and response objects passed between the HTTP server and the platforms, and API errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    endpoint: str = ""
    parsed: Any = None  # a platform may cache its parsed body here (e.g. an XML tree)

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
        path, _, query = target.partition("?")
        lowered = {k.lower(): v for k, v in headers.items()}
        return cls(method.upper(), path, parse_qs(query, keep_blank_values=True), lowered, body)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise Invalid(f"body is not valid JSON: {exc}") from exc


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def xml(cls, status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
        return cls(status, body, {"Content-Type": "application/xml; charset=utf-8", **(headers or {})})


class ApiError(Exception):
    """An API request that fails; each platform renders it in its own error format."""

    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        if status is not None:
            self.status = status


class Invalid(ApiError):
    """The payload breaks the contract. Counted in stats as an invalid payload."""


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class RateLimited(ApiError):
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(f"rate limit exceeded, retry after {retry_after} s")
        self.retry_after = retry_after


class Faulted(ApiError):
    """An error injected through /_control/<slug>/faults."""

    def __init__(self, status: int):
        super().__init__("injected fault: the platform is having trouble", status=status)
