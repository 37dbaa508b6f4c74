"""Booking.com: OTA 2015B XML with HTTP basic auth; reservations are pull-only (docs/platforms.md).

Availability, restrictions and prices are pushed as ``OTA_HotelAvailNotifRQ`` /
``OTA_HotelRateAmountNotifRQ``. Reservations are pulled (``GET OTA_HotelResNotif`` hands back an
``OTA_HotelResNotifRQ``) and must be acknowledged with ``OTA_NotifReportRQ``, or Booking.com offers them
again and finally falls back to e-mail. The notify ping is only a hint to pull now: it carries no data
and no secret, so nothing in it is trusted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import partial
from typing import ClassVar

from adapters import http
from adapters.base import (
    AvailabilityUpdate,
    BookingData,
    BookingNotFoundError,
    BookingPage,
    Capability,
    Demo,
    HealthResult,
    HotelRoomTypes,
    Notification,
    NotificationKind,
    PlatformAdapter,
    PlatformAPIError,
    Polling,
    PricingUpdate,
    RateLimit,
    WebhookConfig,
    WebhookPayloadError,
    batches,
)
from adapters.booking_com import ota
from adapters.booking_com.ota_codes import OTA_MAPPING_RULES
from adapters.booking_com.reservations import booking_channel, parse_hotel_reservation, reservation_id
from adapters.webhook_input import json_object
from adapters.xml import InvalidUpdateError, attr, child, children, element, local, parse_answer, sub, to_bytes

DEFAULT_RATE_PLAN = "BAR"
PING_ECHO = "channel-manager health check"


class BookingComAdapter(HotelRoomTypes, PlatformAdapter):
    slug: ClassVar[str] = "booking_com"
    display_name: ClassVar[str] = "Booking.com"
    colour = "#003580"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.PUSH_AVAILABILITY,
            Capability.PUSH_PRICING,
            Capability.PUSH_RESTRICTIONS,
            Capability.PUSH_MAX_STAY,
            Capability.PULL_BOOKINGS,
            Capability.ACKNOWLEDGE,
            Capability.WEBHOOKS,
            Capability.PER_NIGHT_PRICE,
            Capability.CLOSED_TO_ARRIVAL_DEPARTURE,
            Capability.RATE_PLAN_RESTRICTIONS,
            Capability.BATCH_LISTINGS,
        }
    )
    # OTA messages per request. A range takes one message; arrival/departure restrictions add one
    # message per run of ranges, so a request carries a little fewer than max_batch ranges.
    max_batch: ClassVar[int] = ota.MAX_MESSAGES
    rate_limit = RateLimit(20, 60.0)
    # Booking.com takes stays of up to 30 nights, 90 where the property accepts long stays
    # (LongStayInfo@MaxLengthOfStay allows 45-90): a longer maximum, or none, is sent as 90.
    max_stay_ceiling = 90
    # Reservations arrive only by pull; the webhook is a hint to pull now.
    # One pull reads the reservations of every hotel of the account (hotel_ids is a list).
    polling = Polling(every_seconds=25, per_account=True)
    webhook_path = "booking-com"
    mapping_rules = OTA_MAPPING_RULES
    # OTA hotel codes are at most 16 characters.
    demo = Demo(
        listing_id="bdc-demo-{unit}",
        credentials={"username": "sandbox-booking", "password": "sandbox-booking-pass"},
    )

    # --- plumbing -----------------------------------------------------------------------------

    def _url(self, operation: str) -> str:
        return f"{self.account.base_url.rstrip('/')}/hotels/ota/{operation}"

    def _auth(self) -> tuple[str, str]:
        return (self.account.credentials.username, self.account.credentials.password)

    def _codes(self, metadata=None, listing_id: str = "") -> tuple[str, str]:
        metadata = metadata or self.account.metadata or {}
        room = str(metadata.get("room_id") or listing_id or self.account.listing_id)
        rate = str(metadata.get("rate_plan_id") or DEFAULT_RATE_PLAN)
        return room, rate

    def _post(self, operation: str, body: bytes, *, endpoint: str, context: str = ""):
        return ota.post(
            self._url(operation), body, platform=self.slug, endpoint=endpoint, context=context, auth=self._auth()
        )

    # --- outbound -----------------------------------------------------------------------------

    def update_availability(self, update: AvailabilityUpdate) -> int:
        """Raises ``InvalidUpdateError`` before any request if a value cannot be sent."""
        return self.update_availability_many([update])

    def update_pricing(self, update: PricingUpdate) -> int:
        return self.update_pricing_many([update])

    def update_availability_many(self, updates) -> int:
        """Every room type's messages in requests of up to ``max_batch`` messages, one hotel per request."""
        return self._send_rooms(
            updates,
            partial(ota.avail_messages, max_stay_ceiling=self.max_stay_ceiling),
            ota.avail_request_rooms,
            "OTA_HotelAvailNotif",
            "update_availability",
        )

    def update_pricing_many(self, updates) -> int:
        return self._send_rooms(
            updates, ota.rate_messages, ota.rate_request_rooms, "OTA_HotelRateAmountNotif", "update_pricing"
        )

    def _send_rooms(self, updates, messages_of, request_of, operation: str, endpoint: str) -> int:
        # Every message is built (and checked) before the first request goes out.
        by_hotel: dict[str, list] = {}
        for update in updates:
            room, rate = self._codes(update.metadata, update.listing_id if update.metadata else "")
            by_hotel.setdefault(ota.hotel_code(update.listing_id), []).extend(
                (room, rate, message) for message in messages_of(update)
            )
        requests = 0
        for hotel, triples in by_hotel.items():
            for chunk in batches(triples, self.max_batch):
                context = self._context(sorted({(room, rate) for room, rate, _m in chunk}))
                self._post(operation, request_of(hotel, chunk), endpoint=endpoint, context=context)
                requests += 1
        return requests

    @staticmethod
    def _context(codes) -> str:
        return "; ".join(f"InvTypeCode={room!r}, RatePlanCode={rate!r}" for room, rate in codes)

    # --- bookings -----------------------------------------------------------------------------

    def fetch_bookings(
        self, *, cursor: str | None = None, since: dt.datetime | None = None, listing_ids: Sequence[str] = ()
    ) -> BookingPage:
        """Every reservation not yet acknowledged of ``listing_ids`` (this hotel when empty);
        ``since``/``cursor`` do not apply to the queue."""
        hotels = list(dict.fromkeys(listing_ids)) or [self.account.listing_id]
        response = http.request(
            "GET",
            self._url("OTA_HotelResNotif"),
            platform=self.slug,
            endpoint="fetch_bookings",
            raise_for_status=False,
            params={"hotel_ids": ",".join(hotels)},
            auth=self._auth(),
        )
        if response.status_code == 404:
            raise PlatformAPIError(
                f"{self.slug} fetch_bookings: unknown hotel {self.account.listing_id!r}", permanent=True, status=404
            )
        if response.status_code >= 400:
            ota.check_answer(response, platform=self.slug, endpoint="fetch_bookings")
        root = parse_answer(response.content, platform=self.slug, endpoint="fetch_bookings")
        if local(root) != "OTA_HotelResNotifRQ":
            # An RS here is the platform answering with Errors.
            ota.check_answer(response, platform=self.slug, endpoint="fetch_bookings")
            return BookingPage(bookings=(), cursor=None)
        unreadable: list[str] = []
        bookings = parse_res_notif(
            root, listing_id=self.account.listing_id, zone=self.account.timezone, unreadable=unreadable
        )
        return BookingPage(bookings=tuple(bookings), cursor=None, unreadable=tuple(unreadable))

    def fetch_booking(self, channel_booking_id: str) -> BookingData:
        """Booking.com has no read-one call: the booking is found only while it waits in the queue."""
        for booking in self.fetch_bookings().bookings:
            if booking.channel_booking_id == channel_booking_id:
                return booking
        raise BookingNotFoundError(f"{self.slug}: reservation {channel_booking_id} is not in the pull queue")

    def acknowledge_bookings(self, bookings: list[tuple[BookingData, str]]) -> None:
        """One ``OTA_NotifReportRQ`` for all of them; nothing is sent for an empty list."""
        if not bookings:
            return
        self._post("OTA_NotifReport", notif_report_request(bookings), endpoint="acknowledge_bookings")

    # --- inbound ------------------------------------------------------------------------------

    @classmethod
    def verify_webhook_signature(
        cls, *, headers: Mapping[str, str], body: bytes, config: WebhookConfig, now: dt.datetime
    ) -> None:
        """Accepts every ping: it carries no secret and no data, only "pull now" (docs/platforms.md).

        Safe because the ping never changes anything by itself; the pull that follows is authenticated.
        """
        return None

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[Notification]:
        payload = json_object(body, what="booking_com ping")
        hotel_id, reservation_id = payload.get("hotel_id"), payload.get("reservation_id")
        if not isinstance(hotel_id, (str, int)) or not str(hotel_id):
            raise WebhookPayloadError("booking_com ping without hotel_id")
        reservation = str(reservation_id) if isinstance(reservation_id, (str, int)) else ""
        return [
            Notification(
                platform=cls.slug,
                kind=NotificationKind.PULL_NOW,
                event_key=f"ping:{hotel_id}:{reservation}",
                listing_id=str(hotel_id),
                channel_booking_id=reservation,
            )
        ]

    # --- health -------------------------------------------------------------------------------

    def check_health(self) -> HealthResult:
        try:
            root = self._post("OTA_Ping", ota.ping_request(PING_ECHO), endpoint="check_health")
        except PlatformAPIError as exc:
            return HealthResult(healthy=False, message=str(exc))
        echoed = (child(root, "EchoData").text or "") if child(root, "EchoData") is not None else ""
        if echoed.strip() != PING_ECHO:
            return HealthResult(healthy=False, message="OTA_PingRS did not echo the EchoData")
        return HealthResult(healthy=True, message="OTA_Ping answered")


def parse_res_notif(
    root, *, listing_id: str = "", zone: str = "", platform: str = "booking_com", unreadable: list[str] | None = None
) -> list[BookingData]:
    """Every ``HotelReservation`` of an ``OTA_HotelResNotifRQ`` (none when the queue is empty); ``zone`` is
    hotel ``listing_id``'s (``parse_hotel_reservation``).

    Raises ``WebhookPayloadError`` for one it cannot read; with ``unreadable``, that one is described
    there instead and the others are returned (a pull imports them and leaves it unacknowledged)."""
    status = attr(root, "ResStatus")
    version = attr(root, "TimeStamp")
    bookings = []
    for position, res in enumerate(children(child(root, "HotelReservations"), "HotelReservation"), start=1):
        try:
            bookings.append(
                parse_hotel_reservation(
                    res,
                    platform=platform,
                    status=status,
                    listing_id=listing_id,
                    version=version,
                    sub_channel=booking_channel(root),
                    zone=zone,
                )
            )
        except (WebhookPayloadError, ValueError, ArithmeticError) as exc:  # ArithmeticError: a bad Decimal
            if unreadable is None:
                raise
            unreadable.append(f"reservation {_name(res, position)} could not be read: {exc}"[:300])
    return bookings


def _name(res, position: int) -> str:
    """A reservation's id for staff, or its place on the page when it has none."""
    try:
        return reservation_id(res)
    except WebhookPayloadError:
        return f"#{position} of the page (no id)"


def notif_report_request(bookings: list[tuple[BookingData, str]]) -> bytes:
    root = element(ota.OTA_NS, "OTA_NotifReportRQ", {"Version": ota.OTA_VERSION, "TimeStamp": ota.now_stamp()})
    sub(root, "Success")
    container = sub(sub(sub(root, "NotifDetails"), "HotelNotifReport"), "HotelReservations")
    for booking, our_id in bookings:
        if not our_id:
            raise InvalidUpdateError(f"no booking id of ours to acknowledge {booking.channel_booking_id}")
        res = sub(container, "HotelReservation")
        sub(res, "UniqueID", {"Type": "14", "ID": booking.channel_booking_id})
        info = sub(res, "ResGlobalInfo")
        sub(sub(info, "HotelReservationIDs"), "HotelReservationID", {"ResID_Type": "14", "ResID_Value": str(our_id)})
        # The schema requires BasicPropertyInfo here.
        sub(info, "BasicPropertyInfo", {"HotelCode": booking.listing_id or None})
    return to_bytes(root)
