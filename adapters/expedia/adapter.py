"""Expedia: EQC XML (credentials inside the message) plus SOAP booking notifications.

Pushes go out as AR ``AvailRateUpdateRQ``; bookings arrive both as SOAP notifications (which carry the
whole booking) and in BR's pending list, where each one stays until it is confirmed with BC
(``acknowledge_bookings``). See the expedia section of docs/platforms.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import ClassVar

from adapters.base import (
    AvailabilityUpdate,
    BookingData,
    BookingNotFoundError,
    BookingPage,
    Capability,
    Demo,
    HealthResult,
    HotelRoomTypes,
    MappingRule,
    Notification,
    PlatformAdapter,
    PlatformAPIError,
    Polling,
    PricingUpdate,
    RateLimit,
    Setting,
    WebhookAnswer,
    WebhookConfig,
    batches,
)
from adapters.expedia import eqc, notifications, parr

DEFAULT_RATE_PLAN = "BAR"


class ExpediaAdapter(HotelRoomTypes, PlatformAdapter):
    slug: ClassVar[str] = "expedia"
    display_name: ClassVar[str] = "Expedia"
    colour = "#f5b400"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.PUSH_AVAILABILITY,
            Capability.PUSH_PRICING,
            Capability.PUSH_RESTRICTIONS,
            Capability.PUSH_MAX_STAY,
            Capability.WEBHOOKS,
            # BR's pending list is polled too: a booking whose notification was lost still arrives,
            # and every retrieved booking is confirmed with BC.
            Capability.PULL_BOOKINGS,
            Capability.ACKNOWLEDGE,
            Capability.PER_NIGHT_PRICE,
            Capability.CLOSED_TO_ARRIVAL_DEPARTURE,
            Capability.RATE_PLAN_RESTRICTIONS,
            Capability.READ_PRICES,  # PARR: reconcile compares the rates Expedia holds
            Capability.READ_RESTRICTIONS,  # and the maximum stays it holds
            Capability.BATCH_LISTINGS,  # AR: one Hotel, an AvailRateUpdate per room type
        }
    )
    max_stay_ceiling = eqc.MAX_LOS  # EQC maxLOS is 1..28
    max_batch: ClassVar[int] = 200  # AvailRateUpdate elements per AR request, of any room types (docs/platforms.md)
    rate_limit = RateLimit(50, 1.0)
    # BR is a safety net behind the push notifications, so once a minute is plenty.
    polling = Polling(every_seconds=60)
    webhook_path = "expedia"
    # From expedia/eqc_xsd (AvailRateUpdateRQ, BookingRetrievalRQ, BookingConfirmRQ): every request
    # carries Authentication username (4-30) and password (6-30); Hotel@id is xs:int >= 0; RoomType@id
    # and RatePlan@id are strings of 1-50.
    mapping_rules = (
        MappingRule(
            "platform_listing_id", "EQC Hotel@id (xs:int, minInclusive 0)", pattern=r"[0-9]+", max_value=2**31 - 1
        ),
        MappingRule("room_id", "EQC RoomType@id (string 1-50)", in_metadata=True, min_length=1, max_length=50),
        MappingRule("rate_plan_id", "EQC RatePlan@id (string 1-50)", in_metadata=True, min_length=1, max_length=50),
        MappingRule("username", "EQC Authentication@username (4-30)", required=True, min_length=4, max_length=30),
        MappingRule("password", "EQC Authentication@password (6-30)", required=True, min_length=6, max_length=30),
    )
    webhook_body = "xml"
    # The credentials Expedia puts in each notification's SOAP header.
    extra_settings = (
        Setting("PUSH_USERNAME", "expedia-push"),
        Setting("PUSH_PASSWORD", "sandbox-expedia-push-pass"),
    )
    # Hotel ids are numeric.
    demo = Demo(
        listing_id="91{unit:02d}",
        credentials={"username": "sandbox-expedia", "password": "sandbox-expedia-pass"},
    )

    @classmethod
    def webhook_config(cls, platform_settings, *, signing_keys=None) -> WebhookConfig:
        return WebhookConfig(
            username=str(platform_settings.get("PUSH_USERNAME", "")),
            password=str(platform_settings.get("PUSH_PASSWORD", "")),
        )

    # --- plumbing -----------------------------------------------------------------------------

    def _url(self, operation: str) -> str:
        return f"{self.account.base_url.rstrip('/')}/eqc/{operation}"

    def _login(self) -> dict[str, str]:
        return {"username": self.account.credentials.username, "password": self.account.credentials.password}

    def _codes(self, metadata=None, listing_id: str = "") -> tuple[str, str]:
        """(RoomType@id, RatePlan@id) of a listing's mapping (this connection's by default); a hotel
        mapped as one unit is its own room type."""
        metadata = metadata or self.account.metadata or {}
        return (
            str(metadata.get("room_id") or listing_id or self.account.listing_id),
            str(metadata.get("rate_plan_id") or DEFAULT_RATE_PLAN),
        )

    def _context(self, codes=None) -> str:
        codes = codes or [self._codes()]
        rooms = "; ".join(f"room type {room!r}, rate plan {rate!r}" for room, rate in codes)
        return f"hotel {self.account.listing_id!r}, {rooms}"

    # --- outbound -----------------------------------------------------------------------------

    def update_availability(self, update: AvailabilityUpdate) -> int:
        """Raises ``InvalidUpdateError`` before any request if a value cannot be sent."""
        return self.update_availability_many([update])

    def update_pricing(self, update: PricingUpdate) -> int:
        return self.update_pricing_many([update])

    def update_availability_many(self, updates) -> int:
        """Every room type's ranges in AR requests of up to ``max_batch`` AvailRateUpdates, one hotel each."""
        return self._send_rooms(
            updates,
            lambda u: eqc.availability_updates(tuple(u.ranges)),
            eqc.availability_request,
            "update_availability",
        )

    def update_pricing_many(self, updates) -> int:
        return self._send_rooms(
            updates, lambda u: eqc.price_updates(tuple(u.ranges)), eqc.pricing_request, "update_pricing"
        )

    def _send_rooms(self, updates, items_of, request_of, endpoint: str) -> int:
        # Every update is checked and every body built before the first request goes out.
        by_hotel: dict[str, list] = {}
        for update in updates:
            room, rate = self._codes(update.metadata, update.listing_id if update.metadata else "")
            by_hotel.setdefault(eqc.hotel_id(update.listing_id), []).extend(
                (room, rate, item) for item in items_of(update)
            )
        bodies = [
            (request_of(hotel=hotel, items=chunk, **self._login()), sorted({(r, p) for r, p, _i in chunk}))
            for hotel, triples in by_hotel.items()
            for chunk in batches(triples, self.max_batch)
        ]
        for body, codes in bodies:
            eqc.post(self._url("ar"), body, endpoint=endpoint, context=self._context(codes))
        return len(bodies)

    # --- bookings -----------------------------------------------------------------------------

    def fetch_bookings(
        self, *, cursor: str | None = None, since: dt.datetime | None = None, listing_ids: Sequence[str] = ()
    ) -> BookingPage:
        """The listing's pending bookings (BR has no paging; ``since`` does not apply)."""
        body = eqc.retrieval_request(hotel=eqc.hotel_id(self.account.listing_id), **self._login())
        root = eqc.post(self._url("br"), body, endpoint="fetch_bookings", context=self._context())
        unreadable: list[str] = []
        bookings = eqc.bookings_from_retrieval(root, unreadable=unreadable)
        return BookingPage(bookings=tuple(bookings), cursor=None, unreadable=tuple(unreadable))

    def fetch_booking(self, channel_booking_id: str) -> BookingData:
        if not channel_booking_id.isdigit():
            raise BookingNotFoundError(f"expedia: booking ids are numeric, got {channel_booking_id!r}")
        body = eqc.retrieval_request(
            hotel=eqc.hotel_id(self.account.listing_id), booking_id=channel_booking_id, **self._login()
        )
        root = eqc.post(self._url("br"), body, endpoint="fetch_booking", context=self._context())
        for booking in eqc.bookings_from_retrieval(root, unreadable=[]):  # another one broken is not this one's
            if booking.channel_booking_id == channel_booking_id:
                return booking
        raise BookingNotFoundError(f"expedia: booking {channel_booking_id} not found")

    def acknowledge_bookings(self, bookings: list[tuple[BookingData, str]]) -> None:
        """Confirm each booking with BC, our booking id as the confirmation number (10 per request)."""
        by_hotel: dict[str, list[tuple[BookingData, str]]] = {}
        for booking, our_id in bookings:
            by_hotel.setdefault(eqc.hotel_id(booking.listing_id or self.account.listing_id), []).append(
                (booking, our_id)
            )
        now = dt.datetime.now(dt.UTC)
        bodies = [
            eqc.confirm_request(hotel=hotel, confirmations=chunk, now=now, **self._login())
            for hotel, items in by_hotel.items()
            for chunk in batches(items, eqc.MAX_CONFIRMATIONS)
        ]
        for body in bodies:
            eqc.post(self._url("bc"), body, endpoint="acknowledge_bookings")

    # --- inbound ------------------------------------------------------------------------------

    @classmethod
    def verify_webhook_signature(
        cls, *, headers: Mapping[str, str], body: bytes, config: WebhookConfig, now: dt.datetime
    ) -> None:
        notifications.verify(body=body, username=config.username, password=config.password)

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[Notification]:
        return notifications.parse_notification(body)

    @classmethod
    def webhook_answer(cls, notifications_: list[Notification]) -> WebhookAnswer:
        return WebhookAnswer(
            status=200, body=notifications.answer(notifications_), content_type="text/xml; charset=utf-8"
        )

    def fetch_prices(self, *, start: dt.date, end: dt.date) -> dict[dt.date, Decimal]:
        """The per-day rates Expedia holds for our room type and rate plan (PARR), per night."""
        hotel = eqc.hotel_id(self.account.listing_id)
        room, rate = self._codes()
        prices: dict[dt.date, Decimal] = {}
        for first, stop in parr.windows(start, end):
            body = parr.rates_request(hotel=hotel, room=room, rate=rate, start=first, end=stop, **self._login())
            root = eqc.post(self._url("parr"), body, endpoint="fetch_prices", context=self._context())
            prices |= parr.rates_from_answer(root, room=room, rate=rate)
        return prices

    def fetch_max_stays(self, *, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        """The maxLOS Expedia holds for our room type and rate plan (PARR restrictions), per night."""
        hotel = eqc.hotel_id(self.account.listing_id)
        room, rate = self._codes()
        stays: dict[dt.date, int] = {}
        for first, stop in parr.windows(start, end):
            body = parr.rates_request(
                hotel=hotel, room=room, rate=rate, start=first, end=stop, restrictions=True, **self._login()
            )
            root = eqc.post(self._url("parr"), body, endpoint="fetch_max_stays", context=self._context())
            stays |= parr.max_stays_from_answer(root, room=room, rate=rate)
        return stays

    # --- health -------------------------------------------------------------------------------

    def check_health(self) -> HealthResult:
        """A BR for this hotel: any valid answer without errors means the credentials work."""
        try:
            self.fetch_bookings()
        except PlatformAPIError as exc:
            return HealthResult(healthy=False, message=str(exc))
        return HealthResult(healthy=True, message="EQC booking retrieval answered")
