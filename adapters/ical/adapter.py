"""iCal adapter: a feed URL is read as a snapshot of closed nights; there is nothing to push.

Every event becomes a ``kind="block"`` booking (Airbnb's "Reserved" and "Not available" alike: a feed
carries no guest), identified by its UID. The page is a snapshot: a block we hold that the feed no
longer has was removed at the source. Events whose dates cannot be read travel on the page apart
(``FeedPage.invalid``), so one broken event fails only itself and its block is kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from adapters.base import (
    AvailabilityUpdate,
    BookingData,
    BookingIdScope,
    BookingNotFoundError,
    BookingPage,
    BookingStatus,
    Capability,
    Demo,
    HealthResult,
    Notification,
    PlatformAdapter,
    PlatformAPIError,
    Polling,
    PricingUpdate,
    WebhookConfig,
    WebhookPayloadError,
    WebhookSignatureError,
)
from adapters.ical.feed import FeedError, FeedEvent, FeedReading, InvalidEvent, read_feed
from adapters.ical.fetch import fetch_feed

SLUG = "ical"


@dataclass(frozen=True)
class FeedPage(BookingPage):
    """A whole feed: its readable events as blocks, and the events it could not read."""

    invalid: tuple[InvalidEvent, ...] = ()


class IcalAdapter(PlatformAdapter):
    slug = SLUG
    display_name = "iCal feed"
    colour = "#8e44ad"
    capabilities = frozenset({Capability.PULL_BOOKINGS, Capability.SNAPSHOT_FEED})
    # ICAL_POLL_SECONDS; a feed's ``poll_seconds`` metadata may ask for more often, down to a minute.
    polling = Polling(every_seconds=900, min_seconds=60, per_connection=True)
    booking_id_scope = BookingIdScope.CONNECTION
    demo = Demo(
        listing_id="garden-studio-calendar",
        credentials={"feed_url": "{sandbox_url}/ical/custom/garden-studio.ics"},
        metadata={"poll_seconds": 60},
        feed="feeds/garden-studio",
    )

    def _feed_url(self) -> str:
        """The feed's URL, a credential: its token lets anyone read the owner's calendar."""
        url = self.account.credentials.feed_url
        if not url.strip():
            raise PlatformAPIError("ical: the connection has no feed_url", permanent=True, code="no_feed_url")
        return url

    def _read(self, endpoint: str) -> FeedReading:
        body = fetch_feed(self._feed_url(), allow_private_network=self.account.allow_private_network, endpoint=endpoint)
        try:
            return read_feed(body, zone=self.account.timezone)
        except FeedError as exc:
            raise PlatformAPIError(f"ical: {exc}", permanent=True, code="invalid_feed") from exc

    def _events(self, endpoint: str) -> list[FeedEvent]:
        return self._read(endpoint).events

    def _booking(self, event: FeedEvent) -> BookingData:
        return BookingData(
            platform=SLUG,
            channel_booking_id=event.uid,
            listing_id=self.account.listing_id,
            status=BookingStatus.CONFIRMED,
            check_in=event.start,
            check_out=event.end,
            version=event.version,
            # A feed has no status field worth the name; the summary ("Reserved", "Not available")
            # is the closest thing and helps staff recognise the block.
            raw_status=event.summary,
            kind="block",
        )

    # --- bookings ---------------------------------------------------------------------------

    def fetch_bookings(
        self, *, cursor: str | None = None, since: dt.datetime | None = None, listing_ids: Sequence[str] = ()
    ) -> FeedPage:
        """The whole feed every time: a feed has no cursor and no change dates to filter on. Events
        whose dates cannot be read are on ``invalid``, not dropped."""
        reading = self._read("fetch_bookings")
        return FeedPage(
            bookings=tuple(self._booking(e) for e in reading.events),
            cursor=None,
            is_snapshot=True,
            invalid=tuple(reading.invalid),
        )

    def fetch_booking(self, channel_booking_id: str) -> BookingData:
        for event in self._events("fetch_booking"):
            if event.uid == channel_booking_id:
                return self._booking(event)
        raise BookingNotFoundError(f"ical: no event {channel_booking_id!r} in the feed", code="not_found")

    # --- outbound: a feed is read-only --------------------------------------------------------

    def update_availability(self, update: AvailabilityUpdate) -> int:
        raise PlatformAPIError(
            "ical feeds are read-only: other platforms import our export URL instead",
            permanent=True,
            code="not_supported",
        )

    def update_pricing(self, update: PricingUpdate) -> int:
        raise PlatformAPIError("ical feeds carry no prices", permanent=True, code="not_supported")

    # --- inbound: feeds do not push -----------------------------------------------------------

    @classmethod
    def verify_webhook_signature(
        cls, *, headers: Mapping[str, str], body: bytes, config: WebhookConfig, now: dt.datetime
    ) -> None:
        raise WebhookSignatureError("ical feeds send no webhooks")

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[Notification]:
        raise WebhookPayloadError("ical feeds send no webhooks")

    # --- health -----------------------------------------------------------------------------

    def check_health(self) -> HealthResult:
        try:
            reading = self._read("check_health")
        except PlatformAPIError as exc:
            return HealthResult(healthy=False, message=str(exc))
        unreadable = f", {len(reading.invalid)} unreadable" if reading.invalid else ""
        return HealthResult(healthy=True, message=f"feed readable, {len(reading.events)} events{unreadable}")
