"""The adapter contract every platform implements, and the plain data it passes around.

Conventions (see docs/platforms.md):
- Every range here is half-open ``[start, end)`` of nights, like a stay ``[check_in, check_out)``.
  An adapter converts to the platform's inclusive ranges at the edge.
- Money is ``Decimal`` plus an ISO 4217 currency code, never a float.
- Adapters never touch the database. The caller gives them a ``Credentials`` snapshot and gets back
  new tokens (``TokenSet``) to store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import money

T = TypeVar("T")


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (a platform's batch limit)."""
    step = max(1, size)
    for index in range(0, len(items), step):
        yield items[index : index + step]


# --- errors -----------------------------------------------------------------------------------


class PlatformAPIError(Exception):
    """A platform call failed.

    ``permanent`` errors (bad credentials, an unknown listing, a request the platform refuses) are not
    retried and mark the connection as needing attention; transient ones (timeouts, 5xx, 429) are
    retried with backoff and count against the circuit breaker. ``retry_after`` is in seconds when the
    platform said how long to wait.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.code = code


class InvalidUpdateError(PlatformAPIError, ValueError):
    """A value we were asked to send cannot be sent (refused before any request; permanent)."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True, code="invalid_value")


class BookingNotFoundError(PlatformAPIError):
    """The platform does not know that booking (permanent)."""

    def __init__(self, message: str, **kwargs):
        kwargs.setdefault("permanent", True)
        super().__init__(message, **kwargs)


class TokenRefreshError(PlatformAPIError):
    """The access token could not be refreshed; a person has to reconnect (permanent)."""

    def __init__(self, message: str, **kwargs):
        kwargs.setdefault("permanent", True)
        super().__init__(message, **kwargs)


class WebhookSignatureError(Exception):
    """A webhook's signature, timestamp or credentials did not check out (answer 401)."""


class UnknownSigningKeyError(WebhookSignatureError):
    """Signed with a key we do not hold: the platform may have rotated its keys, so fetch them once more."""


class WebhookPayloadError(Exception):
    """A webhook body is malformed (answer 400 with this message)."""


# --- plain data -------------------------------------------------------------------------------


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class PaymentModel(StrEnum):
    """Who takes the guest's money."""

    PLATFORM_COLLECTS = "platform_collects"
    PROPERTY_COLLECTS = "property_collects"


@dataclass(frozen=True)
class Guest:
    name: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class BookingData:
    """One booking as the platform holds it, in our vocabulary."""

    platform: str
    channel_booking_id: str
    listing_id: str
    status: BookingStatus
    check_in: dt.date
    check_out: dt.date
    guest: Guest = field(default_factory=Guest)
    guests_count: int = 1
    total_amount: Decimal | None = None
    currency: str = ""
    # Platforms deliver out of order: a version lets the importer ignore stale copies. It is a string
    # that sorts in the platform's order (zero-padded revision or an ISO timestamp).
    version: str = ""
    raw_status: str = ""
    # "reservation", or "block" for nights a platform closed without a guest (iCal "Not available").
    kind: str = "reservation"
    # The room type booked, where a listing (a hotel) has several and each is its own unit.
    room_type: str = ""
    # What else the platform says, where its format carries it (None / empty: it said nothing).
    taxes: Decimal | None = None
    fees: Decimal | None = None
    adults: int | None = None
    children: int | None = None
    infants: int | None = None
    special_requests: tuple[str, ...] = ()
    sub_channel: str = ""  # the brand it was sold on, e.g. Hotels.com through Expedia
    payment_model: PaymentModel | None = None


@dataclass(frozen=True)
class DayRange:
    """Half-open range of nights ``[start, end)``."""

    start: dt.date
    end: dt.date

    def __post_init__(self):
        if self.end <= self.start:
            raise ValueError(f"empty or reversed range {self.start}..{self.end}")

    @property
    def last_night(self) -> dt.date:
        """The inclusive end most platforms want on the wire."""
        return self.end - dt.timedelta(days=1)

    @property
    def nights(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class AvailabilityRange:
    """What a guest may book on each night of ``range``; one request carries many of these."""

    range: DayRange
    available: bool
    min_stay: int = 1
    closed_to_arrival: bool = False
    closed_to_departure: bool = False
    stop_sell: bool = False
    # The longest stay arriving on these nights; None: no maximum (sent as the platform's ceiling).
    max_stay: int | None = None

    def __post_init__(self):
        if self.min_stay < 1:
            raise ValueError(f"min_stay must be at least 1, got {self.min_stay}")
        if self.max_stay is not None and self.max_stay < 1:
            raise ValueError(f"max_stay must be at least 1, got {self.max_stay}")

    def max_stay_on_wire(self, ceiling: int) -> int:
        """The maximum stay a platform whose longest is ``ceiling`` receives: ours, or its ceiling where
        ours is longer or unset (a stay beyond the ceiling cannot be booked there anyway)."""
        stay = self.max_stay
        if isinstance(stay, bool) or not (stay is None or isinstance(stay, int)) or (stay is not None and stay < 1):
            raise InvalidUpdateError(f"max_stay must be an integer >= 1 or None, got {stay!r}")
        return ceiling if stay is None else min(stay, ceiling)


@dataclass(frozen=True)
class PriceRange:
    range: DayRange
    price: Decimal
    currency: str

    def __post_init__(self):
        if self.price <= 0:
            raise ValueError(f"price must be positive, got {self.price}")

    def price_on_wire(self) -> str:
        """The price as every platform writes it: exactly the currency's ISO 4217 decimals (``"12000"``
        JPY, ``"120.00"`` EUR, ``"12.345"`` KWD). Raises ``InvalidUpdateError`` for a
        price with more decimals than the currency has or an unknown currency: never rounded here."""
        if not isinstance(self.price, Decimal) or not self.price.is_finite() or self.price <= 0:
            raise InvalidUpdateError(f"price must be a positive Decimal, got {self.price!r}")
        try:
            return money.to_wire(self.price, self.currency)
        except money.MoneyError as exc:
            raise InvalidUpdateError(f"price {self.price} {self.currency!r}: {exc}") from None


@dataclass(frozen=True)
class AvailabilityUpdate:
    """Availability and restrictions for one listing over many ranges (ordered, not overlapping).

    ``metadata``: that listing's mapping (room and rate plan codes), for an account-batched push whose
    updates name several listings of one account (``update_availability_many``); empty means the
    adapter's own account."""

    listing_id: str
    ranges: tuple[AvailabilityRange, ...]
    metadata: Mapping[str, object] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PricingUpdate:
    """Nightly prices for one listing over many ranges (ordered, not overlapping); ``metadata`` as for
    ``AvailabilityUpdate``."""

    listing_id: str
    ranges: tuple[PriceRange, ...]
    metadata: Mapping[str, object] = field(default_factory=dict, compare=False)


class NotificationKind(StrEnum):
    BOOKING_CREATED = "booking_created"
    BOOKING_MODIFIED = "booking_modified"
    BOOKING_CANCELLED = "booking_cancelled"
    PULL_NOW = "pull_now"  # a hint with no data (Booking.com): poll the account now
    IGNORED = "ignored"  # an event type we do not handle: acknowledge and log


@dataclass(frozen=True)
class Notification:
    """One thing a webhook told us. ``event_key`` is unique per platform (for idempotency)."""

    platform: str
    kind: NotificationKind
    event_key: str
    listing_id: str = ""
    channel_booking_id: str = ""
    version: str = ""
    # Set when the webhook carried the whole booking (Expedia's SOAP notifications do), so the
    # importer needs no fetch.
    booking: BookingData | None = None


@dataclass(frozen=True)
class WebhookAnswer:
    """What the webhook view sends back; most platforms just want 200 with a small JSON body."""

    status: int = 200
    body: bytes = b'{"status": "ok"}'
    content_type: str = "application/json"


@dataclass(frozen=True)
class Credentials:
    """A snapshot of one connection's secrets, decrypted for the duration of one call."""

    access_token: str = ""
    refresh_token: str = ""
    access_token_expires_at: dt.datetime | None = None
    api_key: str = ""
    username: str = ""
    password: str = ""
    webhook_secret: str = ""
    # A feed's URL (iCal): it carries its owner's secret token, so it travels with the secrets.
    feed_url: str = ""


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: dt.datetime


def zone_named(name: str) -> dt.tzinfo:
    """The time zone called ``name`` (``PlatformAccount.timezone``, an IANA name), UTC for one no longer
    known, as the PMS's own today does: where a platform's UTC or offset time counts."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


@dataclass(frozen=True)
class PlatformAccount:
    """Everything an adapter needs to talk about one listing on one platform."""

    listing_id: str
    credentials: Credentials
    base_url: str
    metadata: Mapping[str, object] = field(default_factory=dict)
    # Our app's OAuth client at the platform (from settings, not per connection).
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    # Set from settings only, never from user input: lets feeds and APIs on loopback/private
    # addresses through (the sandbox runs on 127.0.0.1).
    allow_private_network: bool = False
    # The IANA zone of the listing's property: a platform's UTC or offset time counts by its date there.
    timezone: str = "UTC"


@dataclass(frozen=True)
class WebhookConfig:
    """What a platform's webhook check needs, from settings and the connection.

    ``secrets``: HMAC secrets, more than one while a secret is being rotated.
    ``username``/``password``: credentials a platform puts in the message (Expedia's SOAP header).
    ``audience``/``service_account_email``/``jwks``: Google Pub/Sub push OIDC checks; ``jwks`` is the
    key set (``{"keys": [...]}``) the caller fetched and cached.
    """

    secrets: tuple[str, ...] = ()
    username: str = ""
    password: str = ""
    audience: str = ""
    service_account_email: str = ""
    jwks: Mapping[str, object] | None = None


@dataclass(frozen=True)
class HealthResult:
    healthy: bool
    message: str


@dataclass(frozen=True)
class BookingPage:
    bookings: tuple[BookingData, ...]
    cursor: str | None  # pass back to continue; None when the platform has nothing more
    # True when the page is the platform's whole current set (an iCal feed): bookings we hold from
    # this connection that are missing from it were removed there.
    is_snapshot: bool = False
    # A description of each booking on the page the adapter could not read: those fail alone, are left
    # unacknowledged (the platform offers them again) and are reported on the pull's sync log.
    unreadable: tuple[str, ...] = ()


class Capability(StrEnum):
    """What a platform does; ``channelmgr`` branches on these, never on a slug."""

    PUSH_AVAILABILITY = "push_availability"
    PUSH_PRICING = "push_pricing"
    # Takes min stay and closed-to-arrival/departure; without it only open/closed is sent.
    PUSH_RESTRICTIONS = "push_restrictions"
    WEBHOOKS = "webhooks"  # tells us about bookings at ``webhook_path``
    PULL_BOOKINGS = "pull_bookings"  # bookings are (also) read by polling, as ``polling`` says
    ACKNOWLEDGE = "acknowledge"  # pulled bookings must be acknowledged
    OAUTH = "oauth"  # the OAuth code flow; tokens expire and are refreshed
    # Each poll returns the whole current set (a feed): what is missing was removed, and a sudden
    # mass removal is held for a person to confirm.
    SNAPSHOT_FEED = "snapshot_feed"
    # Takes a maximum stay per night (OTA SetMaxLOS, EQC maxLOS, ...) up to ``max_stay_ceiling``.
    PUSH_MAX_STAY = "push_max_stay"
    # What the push can carry besides open/closed (a PMS setting a platform cannot carry is ignored
    # there; the connection's page says so when it is mapped): a different price on each night,
    # closed-to-arrival/departure, and restrictions set per rate plan rather than per listing.
    PER_NIGHT_PRICE = "per_night_price"
    CLOSED_TO_ARRIVAL_DEPARTURE = "closed_to_arrival_departure"
    RATE_PLAN_RESTRICTIONS = "rate_plan_restrictions"
    # One request may carry several listings of one account (a hotel's room types): the push engine
    # sends every dirty unit of a ``batch_group`` together, through ``update_*_many``.
    BATCH_LISTINGS = "batch_listings"
    # The platform answers which nightly prices it holds (``fetch_prices``): reconcile compares them
    # with what the push sends (the PMS price through the connection's price rule).
    READ_PRICES = "read_prices"
    # The platform answers which restrictions it holds (``fetch_max_stays``): reconcile compares each
    # night's maximum stay with what the push sends.
    READ_RESTRICTIONS = "read_restrictions"


@dataclass(frozen=True)
class MappingRule:
    """A limit the platform's published schema puts on one value of a connection, checked when the
    connection is saved rather than found at push time.

    ``field``: ``platform_listing_id``, a ``platform_metadata`` key (``in_metadata``), or a credential
    name. Lengths count characters; ``pattern`` must match the whole value; ``max_value`` bounds a
    numeric id. ``required`` values must be present (a credential: when the connection is created or
    when it is cleared). ``source`` names the schema type the limit comes from.
    """

    field: str
    source: str
    in_metadata: bool = False
    required: bool = False
    min_length: int = 0
    max_length: int | None = None
    pattern: str = ""
    max_value: int | None = None


class BookingIdScope(StrEnum):
    """Where a platform's booking id is unique."""

    PLATFORM = "platform"  # one booking on the whole platform
    CONNECTION = "connection"  # only within one connection (an iCal feed's UIDs)


@dataclass(frozen=True)
class RateLimit:
    """The platform's published request limit, the default for ``{PREFIX}_RATE_LIMIT`` / ``_WINDOW``."""

    requests: int
    window_seconds: float


def iso_utc(moment: dt.datetime) -> str:
    """ISO 8601 in UTC to the second, with a ``Z`` (a ``since`` filter: dropping the fraction only reads a
    little more); a naive datetime is taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


# How often a webhook platform's catch-up poll (``Polling.catch_up``) reads each listing: it bounds what a
# lost webhook costs to minutes. One request a listing a period, at most a quarter of the limit: Airbnb's
# (the app's, every host's) reads 750 listings in 5 minutes. ``{PREFIX}_POLL_SECONDS`` overrides it.
CATCH_UP_SECONDS = 300


@dataclass(frozen=True)
class Polling:
    """How often a ``PULL_BOOKINGS`` platform is read. ``{PREFIX}_POLL_SECONDS`` overrides
    ``every_seconds``; with ``per_connection`` a connection's ``poll_seconds`` metadata does too, but
    never below ``min_seconds``."""

    every_seconds: int
    min_seconds: int = 60
    per_connection: bool = False
    # One pull reads every listing of an account (``fetch_bookings(listing_ids=...)``): the scheduler
    # polls an account once, not once per listing, and its pings are covered account-wide.
    per_account: bool = False
    # Bookings arrive by webhook; this poll only catches what a lost or refused webhook missed (read with
    # ``since``, the stays that still hold a night). It reserves nothing of the platform's limit and may take
    # at most a quarter of it (``guard.CATCH_UP_SHARE``): the pushes keep the rest, whatever the poll's round.
    catch_up: bool = False


@dataclass(frozen=True)
class Setting:
    """A platform-specific setting, read from ``{PREFIX}_{name}``.

    Defaults may name ``{public_base_url}``, ``{sandbox_url}`` and ``{webhook_path}``;
    ``sandbox_default`` replaces ``default`` in DEBUG (embedded) mode.
    """

    name: str
    default: str = ""
    sandbox_default: str | None = None


@dataclass(frozen=True)
class Demo:
    """How ``make run`` connects the demo to this platform in the sandbox.

    ``listing_id`` may name ``{unit}`` (the unit's pk) and metadata values ``{sandbox_url}``. A feed
    platform names the sandbox's control path that publishes the demo feed (``feed``); it gets the demo
    unit that no API platform serves. An API platform's listing is created in the sandbox first.
    """

    listing_id: str
    credentials: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, object] = field(default_factory=dict)
    feed: str = ""


# --- the contract -----------------------------------------------------------------------------


class PlatformAdapter:
    """Translate between our plain data and one platform's wire format.

    Every method raises ``PlatformAPIError`` (or a subclass) on failure; adapters never retry, never
    sleep and never rate-limit: the sync engine does that around each call.
    """

    slug: ClassVar[str]
    display_name: ClassVar[str]
    colour: ClassVar[str] = "#777777"  # the staff calendar's colour for its bookings (CSS)
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # The most ranges (or dates, for platforms that take single dates) one request may carry.
    max_batch: ClassVar[int] = 1
    # Settings are read from ``{env_prefix}_...`` (``slug.upper()`` when empty).
    env_prefix: ClassVar[str] = ""
    # None: the platform has no shared limit, and every call is unguarded (each iCal feed is its own
    # host, so one breaker for all feeds would let one broken feed stop them all).
    rate_limit: ClassVar[RateLimit | None] = None
    polling: ClassVar[Polling | None] = None  # with PULL_BOOKINGS
    booking_id_scope: ClassVar[BookingIdScope] = BookingIdScope.PLATFORM
    # With WEBHOOKS: served at ``/webhooks/<webhook_path>``; an "xml" body is parsed with the safe
    # parser before the credentials in it are checked.
    webhook_path: ClassVar[str] = ""
    webhook_body: ClassVar[str] = "json"
    # Webhook secrets used when ``{PREFIX}_WEBHOOK_SECRETS`` is unset (the sandbox's).
    sandbox_webhook_secrets: ClassVar[tuple[str, ...]] = ()
    extra_settings: ClassVar[tuple[Setting, ...]] = ()
    # The setting holding the URL of the key set that signs webhooks (JWKS), if any.
    signing_keys_setting: ClassVar[str] = ""
    demo: ClassVar[Demo | None] = None
    # Limits on the mapping and credentials, from the platform's published schema (checked on save).
    mapping_rules: ClassVar[tuple[MappingRule, ...]] = ()
    # With PUSH_MAX_STAY: the longest maximum stay the platform takes (its schema's or docs' limit).
    max_stay_ceiling: ClassVar[int | None] = None

    def __init__(self, account: PlatformAccount):
        self.account = account

    # bookings
    def fetch_booking(self, channel_booking_id: str) -> BookingData:
        raise NotImplementedError

    def fetch_bookings(
        self, *, cursor: str | None = None, since: dt.datetime | None = None, listing_ids: Sequence[str] = ()
    ) -> BookingPage:
        """New and changed bookings. ``listing_ids`` (with ``Polling.per_account``): every listing of the
        account that this pull reads; empty means this connection's listing only."""
        raise NotImplementedError

    def acknowledge_bookings(self, bookings: list[tuple[BookingData, str]]) -> None:
        """Tell a pull platform these bookings were processed; pairs of (booking, our booking id)."""
        raise NotImplementedError

    # outbound
    def update_availability(self, update: AvailabilityUpdate) -> int:
        """Send availability and restrictions; returns the number of requests made."""
        raise NotImplementedError

    def update_pricing(self, update: PricingUpdate) -> int:
        """Send prices; returns the number of requests made."""
        raise NotImplementedError

    # account batching (with BATCH_LISTINGS): several listings of one ``batch_group`` in one request
    def update_availability_many(self, updates: Sequence[AvailabilityUpdate]) -> int:
        """Send every update in as few requests as the format allows; returns the requests made.
        Each update's ``metadata`` is its own listing's mapping."""
        raise NotImplementedError

    def update_pricing_many(self, updates: Sequence[PricingUpdate]) -> int:
        raise NotImplementedError

    def fetch_prices(self, *, start: dt.date, end: dt.date) -> Mapping[dt.date, Decimal]:
        """With READ_PRICES: the nightly price the platform holds for each night of ``[start, end)`` it
        has one for (a night it has none for is left out)."""
        raise NotImplementedError

    def fetch_max_stays(self, *, start: dt.date, end: dt.date) -> Mapping[dt.date, int]:
        """With READ_RESTRICTIONS: the maximum stay the platform holds for each night of ``[start, end)``
        it has one for (a night it has none for is left out)."""
        raise NotImplementedError

    @classmethod
    def catches_up(cls) -> bool:
        """Whether its bookings come by webhook with a catch-up poll behind (``Polling.catch_up``)."""
        return cls.polling is not None and cls.polling.catch_up

    @classmethod
    def listing_key(cls, listing_id: str, metadata: Mapping[str, object]) -> str:
        """What names one listing on the platform, so only one live connection may hold it: the
        listing id, or where a listing is a room type of a hotel, hotel and room together."""
        return listing_id

    @classmethod
    def booking_listing_key(cls, data: BookingData) -> str:
        """The ``listing_key`` of the listing a booking was made on (its room type, where it has one)."""
        return cls.listing_key(data.listing_id, {})

    @classmethod
    def batch_group(cls, listing_id: str, metadata: Mapping[str, object]) -> str:
        """With BATCH_LISTINGS: listings of one account with the same group travel in one request
        (a hotel's room types share its hotel code). A group never spans listing ids: the push engine
        looks for a listing's companions among the connections of the same listing id only."""
        return listing_id

    # inbound
    @classmethod
    def verify_webhook_signature(
        cls, *, headers: Mapping[str, str], body: bytes, config: WebhookConfig, now: dt.datetime
    ) -> None:
        """Raise ``WebhookSignatureError`` unless the request is authentic and fresh."""
        raise NotImplementedError

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[Notification]:
        """Raise ``WebhookPayloadError`` for a malformed body."""
        raise NotImplementedError

    @classmethod
    def webhook_answer(cls, notifications: list[Notification]) -> WebhookAnswer:
        return WebhookAnswer()

    @classmethod
    def webhook_config(cls, platform_settings: Mapping[str, object], *, signing_keys=None) -> WebhookConfig:
        """What ``verify_webhook_signature`` needs, from this platform's ``settings.PLATFORMS`` entry
        (``signing_keys``: the fetched key set, when ``signing_keys_setting`` names one)."""
        return WebhookConfig(secrets=tuple(platform_settings.get("webhook_secrets") or ()))

    @classmethod
    def fetch_signing_keys(cls, url: str) -> Mapping[str, object]:
        """Fetch the key set at ``url`` (only with ``signing_keys_setting``)."""
        raise NotImplementedError

    # auth and health
    @classmethod
    def authorize_url(cls, *, base_url: str, client_id: str, redirect_uri: str, state: str) -> str:
        """Where to send a person to grant us access (OAuth platforms only)."""
        raise NotImplementedError

    def exchange_code(self, *, code: str, redirect_uri: str) -> TokenSet:
        """Trade an authorization code for tokens (OAuth platforms only)."""
        raise NotImplementedError

    def refresh_access_token(self) -> TokenSet:
        raise TokenRefreshError(f"{self.slug} does not use OAuth tokens")

    def check_health(self) -> HealthResult:
        raise NotImplementedError


class HotelRoomTypes:
    """Mixed in (first) by an adapter whose listing is a hotel and whose units may be its room types
    (the mapping's ``room_id``): the listing id is the hotel code, several room types of one hotel are
    several connections, and one request carries them all (``BATCH_LISTINGS``)."""

    @classmethod
    def listing_key(cls, listing_id, metadata) -> str:
        room = (metadata or {}).get("room_id")
        return f"{listing_id}/{room}" if room else listing_id

    @classmethod
    def booking_listing_key(cls, data) -> str:
        return cls.listing_key(data.listing_id, {"room_id": data.room_type} if data.room_type else {})

    @classmethod
    def batch_group(cls, listing_id, metadata) -> str:
        # Room types ride together; a hotel mapped as one unit names no room of its own (in a room's
        # batch it would be sent under that room's code), so it travels alone.
        return listing_id if (metadata or {}).get("room_id") else f"{listing_id}#whole"
