"""FeWo-direkt's reservation JSON (``Rv`` in docs/platforms.md) turned into ``BookingData``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from adapters.base import BookingData, BookingStatus, Guest, PlatformAPIError

SLUG = "fewo_direkt"

STATUSES = {"BOOKED": BookingStatus.CONFIRMED, "CANCELLED": BookingStatus.CANCELLED}


def version_string(revision: int) -> str:
    """Zero-padded so that comparing strings compares revisions."""
    return f"{int(revision):010d}"


def booking_from_reservation(raw: object) -> BookingData:
    """Raise ``PlatformAPIError`` (transient: a broken answer) when ``raw`` is not a reservation."""
    try:
        status = STATUSES.get(raw["status"])
        if status is None:
            raise PlatformAPIError(
                f"fewo_direkt: unknown reservation status {raw['status']!r}",
                permanent=True,
                code="unknown_status",
            )
        guest = raw.get("guest") or {}
        amount = raw.get("totalAmount") or {}
        guests = int(raw.get("adults") or 0) + int(raw.get("children") or 0)
        return BookingData(
            platform=SLUG,
            channel_booking_id=str(raw["reservationId"]),
            listing_id=str(raw["listingId"]),
            status=status,
            check_in=dt.date.fromisoformat(raw["arrivalDate"]),
            check_out=dt.date.fromisoformat(raw["departureDate"]),
            guest=Guest(
                name=guest.get("name") or "",
                email=guest.get("email") or "",
                phone=guest.get("phone") or "",
            ),
            guests_count=max(guests, 1),
            total_amount=Decimal(str(amount["amount"])) if amount.get("amount") is not None else None,
            currency=amount.get("currency") or "",
            version=version_string(raw["revision"]),
            raw_status=raw["status"],
        )
    except PlatformAPIError:
        raise
    except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
        raise PlatformAPIError(
            f"fewo_direkt: malformed reservation ({type(exc).__name__}: {exc})",
            permanent=False,
            code="invalid_response",
        ) from exc
