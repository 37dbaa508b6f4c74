"""Guest bookings made through the control API, checked against the listing's calendar as a guest would be."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sandbox import checks
from sandbox.exchange import Conflict, Invalid, NotFound
from sandbox.state import Listing, PlatformState, Reservation, utcnow

if TYPE_CHECKING:
    from sandbox.app import Sandbox
    from sandbox.platforms.base import Platform

BOOK_FIELDS = {"listing_id", "check_in", "check_out", "guest_name", "total"}
# What else a guest may book with (the booking's details each platform reports, docs/platforms.md).
DETAIL_FIELDS = {"children", "infants", "taxes", "fees", "special_requests", "sub_channel", "payment_model"}
OPTIONAL_FIELDS = {"currency", "guest_email", "guest_phone", "guests", *DETAIL_FIELDS}
MODIFY_FIELDS = {"check_in", "check_out", "guest_name", "total", "guest_email", "guest_phone", "guests", *DETAIL_FIELDS}


def book(app: Sandbox, slug: str, payload: Any) -> Reservation:
    item = checks.require_object(payload, "reservation")
    checks.exact_fields(item, BOOK_FIELDS, "reservation", OPTIONAL_FIELDS)
    with app.store.lock:
        platform = _guest_platform(app, slug)
        state = app.store[slug]
        listing = state.listings.get(_text(item["listing_id"], "listing_id"))
        if listing is None:
            raise NotFound(f"unknown listing {item['listing_id']!r}; create it with POST /_control/{slug}/listings")
        check_in, check_out = _stay(platform, item["check_in"], item["check_out"])
        state.next_number += 1
        reservation = Reservation(
            id=platform.new_reservation_id(state.next_number),
            listing_id=listing.listing_id,
            check_in=check_in,
            check_out=check_out,
            guest_name=_text(item["guest_name"], "guest_name"),
            total=_total(item["total"]),
            currency=checks.currency(item.get("currency", listing.currency), "currency"),
            room_code=listing.room_code(),
            rate_code=listing.rate_code(),
        )
        _apply_optional(reservation, item)
        _refuse_unbookable(state, listing, reservation.nights())
        _refuse_too_long(listing, check_in, check_out)
        state.reservations[reservation.id] = reservation
        platform.notify(reservation, "created")
        return reservation


def modify(app: Sandbox, slug: str, reservation_id: str, payload: Any) -> Reservation:
    item = checks.require_object(payload, "modification")
    checks.exact_fields(item, set(), "modification", MODIFY_FIELDS)
    if not item:
        raise Invalid("modification: nothing to change")
    with app.store.lock:
        platform = _guest_platform(app, slug)
        state = app.store[slug]
        reservation = _active(state, reservation_id)
        check_in, check_out = _stay(
            platform,
            item.get("check_in", reservation.check_in.isoformat()),
            item.get("check_out", reservation.check_out.isoformat()),
        )
        own = set(reservation.nights())
        wanted = _nights(check_in, check_out)
        _refuse_unbookable(state, state.listings[reservation.listing_id], wanted, keep=own, exclude=reservation.id)
        reservation.check_in, reservation.check_out = check_in, check_out
        if "guest_name" in item:
            reservation.guest_name = _text(item["guest_name"], "guest_name")
        if "total" in item:
            reservation.total = _total(item["total"])
        _apply_optional(reservation, item)
        _bump(reservation, "updated")
        platform.notify(reservation, "updated")
        return reservation


def cancel(app: Sandbox, slug: str, reservation_id: str) -> Reservation:
    with app.store.lock:
        platform = _guest_platform(app, slug)
        reservation = _active(app.store[slug], reservation_id)
        reservation.status = "cancelled"
        _bump(reservation, "cancelled")
        platform.notify(reservation, "cancelled")
        return reservation


def _guest_platform(app: Sandbox, slug: str) -> Platform:
    platform = app.platforms.get(slug)
    if platform is None or not platform.guest_bookings:
        raise NotFound(f"{slug!r} takes no guest bookings")
    return platform


def _active(state: PlatformState, reservation_id: str) -> Reservation:
    reservation = state.reservations.get(reservation_id)
    if reservation is None:
        raise NotFound(f"unknown reservation {reservation_id!r}")
    if not reservation.active:
        raise Conflict(f"reservation {reservation_id} is cancelled")
    return reservation


def _bump(reservation: Reservation, change: str) -> None:
    # Every change needs to be handed over (and, where the platform asks for it, acknowledged) again.
    reservation.revision += 1
    reservation.last_change = change
    reservation.updated_at = utcnow()
    reservation.acknowledged = False
    reservation.fallback_email = False
    reservation.br_status = "pending"


def _refuse_unbookable(
    state: PlatformState, listing: Listing, nights: list[date], *, keep: set[date] = frozenset(), exclude: str = ""
) -> None:
    """A guest cannot book a night that is closed or booked; a stay keeps the nights it already holds."""
    booked = {n: r.id for r in state.active_reservations(listing.listing_id) if r.id != exclude for n in r.nights()}
    for night in nights:
        if night in booked:
            raise Conflict(f"night {night} is already booked by {booked[night]}")
        day = listing.days.get(night)
        if night not in keep and day is not None and (not day.open or day.stop_sell):
            raise Conflict(f"night {night} is closed on listing {listing.listing_id}")


def _refuse_too_long(listing: Listing, check_in: date, check_out: date) -> None:
    """A guest cannot book a stay longer than the maximum stay of its arrival night."""
    day = listing.days.get(check_in)
    nights = (check_out - check_in).days
    if day is not None and day.max_stay is not None and nights > day.max_stay:
        raise Conflict(f"a stay arriving {check_in} may last at most {day.max_stay} nights, not {nights}")


def _stay(platform: Platform, check_in_raw: Any, check_out_raw: Any) -> tuple[date, date]:
    check_in = checks.iso_date(check_in_raw, "check_in")
    check_out = checks.iso_date(check_out_raw, "check_out")
    if check_out <= check_in:
        raise Invalid("check_out must be after check_in")
    platform.check_stay(check_in, check_out)
    return check_in, check_out


def _nights(check_in: date, check_out: date) -> list[date]:
    return checks.inclusive_range(check_in, check_out, "stay")[:-1]


def _apply_optional(reservation: Reservation, item: dict) -> None:
    if "guest_email" in item:
        reservation.guest_email = _text(item["guest_email"], "guest_email", allow_empty=True)
    if "guest_phone" in item:
        reservation.guest_phone = _text(item["guest_phone"], "guest_phone", allow_empty=True)
    if "guests" in item:
        reservation.guests = checks.positive_int(item["guests"], "guests")
    _apply_details(reservation, item)


def _apply_details(reservation: Reservation, item: dict) -> None:
    for name in ("children", "infants"):
        if name in item:
            value = item[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < reservation.guests:
                raise Invalid(f"{name} must be an integer from 0 to guests - 1, got {value!r}")
            setattr(reservation, name, value)
    if reservation.children + reservation.infants >= reservation.guests:
        raise Invalid("children and infants must leave at least one adult among guests")
    for name in ("taxes", "fees"):
        if name in item:
            setattr(reservation, name, None if item[name] is None else _amount(item[name], name))
    if "special_requests" in item:
        requests = checks.require_list(item["special_requests"], "special_requests", max_items=10)
        reservation.special_requests = tuple(_text(text, "special_requests[]") for text in requests)
    if "sub_channel" in item:
        reservation.sub_channel = _text(item["sub_channel"], "sub_channel", allow_empty=True)
    if "payment_model" in item:
        if item["payment_model"] not in ("platform", "property"):
            raise Invalid(f'payment_model must be "platform" or "property", got {item["payment_model"]!r}')
        reservation.property_collects = item["payment_model"] == "property"


def _amount(value: Any, where: str) -> Decimal:
    # Taxes or fees: a decimal string, zero or more.
    try:
        amount = Decimal(value).quantize(Decimal("0.01")) if isinstance(value, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not 0 <= amount < 10**9:
        raise Invalid(f"{where} must be a decimal string like 12.50, got {value!r}")
    return amount


def _text(value: Any, where: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value.strip() and not allow_empty) or len(value) > 120:
        raise Invalid(f"{where} must be a non-empty string of at most 120 characters")
    return value.strip()


def _total(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Invalid("total must be a decimal string like 480.00")
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise Invalid(f"total is not a number: {value!r}") from exc
    if amount <= 0:
        raise Invalid("total must be greater than 0")
    return amount
