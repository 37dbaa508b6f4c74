"""Reservation lists for the JSON platforms: changed since an instant, oldest change first, in pages."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from sandbox.exchange import Invalid
from sandbox.state import Reservation

PAGE_SIZE = 50


def changed_since(reservations: list[Reservation], since: datetime | None) -> list[Reservation]:
    chosen = [r for r in reservations if since is None or r.updated_at >= since]
    return sorted(chosen, key=_key)


def keyset_page(ordered: list[Reservation], cursor: str | None) -> tuple[list[Reservation], str | None]:
    """A page after the opaque cursor. Keyset paging: a change during paging moves a stay to the end, never skips it."""
    after = _decode(cursor) if cursor else None
    rest = [r for r in ordered if after is None or _key(r) > after]
    page = rest[:PAGE_SIZE]
    return page, (_encode(_key(page[-1])) if len(rest) > PAGE_SIZE else None)


def numbered_page(ordered: list[Reservation], raw_page: str | None) -> tuple[list[Reservation], int, bool]:
    """Page `n` (from 1) of the list, and whether more follow."""
    try:
        page = int(raw_page) if raw_page not in (None, "") else 1
    except ValueError as exc:
        raise Invalid(f"page must be an integer >= 1, got {raw_page!r}") from exc
    if page < 1:
        raise Invalid(f"page must be an integer >= 1, got {raw_page!r}")
    start = (page - 1) * PAGE_SIZE
    return ordered[start : start + PAGE_SIZE], page, len(ordered) > start + PAGE_SIZE


def _key(reservation: Reservation) -> tuple[str, str]:
    return (reservation.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f"), reservation.id)


def _encode(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise Invalid("cursor is not one this API handed out") from exc
    if not (isinstance(key, list) and len(key) == 2 and all(isinstance(part, str) for part in key)):
        raise Invalid("cursor is not one this API handed out")
    return key[0], key[1]
