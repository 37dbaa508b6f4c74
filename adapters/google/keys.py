"""Google's OIDC signing keys (JWKS) for Pub/Sub push tokens.

``fetch_jwks`` only fetches and checks the shape; the Django side caches the result (Google rotates
keys about daily and publishes new ones well before use) and passes it in ``WebhookConfig.jwks``.
"""

from __future__ import annotations

from adapters import http
from adapters.base import PlatformAPIError

GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"


def fetch_jwks(url: str = GOOGLE_JWKS_URL) -> dict:
    """Return ``{"keys": [...]}``; raises ``PlatformAPIError`` (transient) when the set is unusable."""
    response = http.request("GET", url, platform="google", endpoint="fetch_jwks")
    try:
        body = response.json()
    except ValueError:
        raise PlatformAPIError("google fetch_jwks: answer is not JSON", permanent=False) from None
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, dict) and k.get("kid") for k in keys):
        raise PlatformAPIError("google fetch_jwks: answer has no usable keys list", permanent=False)
    return {"keys": keys}
