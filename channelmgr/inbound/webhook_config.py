"""What each platform's webhook check needs (``WebhookConfig``), from its settings.

A platform that signs its webhooks with a published key set (``signing_keys_setting``: Google's
JWKS) has the keys fetched and kept in the shared cache for an hour, so every web process does not
fetch them on every push.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

from adapters.base import PlatformAdapter, PlatformAPIError, WebhookConfig

log = logging.getLogger(__name__)

KEYS_CACHE_SECONDS = 3600
# A push signed with a key we do not hold may mean the keys were rotated: refetch, but at most this often.
KEYS_REFETCH_SECONDS = 300


class SigningKeysUnavailable(Exception):
    """The signing keys could not be fetched: answer 503 so the platform retries (the push may well be genuine)."""


def signing_keys(adapter: type[PlatformAdapter], *, refresh: bool = False):
    """The cached key set; raises ``SigningKeysUnavailable``."""
    key = f"inbound:{adapter.slug}:signing-keys"
    keys = None if refresh else cache.get(key)
    if keys is None:
        url = str(settings.PLATFORMS[adapter.slug][adapter.signing_keys_setting])
        try:
            keys = adapter.fetch_signing_keys(url)
        except PlatformAPIError as exc:
            log.warning("%s signing keys fetch failed: %s", adapter.slug, exc)
            raise SigningKeysUnavailable(str(exc)) from exc
        cache.set(key, keys, KEYS_CACHE_SECONDS)
    return keys


def may_refetch_signing_keys(adapter: type[PlatformAdapter]) -> bool:
    """True at most once per ``KEYS_REFETCH_SECONDS``, so forged tokens cannot make us hammer the platform."""
    return cache.add(f"inbound:{adapter.slug}:signing-keys-refetch", 1, KEYS_REFETCH_SECONDS)


def webhook_config(adapter: type[PlatformAdapter], *, refresh_keys: bool = False) -> WebhookConfig:
    """Raises ``SigningKeysUnavailable`` (platforms with signing keys only)."""
    keys = signing_keys(adapter, refresh=refresh_keys) if adapter.signing_keys_setting else None
    return adapter.webhook_config(settings.PLATFORMS.get(adapter.slug, {}), signing_keys=keys)
