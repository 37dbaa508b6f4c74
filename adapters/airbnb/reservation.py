"""Airbnb's reservation JSON (``R`` in docs/platforms.md) turned into ``BookingData``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from adapters.base import BookingData, BookingStatus, Guest, PaymentModel, PlatformAPIError

SLUG = "airbnb"

STATUSES = {
    "accepted": BookingStatus.CONFIRMED,
    "cancelled": BookingStatus.CANCELLED,
    "denied": BookingStatus.CANCELLED,
}


def version_string(version: int) -> str:
    """Zero-padded so that comparing strings compares revisions."""
    return f"{int(version):010d}"


def booking_from_reservation(raw: object) -> BookingData:
    """Raise ``PlatformAPIError`` (transient: a broken answer) when ``raw`` is not a reservation."""
    try:
        status = STATUSES.get(raw["status"])
        if status is None:
            raise PlatformAPIError(
                f"airbnb: unknown reservation status {raw['status']!r}",
                permanent=True,
                code="unknown_status",
            )
        guest = raw.get("guest") or {}
        name = " ".join(p for p in (guest.get("first_name"), guest.get("last_name")) if p)
        total = raw.get("total_price")
        return BookingData(
            platform=SLUG,
            channel_booking_id=str(raw["confirmation_code"]),
            listing_id=str(raw["listing_id"]),
            status=status,
            check_in=dt.date.fromisoformat(raw["start_date"]),
            check_out=dt.date.fromisoformat(raw["end_date"]),
            guest=Guest(
                name=name,
                email=guest.get("email") or "",
                phone=guest.get("phone") or "",
            ),
            guests_count=int(raw.get("number_of_guests") or 1),
            total_amount=Decimal(str(total)) if total is not None else None,
            currency=raw.get("currency") or "",
            version=version_string(raw["version"]),
            raw_status=raw["status"],
            **_details(raw),
        )
    except PlatformAPIError:
        raise
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise PlatformAPIError(
            f"airbnb: malformed reservation ({type(exc).__name__}: {exc})",
            permanent=False,
            code="invalid_response",
        ) from exc


def _details(raw: dict) -> dict:
    """Guests by type, taxes, fees and the guest's requests (R in docs/platforms.md). Airbnb always
    takes the guest's money and pays the host out."""
    guests = raw.get("guest_details") or {}
    return {
        "adults": _count(guests.get("number_of_adults")),
        "children": _count(guests.get("number_of_children")),
        "infants": _count(guests.get("number_of_infants")),
        "taxes": _amount(raw.get("taxes")),
        "fees": _amount(raw.get("fees")),
        "special_requests": tuple(str(text) for text in raw.get("special_requests") or ()),
        "payment_model": PaymentModel.PLATFORM_COLLECTS,
    }


def _count(value) -> int | None:
    return None if value is None else int(value)


def _amount(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))
