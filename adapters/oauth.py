"""The OAuth 2.0 authorization-code flow (RFC 6749), shared by the platforms that use it.

A platform adapter mixes in ``OAuthCodeFlow`` and names its ``oauth_scope``; the token endpoint and
the answers are the standard ones (docs/platforms.md: Airbnb and Google).
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar
from urllib.parse import urlencode

from adapters import http
from adapters.base import PlatformAPIError, TokenRefreshError, TokenSet

DEFAULT_EXPIRES_IN = 3600
MAX_EXPIRES_IN = 400 * 24 * 3600  # no access token lives longer than about a year


class OAuthCodeFlow:
    """authorize_url, exchange_code and refresh_access_token for an adapter with ``self.account``."""

    slug: ClassVar[str]
    oauth_scope: ClassVar[str] = ""
    authorize_path: ClassVar[str] = "/oauth2/authorize"
    token_path: ClassVar[str] = "/oauth2/token"

    @classmethod
    def authorize_url(cls, *, base_url: str, client_id: str, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": cls.oauth_scope,
            }
        )
        return f"{base_url.rstrip('/')}{cls.authorize_path}?{query}"

    def exchange_code(self, *, code: str, redirect_uri: str) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return self._token_request(form, endpoint="exchange_code")

    def refresh_access_token(self) -> TokenSet:
        """Refresh tokens may be single-use: store both tokens of the returned set.

        Raises ``TokenRefreshError`` when the grant or our client is refused (a person must
        reconnect), a transient ``PlatformAPIError`` when the platform is unavailable.
        """
        refresh_token = self.account.credentials.refresh_token
        if not refresh_token:
            raise TokenRefreshError(f"{self.slug}: no refresh token stored", code="invalid_grant")
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token_request(form, endpoint="refresh_token")

    def _token_request(self, form: dict[str, str], *, endpoint: str) -> TokenSet:
        form = {**form, "client_id": self.account.oauth_client_id, "client_secret": self.account.oauth_client_secret}
        url = f"{self.account.base_url.rstrip('/')}{self.token_path}"
        response = http.request("POST", url, platform=self.slug, endpoint=endpoint, data=form, raise_for_status=False)
        if response.status_code in (400, 401):
            code, message = _oauth_error(response)
            raise TokenRefreshError(
                f"{self.slug} {endpoint}: HTTP {response.status_code} {code} {message}".strip(),
                status=response.status_code,
                code=code or None,
            )
        http.raise_for_response(response, platform=self.slug, endpoint=endpoint)
        try:
            body = response.json()
            expires_in = int(body.get("expires_in") or DEFAULT_EXPIRES_IN)
            access, refresh = body["access_token"], body.get("refresh_token") or form.get("refresh_token", "")
            # What is stored as the connection's tokens: text, and a lifetime a datetime can hold. An
            # "Infinity" lifetime was a server error; a token of {"x": 1} was stored as its repr.
            if not (isinstance(access, str) and access and isinstance(refresh, str)):
                raise TypeError("access_token and refresh_token must be text")
            if not 0 <= expires_in <= MAX_EXPIRES_IN:
                raise ValueError(f"expires_in {expires_in} out of range")
            return TokenSet(
                access_token=access,
                refresh_token=refresh,
                expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires_in),
            )
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
            raise PlatformAPIError(
                f"{self.slug} {endpoint}: malformed token answer", permanent=False, code="invalid_response"
            ) from exc


def _oauth_error(response) -> tuple[str, str]:
    """The code (``invalid_grant``, ``invalid_client``...) and text of an RFC 6749 error answer."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    code = body.get("error")
    message = body.get("error_description") or body.get("error_message") or ""
    return (code if isinstance(code, str) else ""), (message if isinstance(message, str) else "")
