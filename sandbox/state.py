"""The in-memory world of the sandbox: listings, their calendars, reservations and counters.

One re-entrant lock guards all of it; callers hold `store.lock` while they read or change anything.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sandbox.checks import iso_instant


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Day:
    open: bool = True  # false once we close it (availability false, BookingLimit 0, inventory 0)
    price: Decimal | None = None
    currency: str | None = None
    min_stay: int | None = None
    # The longest stay a guest may book arriving on this night (None: no maximum).
    max_stay: int | None = None
    closed_to_arrival: bool = False
    closed_to_departure: bool = False
    stop_sell: bool = False
    updated_at: datetime | None = None


@dataclass
class Listing:
    listing_id: str
    currency: str = "EUR"
    room_codes: set[str] | None = None  # explicit codes: others are refused
    # A room type of a hotel is a listing of its own (its calendar, its guests), written through the
    # hotel's code and its room code (``room_codes``). None: the listing is a hotel (or a home) itself.
    hotel: str | None = None
    rate_codes: set[str] | None = None
    last_room_code: str | None = None
    last_rate_code: str | None = None
    days: dict[date, Day] = field(default_factory=dict)

    def day(self, night: date) -> Day:
        return self.days.setdefault(night, Day(currency=self.currency))

    def update(self, nights: list[date], **changes) -> int:
        """Set fields on these nights; returns how many nights were written."""
        now = utcnow()
        for night in nights:
            day = self.day(night)
            for name, value in changes.items():
                setattr(day, name, value)
            day.updated_at = now
        return len(nights)

    @property
    def hotel_code(self) -> str:
        return self.hotel or self.listing_id

    def room_code(self) -> str:
        return next(iter(sorted(self.room_codes or ())), None) or self.last_room_code or "1"

    def rate_code(self) -> str:
        return next(iter(sorted(self.rate_codes or ())), None) or self.last_rate_code or "1"


@dataclass
class Reservation:
    id: str
    listing_id: str
    check_in: date
    check_out: date
    guest_name: str
    total: Decimal
    currency: str
    guest_email: str = ""
    guest_phone: str = ""
    guests: int = 2
    status: str = "confirmed"  # or "cancelled"
    revision: int = 1
    last_change: str = "created"  # created | updated | cancelled
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    room_code: str = "1"
    rate_code: str = "1"
    # What else the guest booked, written where each platform's format carries it (docs/platforms.md).
    # ``guests`` counts everyone; ``children`` and ``infants`` are among them.
    children: int = 0
    infants: int = 0
    taxes: Decimal | None = None
    fees: Decimal | None = None
    special_requests: tuple[str, ...] = ()
    sub_channel: str = ""  # the brand it was sold on (expedia: "Hotels.com")
    property_collects: bool = False  # the guest pays the property, not the platform
    # booking_com: pull and acknowledge
    acknowledged: bool = False
    offered_revision: int | None = None
    fallback_email: bool = False
    # expedia: BR/BC
    br_status: str = "pending"  # pending -> retrieved -> confirmed; a change makes it pending again
    confirm_number: str | None = None

    @property
    def adults(self) -> int:
        return max(1, self.guests - self.children - self.infants)

    @property
    def active(self) -> bool:
        return self.status != "cancelled"

    def nights(self) -> list[date]:
        return [self.check_in + timedelta(days=i) for i in range((self.check_out - self.check_in).days)]

    def given_and_surname(self) -> tuple[str, str]:
        given, _, surname = self.guest_name.strip().rpartition(" ")
        return (given, surname) if given else ("", surname)

    def as_state(self) -> dict:
        """The fields every platform lists; a platform adds its own (`Platform.reservation_state`)."""
        return {
            "id": self.id,
            "listing_id": self.listing_id,
            "check_in": self.check_in.isoformat(),
            "check_out": self.check_out.isoformat(),
            "guest_name": self.guest_name,
            "guest_email": self.guest_email,
            "guests": self.guests,
            "total": f"{self.total:.2f}",
            "currency": self.currency,
            "status": self.status,
            "revision": self.revision,
            "created_at": iso_instant(self.created_at),
            "updated_at": iso_instant(self.updated_at),
        }


@dataclass
class Stats:
    requests: Counter = field(default_factory=Counter)
    rate_limit_violations: int = 0
    invalid_payloads: int = 0
    webhooks_sent: int = 0
    webhooks_failed: int = 0
    unacknowledged_offers: int = 0
    last_invalid: str | None = None

    def as_dict(self) -> dict:
        return {
            "requests": dict(self.requests),
            "requests_total": sum(self.requests.values()),
            "rate_limit_violations": self.rate_limit_violations,
            "invalid_payloads": self.invalid_payloads,
            "webhooks_sent": self.webhooks_sent,
            "webhooks_failed": self.webhooks_failed,
            "unacknowledged_offers": self.unacknowledged_offers,
            "last_invalid": self.last_invalid,
        }


@dataclass
class PlatformState:
    listings: dict[str, Listing] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    custom_feeds: dict[str, bytes] = field(default_factory=dict)  # ical only
    next_number: int = 0

    def listing_for_write(self, listing_id: str) -> Listing:
        """Listings spring into existence on the first valid write."""
        return self.listings.setdefault(listing_id, Listing(listing_id))

    def room_listings(self, hotel: str) -> dict[str, Listing]:
        """The room-type listings of ``hotel`` (``Listing.hotel``), by room code."""
        return {code: item for item in self.listings.values() if item.hotel == hotel for code in item.room_codes or ()}

    def knows_hotel(self, hotel: str) -> bool:
        """A hotel is the account's when it is a listing itself or has room-type listings."""
        return hotel in self.listings or any(item.hotel == hotel for item in self.listings.values())

    def hotel_of(self, reservation: Reservation) -> str:
        """The hotel a reservation is at: its listing's, where the listing is a room type of one."""
        listing = self.listings.get(reservation.listing_id)
        return listing.hotel_code if listing is not None else reservation.listing_id

    def of_listing(self, listing_id: str) -> list[Reservation]:
        return [r for r in self.reservations.values() if r.listing_id == listing_id]

    def active_reservations(self, listing_id: str) -> list[Reservation]:
        return [r for r in self.reservations.values() if r.listing_id == listing_id and r.active]

    def booked_nights(self, listing_id: str) -> dict[date, str]:
        return {night: r.id for r in self.active_reservations(listing_id) for night in r.nights()}


class Store:
    """The state of each platform in `slugs` (the sandbox passes the slugs its platform classes declare)."""

    def __init__(self, slugs: Iterable[str]) -> None:
        self.lock = threading.RLock()
        self.slugs = tuple(slugs)
        self.platforms: dict[str, PlatformState] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.platforms = {slug: PlatformState() for slug in self.slugs}

    def __getitem__(self, slug: str) -> PlatformState:
        return self.platforms[slug]

    def record_invalid(self, slug: str, reason: str) -> None:
        with self.lock:
            stats = self.platforms[slug].stats
            stats.invalid_payloads += 1
            stats.last_invalid = reason
