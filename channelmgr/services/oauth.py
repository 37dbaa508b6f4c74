"""OAuth 2.0 authorization-code flow for the platforms that use it (Airbnb, Google).

``state`` is signed (django.core.signing), bound to the connection and the user who started the flow,
expires after ``STATE_MAX_AGE`` seconds, and is accepted once. Each start draws a random nonce: the
signature's timestamp has one-second resolution, so without it two starts for the same connection and
user in the same second would get the same state, and the second callback would be refused as reused.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse

from adapters.base import Capability
from adapters.registry import adapter_class
from channelmgr.models import ChannelConnection
from channelmgr.resilience.platform_calls import platform_call
from channelmgr.services.connections import connection_store_tokens

STATE_SALT = "channelmgr.oauth.state"
STATE_MAX_AGE = 600
STATE_NONCE_BYTES = 16


class OAuthStateError(Exception):
    """The callback's ``state`` is missing, forged, expired, reused or for another user or platform."""


def oauth_supported(platform_type: str) -> bool:
    return Capability.OAUTH in adapter_class(platform_type).capabilities


def oauth_redirect_uri(platform_type: str) -> str:
    return settings.PUBLIC_BASE_URL + reverse("oauth-callback", kwargs={"platform": platform_type})


def oauth_start_url(*, connection: ChannelConnection, user_id: int) -> str:
    """The platform's authorize URL for ``connection``. Raises ``ValidationError`` for non-OAuth platforms."""
    if not oauth_supported(connection.platform_type):
        raise ValidationError({"platform_type": f"{connection.platform_type} does not use OAuth"})
    payload = {
        "c": connection.pk,
        "u": user_id,
        "p": connection.platform_type,
        "n": secrets.token_urlsafe(STATE_NONCE_BYTES),
    }
    state = signing.dumps(payload, salt=STATE_SALT)
    platform = settings.PLATFORMS[connection.platform_type]
    return adapter_class(connection.platform_type).authorize_url(
        base_url=platform["base_url"],
        client_id=platform["oauth_client_id"],
        redirect_uri=oauth_redirect_uri(connection.platform_type),
        state=state,
    )


def oauth_read_state(*, state: str, platform_type: str) -> dict:
    """The state's payload, or ``OAuthStateError``. Consumes it: a second use fails."""
    try:
        payload = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise OAuthStateError("state expired: start again") from exc
    except signing.BadSignature as exc:
        raise OAuthStateError("state is not valid") from exc
    if not isinstance(payload, dict) or payload.get("p") != platform_type:
        raise OAuthStateError("state is for another platform")
    key = "oauth-state:" + hashlib.sha256(state.encode()).hexdigest()
    if not cache.add(key, 1, timeout=STATE_MAX_AGE + 60):
        raise OAuthStateError("state was already used: start again")
    return payload


def oauth_complete(*, connection: ChannelConnection, code: str) -> ChannelConnection:
    """Exchange ``code`` for tokens and store them encrypted. Raises ``PlatformAPIError`` if refused.

    The exchange is a platform call like any other: through the limiter and the breaker."""
    # Network call: deliberately outside any transaction.
    redirect_uri = oauth_redirect_uri(connection.platform_type)
    tokens = platform_call(connection, lambda adapter: adapter.exchange_code(code=code, redirect_uri=redirect_uri))
    return connection_store_tokens(connection=connection, tokens=tokens)
