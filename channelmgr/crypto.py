"""Credentials encrypted at rest with MultiFernet (``FIELD_ENCRYPTION_KEYS``; the first key encrypts)."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in settings.FIELD_ENCRYPTION_KEYS])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: invalid Fernet key: {exc}") from exc


def reset_keys() -> None:
    """Forget the cached keys (after settings change, in tests and rotation)."""
    _fernet.cache_clear()


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS: a stored credential cannot be decrypted with any configured key"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt under the first key (MultiFernet.rotate keeps the original timestamp)."""
    return _fernet().rotate(token.encode()).decode() if token else ""


class EncryptedTextField(models.TextField):
    """A text column that only ever holds ciphertext; Python code sees the plain value."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else ""
