"""Catch-up polls: Airbnb, FeWo-direkt and Google tell us of bookings by webhook only, so a webhook that never
arrives (our outage outlasting their retries, a secret rotated on one side only) left its stay unknown here,
and its nights for sale everywhere else, until the daily reconcile. Each of their listings is now read every
``CATCH_UP_SECONDS`` behind the webhooks (``Polling.catch_up``).

The promise: a booking a platform holds reaches the PMS, and closes its nights elsewhere, within one
catch-up period even when its every webhook is lost. Each test whose docstring says "used to" failed before.
The platforms are faked at the one HTTP module (``responses``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from adapters.base import CATCH_UP_SECONDS, Capability
from adapters.registry import adapter_class
from channelmgr.inbound.polling import SINCE_OVERLAP, due_polls
from channelmgr.inbound.tasks import poll_connection
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.resilience.guard import CATCH_UP_SHARE, Backpressure, Purpose, share_limiters
from channelmgr.resilience.limiter import limiter_for
from channelmgr.resilience.platform_calls import platform_call, rate_limit_account
from channelmgr.services.connections import connection_update
from channelmgr.tasks import consume_outbox_event
from pms_core.models import Booking, OutboxEvent, Unit
from pms_core.services.catalog import property_today

pytestmark = pytest.mark.django_db

CATCH_UP = ("airbnb", "fewo_direkt", "google")
LISTING = {"airbnb": "AIR-1", "fewo_direkt": "L-1", "google": "villa-9"}
FIRST_NIGHT = dt.date(2027, 7, 1)
# A limit these tests' back-to-back polls never meet (the catch-up cap is a quarter of it).
ROOMY = {"rate_limit": 1000, "rate_window": 1.0}


def _base(slug: str) -> str:
    return settings.PLATFORMS[slug]["base_url"]


def _list_url(slug: str, listing: str | None = None) -> str:
    version = "v2" if slug == "airbnb" else "v1"
    return f"{_base(slug)}/{version}/listings/{listing or LISTING[slug]}/reservations"


def _reservation(slug: str, rid: str, check_in: dt.date, check_out: dt.date, listing: str | None = None) -> dict:
    """One confirmed stay as the platform's reservation list carries it (docs/platforms.md)."""
    listing = listing or LISTING[slug]
    if slug == "airbnb":
        return {
            "confirmation_code": rid,
            "listing_id": listing,
            "status": "accepted",
            "start_date": check_in.isoformat(),
            "end_date": check_out.isoformat(),
            "guest": {"first_name": "Greta", "last_name": "Gast", "email": "greta@example.test"},
            "number_of_guests": 2,
            "total_price": "480.00",
            "currency": "EUR",
            "updated_at": "2027-06-01T12:00:00Z",
            "version": 1,
        }
    if slug == "fewo_direkt":
        return {
            "reservationId": rid,
            "listingId": listing,
            "status": "BOOKED",
            "arrivalDate": check_in.isoformat(),
            "departureDate": check_out.isoformat(),
            "guest": {"name": "Gast", "email": "gast@example.com"},
            "adults": 2,
            "totalAmount": {"amount": "450.00", "currency": "EUR"},
            "revision": 1,
        }
    return {
        "reservationId": rid,
        "listingId": listing,
        "status": "CONFIRMED",
        "checkIn": check_in.isoformat(),
        "checkOut": check_out.isoformat(),
        "guest": {"givenName": "Greta", "familyName": "Gast", "email": "greta@example.test"},
        "guestCount": 2,
        "total": {"amount": "480.00", "currencyCode": "EUR"},
        "updateTime": "2027-06-01T12:00:00Z",
        "revision": 1,
    }


def _page(slug: str, items: list[dict], cursor: str | None = None) -> dict:
    if slug == "airbnb":
        return {"reservations": items, "next_cursor": cursor}
    if slug == "fewo_direkt":
        return {"items": items, "page": 1, "hasMore": cursor is not None}
    return {"reservations": items, **({"nextPageToken": cursor} if cursor else {})}


SINCE_PARAM = {"airbnb": "updated_since", "fewo_direkt": "modifiedSince", "google": "updatedSince"}


def _since_sent(call) -> dt.datetime | None:
    query = parse_qs(urlparse(call.request.url).query)
    for name in SINCE_PARAM.values():
        if name in query:
            return dt.datetime.fromisoformat(query[name][0].replace("Z", "+00:00"))
    return None


@pytest.fixture
def elsewhere(connect):
    """The same unit on Booking.com: the platform the lost booking's nights must close on."""
    return connect("booking_com", "H1", platform_metadata={"room_id": "R1", "rate_plan_id": "BAR"})


def _closing(connection: ChannelConnection, check_in: dt.date, check_out: dt.date) -> bool:
    """Whether the nights are marked for an availability push to ``connection`` (what closes them there),
    once the PMS's events are consumed as the worker consumes them."""
    for event_id in OutboxEvent.objects.filter(consumed_at__isnull=True).order_by("pk").values_list("pk", flat=True):
        consume_outbox_event.fn(event_id)
    marked = DirtyRange.objects.filter(connection=connection, kind=DirtyRange.Kind.AVAILABILITY)
    return any(r.start <= check_in and check_out <= r.end for r in marked)


# --- declarations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", CATCH_UP)
def test_webhook_platforms_declare_a_catch_up_poll(slug):
    """Pinned: the scheduler polls them because of these declarations (``due_polls`` reads
    ``PULL_BOOKINGS`` and ``polling``); without them a lost webhook waits for the daily reconcile."""
    cls = adapter_class(slug)
    assert {Capability.WEBHOOKS, Capability.PULL_BOOKINGS} <= cls.capabilities
    assert cls.polling is not None and cls.polling.catch_up and not cls.polling.per_account
    assert cls.catches_up()
    assert cls.polling.every_seconds == CATCH_UP_SECONDS == 300
    assert settings.PLATFORMS[slug]["poll_seconds"] == CATCH_UP_SECONDS
    assert Capability.ACKNOWLEDGE not in cls.capabilities  # nothing to confirm: a re-read is a no-op


@pytest.mark.parametrize("slug", ["booking_com", "expedia"])
def test_platforms_whose_pull_imports_bookings_are_not_catch_up(slug):
    polling = adapter_class(slug).polling
    assert polling is not None and not polling.catch_up
    assert not adapter_class(slug).catches_up()


@pytest.fixture
def hour_window(connect):
    """``hour_window(slug, limit)``: a connection whose limit is ``limit`` an hour, so a test does not race
    the clock; its limiter windows are cleared afterwards (the shared reset knows the default windows only)."""
    made = []

    def make(slug: str, limit: int) -> ChannelConnection:
        connection = connect(slug, LISTING[slug], rate_limit=limit, rate_window=3600.0)
        made.append(connection)
        return connection

    yield make
    for connection in made:
        account = rate_limit_account(connection)
        limiter = limiter_for(platform=connection.platform_type, account=account, connection=connection)
        for each in (limiter, *share_limiters(limiter)):
            each.reset()


@pytest.mark.parametrize("slug", CATCH_UP)
def test_catch_up_polls_take_at_most_a_quarter_of_the_limit_and_reserve_none(slug, hour_window):
    """A round of catch-up polls over a host's listings (all due together: connected together) must not hold
    back a close-out: they may take at most ``CATCH_UP_SHARE`` of the account's limit. And they reserve
    nothing: a pull share (``RESERVED_SHARE``) would cap the pushes at 7 a second of Airbnb's 10 for a poll
    every 5 minutes. (A window of an hour, so the test does not race the clock.)"""
    connection = hour_window(slug, 8)
    cap = 2  # a quarter of 8

    for _ in range(cap):
        platform_call(connection, lambda adapter: None, purpose=Purpose.CATCH_UP)
    with pytest.raises(Backpressure):
        platform_call(connection, lambda adapter: None, purpose=Purpose.CATCH_UP)
    for granted in range(8 - cap):
        try:
            platform_call(connection, lambda adapter: None, purpose=Purpose.PUSH)
        except Backpressure as exc:
            pytest.fail(f"push {granted + 1} of {8 - cap} refused: {exc.reason}")
    with pytest.raises(Backpressure):  # the account's limit itself still holds
        platform_call(connection, lambda adapter: None, purpose=Purpose.PUSH)
    assert CATCH_UP_SHARE == 0.25


def test_a_catch_up_poll_draws_on_the_catch_up_cap(hour_window, platform_http):
    """The poll names its purpose: with the cap spent, it is deferred (``Backpressure``) without a request."""
    connection = hour_window("airbnb", 4)
    listed = platform_http.get(_list_url("airbnb"), json=_page("airbnb", []))
    platform_call(connection, lambda adapter: None, purpose=Purpose.CATCH_UP)  # a quarter of 4

    with pytest.raises(Backpressure):
        poll_connection.fn(connection.pk)
    assert listed.call_count == 0


# --- the lost webhook ---------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", CATCH_UP)
def test_a_booking_whose_webhook_never_came_is_imported_by_the_next_poll(slug, connect, elsewhere, platform_http):
    """Used to wait for the daily reconcile (03:17): the scheduler never polled these platforms, so the
    stay was unknown here and its nights stayed for sale on Booking.com for up to a day."""
    connection = connect(slug, LISTING[slug], **ROOMY)
    check_in, check_out = FIRST_NIGHT, FIRST_NIGHT + dt.timedelta(days=3)
    listed = platform_http.get(_list_url(slug), json=_page(slug, [_reservation(slug, "R-LOST", check_in, check_out)]))
    DirtyRange.objects.all().delete()  # whatever connecting marked: only the booking's marks count below

    claimed = due_polls(timezone.now())
    assert connection.pk in claimed
    poll_connection.fn(connection.pk)

    assert listed.call_count == 1
    booking = Booking.objects.get(source=slug, channel_booking_id="R-LOST")
    assert (booking.status, booking.check_in, booking.check_out) == ("confirmed", check_in, check_out)
    assert _closing(elsewhere, check_in, check_out), "the nights were not marked to close on Booking.com"
    assert not due_polls(timezone.now()), "polled again before its period"


@pytest.mark.parametrize("slug", CATCH_UP)
def test_a_booking_the_webhook_already_brought_is_left_as_it_is(slug, connect, platform_http):
    connection = connect(slug, LISTING[slug], **ROOMY)
    check_in, check_out = FIRST_NIGHT, FIRST_NIGHT + dt.timedelta(days=2)
    platform_http.get(_list_url(slug), json=_page(slug, [_reservation(slug, "R-1", check_in, check_out)]))
    poll_connection.fn(connection.pk)
    first = Booking.objects.get(source=slug, channel_booking_id="R-1")

    poll_connection.fn(connection.pk)

    again = Booking.objects.get(source=slug, channel_booking_id="R-1")
    assert (again.pk, again.status, again.updated_at) == (first.pk, "confirmed", first.updated_at)


# --- what a poll reads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", CATCH_UP)
def test_each_poll_reads_what_changed_since_the_last_complete_one_began(slug, connect, platform_http):
    """A failed poll moves ``last_polled_at`` (its claim) but not ``pulled_through``: the next poll still
    reads from before the failure, so an outage longer than the overlap loses no booking."""
    connection = connect(slug, LISTING[slug], **ROOMY)
    listed = platform_http.get(_list_url(slug), json=_page(slug, []))
    began = timezone.now()
    poll_connection.fn(connection.pk)
    assert _since_sent(listed.calls[0]) is None  # never read: the listing whole

    poll_connection.fn(connection.pk)
    since = _since_sent(listed.calls[1])
    assert since is not None
    assert began - SINCE_OVERLAP - dt.timedelta(seconds=5) <= since <= began - SINCE_OVERLAP + dt.timedelta(seconds=5)

    platform_http.replace("GET", _list_url(slug), status=503, json={})
    with pytest.raises(Exception):  # noqa: B017 (a transient error: the actor's retry)
        poll_connection.fn(connection.pk)
    platform_http.replace("GET", _list_url(slug), json=_page(slug, []))
    poll_connection.fn(connection.pk)
    calls = [c for c in platform_http.calls if c.request.url.startswith(_list_url(slug))]
    failed, after = _since_sent(calls[-2]), _since_sent(calls[-1])
    assert failed is not None and since <= failed <= timezone.now() - SINCE_OVERLAP  # from the second poll
    assert after == failed  # the failure moved nothing: the next poll reads from the same start


def test_a_cursor_is_followed_with_the_filter_it_was_given(connect, platform_http, monkeypatch):
    """Airbnb's cursor is a position in the list ``updated_since`` filters: a poll that stopped at
    ``MAX_PAGES`` must go on with the same filter. (The time came from ``last_polled_at`` and was left
    out whenever a cursor was sent.)"""
    from channelmgr.inbound import polling

    connection = connect("airbnb", "AIR-1", **ROOMY)
    url = _list_url("airbnb")
    platform_http.get(url, json=_page("airbnb", []))
    poll_connection.fn(connection.pk)  # read whole once: a time to filter by from now on
    monkeypatch.setattr(polling, "MAX_PAGES", 1)
    platform_http.replace("GET", url, json=_page("airbnb", [], cursor="page-2"))
    poll_connection.fn(connection.pk)
    platform_http.replace("GET", url, json=_page("airbnb", []))
    poll_connection.fn(connection.pk)

    calls = [c for c in platform_http.calls if c.request.url.startswith(url)]
    stopped, went_on = calls[-2], calls[-1]
    assert parse_qs(urlparse(went_on.request.url).query).get("cursor") == ["page-2"]
    assert _since_sent(went_on) == _since_sent(stopped) is not None


@pytest.mark.parametrize("slug", CATCH_UP)
def test_stays_that_hold_no_night_any_more_are_left_out(slug, connect, unit, platform_http):
    """A first read returns the listing's history: a stay that ended is no night of ours to close, and
    an old clash would only fill the staff's overbooking queue. A stay in progress still counts."""
    connection = connect(slug, LISTING[slug], **ROOMY)
    today = property_today(unit.property)
    over = _reservation(slug, "R-OVER", today - dt.timedelta(days=9), today)
    staying = _reservation(slug, "R-STAYING", today - dt.timedelta(days=1), today + dt.timedelta(days=2))
    platform_http.get(_list_url(slug), json=_page(slug, [over, staying]))

    poll_connection.fn(connection.pk)

    assert set(Booking.objects.filter(source=slug).values_list("channel_booking_id", flat=True)) == {"R-STAYING"}


@pytest.mark.parametrize("slug", CATCH_UP)
def test_a_remapped_connection_reads_its_new_listing_whole_at_once(slug, connect, platform_http):
    """The old listing's time and cursor mean nothing on the new one: its bookings made before the
    re-map would have waited for the daily reconcile."""
    connection = connect(slug, LISTING[slug], **ROOMY)
    platform_http.get(_list_url(slug), json=_page(slug, []))
    poll_connection.fn(connection.pk)
    assert not due_polls(timezone.now())
    check_in, check_out = FIRST_NIGHT, FIRST_NIGHT + dt.timedelta(days=2)
    new = f"{LISTING[slug]}-b"
    earlier = _reservation(slug, "R-EARLIER", check_in, check_out, listing=new)
    fresh = platform_http.get(_list_url(slug, new), json=_page(slug, [earlier]))

    connection = connection_update(connection=connection, platform_listing_id=new)
    assert connection.pk in due_polls(timezone.now())
    poll_connection.fn(connection.pk)

    assert fresh.call_count == 1 and _since_sent(fresh.calls[0]) is None
    assert Booking.objects.filter(source=slug, channel_booking_id="R-EARLIER", status="confirmed").exists()


def test_a_stay_that_slipped_back_a_page_while_the_list_was_paged_is_read_next_time(
    connect, platform_http, monkeypatch
):
    """Where pages are positions in the list ordered by change (FeWo-direkt's numbered pages), a stay
    changed between two pages moves to the end and the one behind it slips into a page already read. Used
    to fail: the pass still counted as read through, the next poll read only what changed after it, and
    the slipped stay (its webhook lost) was never imported."""
    from channelmgr.inbound import polling

    from .test_catch_up_state_machine import FakeAirbnb

    monkeypatch.setattr(polling, "SINCE_OVERLAP", dt.timedelta(0))  # the overlap is for clock skew only
    monkeypatch.setattr(polling, "MAX_PAGES", 1)
    connection = connect("airbnb", "AIR-1", **ROOMY)
    fake = FakeAirbnb("AIR-1")  # two to a page; the cursor is a position
    platform_http.add_callback("GET", _list_url("airbnb"), callback=fake.list_page)
    with time_machine.travel(dt.datetime(2027, 6, 1, 8, 0, tzinfo=dt.UTC), tick=False) as clock:
        poll_connection.fn(connection.pk)  # nothing yet: read through, from now on by change time
        clock.shift(dt.timedelta(seconds=10))
        first, _second, slipped, _fourth = (
            fake.book(FIRST_NIGHT + dt.timedelta(days=3 * i), FIRST_NIGHT + dt.timedelta(days=3 * i + 2))
            for i in range(4)
        )
        clock.shift(dt.timedelta(seconds=10))
        poll_connection.fn(connection.pk)  # the first page: first and second
        clock.shift(dt.timedelta(seconds=10))
        fake.modify(first, FIRST_NIGHT + dt.timedelta(days=20), FIRST_NIGHT + dt.timedelta(days=21))  # to the end
        for _ in range(4):  # the scheduler's next polls
            clock.shift(dt.timedelta(minutes=5))
            poll_connection.fn(connection.pk)

    assert Booking.objects.filter(source="airbnb", channel_booking_id=slipped).exists()


def test_a_round_of_catch_up_polls_is_claimed_as_fast_as_the_cap_grants(connect, villa, monkeypatch):
    """Airbnb's limit is the app's, shared by every host: a round over many listings (connected together,
    so due together) is claimed a few at a time, the longest waiting first, not sent all at once to be
    deferred again and again by the cap. Here the cap grants 1 a second (a quarter of 4), and the
    scheduler asks every 5 seconds."""
    from channelmgr.inbound.polling import DUE_POLLS_EVERY_SECONDS

    monkeypatch.setitem(settings.PLATFORMS["airbnb"], "rate_limit", 4)
    monkeypatch.setitem(settings.PLATFORMS["airbnb"], "rate_window", 1.0)
    units = [Unit.objects.create(property=villa, name=f"Flat {i}", base_price=Decimal("90")) for i in range(7)]
    connections = [connect("airbnb", f"AIR-R{i}", unit=unit) for i, unit in enumerate(units)]
    now = timezone.now()

    first = due_polls(now)
    second = due_polls(now + dt.timedelta(seconds=DUE_POLLS_EVERY_SECONDS))

    assert DUE_POLLS_EVERY_SECONDS == 5
    assert first == [c.pk for c in connections[:5]]
    assert second == [c.pk for c in connections[5:]]
