"""OAuth 2.0 authorization-code flow with expiring access tokens and single-use refresh tokens."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from sandbox.exchange import Request, Response, Unauthorized

CODE_TTL = 600.0


@dataclass
class _Grant:
    client_id: str
    expires_at: float
    redirect_uri: str = ""


class OAuthServer:
    """One platform's authorization server. Approves every authorize request at once."""

    def __init__(self, clients: dict[str, str], *, token_ttl: float = 3600, clock: Callable[[], float] = time.time):
        self.clients = dict(clients)
        self.token_ttl = token_ttl
        self.clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._codes: dict[str, _Grant] = {}
            self._access: dict[str, _Grant] = {}
            self._refresh: dict[str, _Grant] = {}

    def authorize(self, req: Request) -> Response:
        redirect_uri = req.arg("redirect_uri") or ""
        target = urlsplit(redirect_uri)
        if target.scheme not in ("http", "https") or not target.netloc:
            return _error(400, "invalid_request", "redirect_uri must be an absolute http(s) URL")
        if req.arg("client_id") not in self.clients:
            return _error(400, "invalid_client", "unknown client_id")
        if req.arg("response_type") != "code":
            return _error(400, "unsupported_response_type", "response_type must be code")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(req.arg("client_id"), self.clock() + CODE_TTL, redirect_uri)
        params = {"code": code}
        if req.arg("state") is not None:
            params["state"] = req.arg("state")
        joiner = "&" if target.query else "?"
        return Response(302, b"", {"Location": f"{redirect_uri}{joiner}{urlencode(params)}"})

    def token(self, req: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        client_id = form.get("client_id", "")
        if client_id not in self.clients or not secrets.compare_digest(
            form.get("client_secret", ""), self.clients[client_id]
        ):
            return _error(401, "invalid_client", "unknown client or wrong client_secret")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self._take(self._codes, form.get("code", ""), client_id)
            if grant is None or grant.redirect_uri != form.get("redirect_uri"):
                return _error(400, "invalid_grant", "code unknown, used, expired or issued for another redirect_uri")
        elif grant_type == "refresh_token":
            if self._take(self._refresh, form.get("refresh_token", ""), client_id) is None:
                return _error(400, "invalid_grant", "refresh token unknown or already used")
        else:
            return _error(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
        return Response.json(200, self._issue(client_id), {"Cache-Control": "no-store"})

    def client_for(self, req: Request) -> str:
        """The OAuth client behind a Bearer token; raises Unauthorized."""
        scheme, _, token = (req.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("missing bearer token", code="invalid_token")
        with self._lock:
            grant = self._access.get(token.strip())
        if grant is None or grant.expires_at <= self.clock():
            raise Unauthorized("access token unknown or expired", code="invalid_token")
        return grant.client_id

    def expire_all(self) -> int:
        with self._lock:
            for grant in self._access.values():
                grant.expires_at = 0.0
            return len(self._access)

    def _take(self, store: dict[str, _Grant], key: str, client_id: str) -> _Grant | None:
        with self._lock:
            grant = store.pop(key, None)
        if grant is None or grant.client_id != client_id or grant.expires_at <= self.clock():
            return None
        return grant

    def _issue(self, client_id: str) -> dict:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self._access[access] = _Grant(client_id, self.clock() + self.token_ttl)
            self._refresh[refresh] = _Grant(client_id, float("inf"))
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.token_ttl),
            "token_type": "bearer",
        }


def _error(status: int, error: str, description: str) -> Response:
    return Response.json(status, {"error": error, "error_description": description})
