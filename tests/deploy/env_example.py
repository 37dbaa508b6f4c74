"""The variables .env.example lists: the set the deployment files must configure, and nothing else.

Read at test time, because .env.example changes with the settings: a line ``NAME=value`` or a commented
default ``#NAME=value`` names a variable; prose comments do not.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_ASSIGNMENT = re.compile(r"^#?([A-Z][A-Z0-9_]*)=")
# Secrets go in the Secret and are read through NAME_FILE; the database and Redis URLs carry passwords,
# a Sentry DSN its project key.
_SECRET = re.compile(r"SECRET|PASSWORD|_KEYS?$|^(DATABASE|REDIS)_URL$|_DSN$")


def env_example_names() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {match.group(1) for line in lines if (match := _ASSIGNMENT.match(line))}


def is_secret(name: str) -> bool:
    return bool(_SECRET.search(name))


def variable_of(env_name: str) -> str:
    """``SECRET_KEY_FILE`` configures ``SECRET_KEY`` (config/env.py ``read``)."""
    return env_name.removesuffix("_FILE")
