"""What each platform's webhook check needs (``WebhookConfig``), from settings.

Google's signing keys (JWKS) are fetched and kept in the shared cache for an hour, so every web
process does not fetch them on every push.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

from adapters.base import PlatformAPIError, WebhookConfig
from adapters.google.keys import fetch_jwks

log = logging.getLogger(__name__)

JWKS_CACHE_KEY = "inbound:google:jwks"
JWKS_CACHE_SECONDS = 3600
# A push signed with a key we do not hold may mean Google rotated its keys: refetch, but at most this often.
JWKS_REFETCH_KEY = "inbound:google:jwks-refetch"
JWKS_REFETCH_SECONDS = 300


class SigningKeysUnavailable(Exception):
    """Google's JWKS could not be fetched: answer 503 so Pub/Sub retries (the push may well be genuine)."""


def google_jwks(*, refresh: bool = False) -> dict:
    """The cached JWKS; raises ``SigningKeysUnavailable``."""
    jwks = None if refresh else cache.get(JWKS_CACHE_KEY)
    if jwks is None:
        try:
            jwks = fetch_jwks(settings.GOOGLE_PUBSUB_CERTS_URL)
        except PlatformAPIError as exc:
            log.warning("google JWKS fetch failed: %s", exc)
            raise SigningKeysUnavailable(str(exc)) from exc
        cache.set(JWKS_CACHE_KEY, jwks, JWKS_CACHE_SECONDS)
    return jwks


def may_refetch_google_jwks() -> bool:
    """True at most once per ``JWKS_REFETCH_SECONDS``, so forged tokens cannot make us hammer Google."""
    return cache.add(JWKS_REFETCH_KEY, 1, JWKS_REFETCH_SECONDS)


def webhook_config(platform: str, *, refresh_keys: bool = False) -> WebhookConfig:
    """Raises ``SigningKeysUnavailable`` (Google only)."""
    if platform == "expedia":
        return WebhookConfig(username=settings.EXPEDIA_PUSH_USERNAME, password=settings.EXPEDIA_PUSH_PASSWORD)
    if platform == "google":
        return WebhookConfig(
            audience=settings.GOOGLE_PUBSUB_AUDIENCE,
            service_account_email=settings.GOOGLE_PUBSUB_SERVICE_ACCOUNT,
            jwks=google_jwks(refresh=refresh_keys),
        )
    secrets = settings.PLATFORMS.get(platform, {}).get("webhook_secrets") or []
    return WebhookConfig(secrets=tuple(secrets))
