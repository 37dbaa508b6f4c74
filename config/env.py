"""Strict environment parsing: a malformed variable stops start-up with its name in the message."""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def read(name: str, cast, default=environ.Env.NOTSET):
    """Read ``name`` with django-environ's ``cast`` (``env.int``, ``env.bool``...), naming it on error.

    ``NAME_FILE`` (a path) is honoured for secrets, as container platforms mount them as files.
    """
    file_path = os.environ.get(f"{name}_FILE")
    if file_path and name not in os.environ:
        try:
            os.environ[name] = Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_path}: {exc}") from exc
    try:
        return cast(name, default=default)
    except ImproperlyConfigured:
        raise
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name}: invalid value {os.environ.get(name)!r}: {exc}") from exc


def positive_int(name: str, default: int, *, most: int | None = None) -> int:
    value = read(name, env.int, default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name}: must be a positive integer, got {value}")
    if most is not None and value > most:
        raise ImproperlyConfigured(f"{name}: must be at most {most}, got {value}")
    return value


def positive_float(name: str, default: float) -> float:
    value = read(name, env.float, default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name}: must be positive, got {value}")
    return value
