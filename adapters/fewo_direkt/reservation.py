"""FeWo-direkt's reservation JSON (``Rv`` in docs/platforms.md) turned into ``BookingData``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from adapters.base import BookingData, BookingStatus, Guest, PaymentModel, PlatformAPIError

SLUG = "fewo_direkt"

STATUSES = {"BOOKED": BookingStatus.CONFIRMED, "CANCELLED": BookingStatus.CANCELLED}
COLLECTORS = {"VRBO": PaymentModel.PLATFORM_COLLECTS, "PROPERTY": PaymentModel.PROPERTY_COLLECTS}


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
        guests = sum(int(raw.get(kind) or 0) for kind in ("adults", "children", "infants"))
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
            adults=_count(raw.get("adults")),
            children=_count(raw.get("children")),
            infants=_count(raw.get("infants")),
            taxes=_amount((raw.get("taxes") or {}).get("amount")),
            fees=_amount((raw.get("fees") or {}).get("amount")),
            special_requests=tuple(str(text) for text in raw.get("comments") or ()),
            payment_model=COLLECTORS.get(raw.get("paymentCollector")),
        )
    except PlatformAPIError:
        raise
    except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
        raise PlatformAPIError(
            f"fewo_direkt: malformed reservation ({type(exc).__name__}: {exc})",
            permanent=False,
            code="invalid_response",
        ) from exc


def _count(value) -> int | None:
    return None if value is None else int(value)


def _amount(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))
