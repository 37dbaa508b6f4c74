"""A feed that suddenly comes back empty, or loses most of its events at once, does not release their
nights: the removal is held (the connection needs attention, with the reason) until the next poll sees
the same feed again or staff confirm it. A feed losing one event of many applies at once."""

import datetime as dt
import re

import pytest
import responses
import time_machine
from django.urls import reverse
from django.utils import timezone

from channelmgr.inbound.polling import due_polls
from channelmgr.inbound.tasks import poll_connection
from channelmgr.models import ChannelConnection, SyncLog
from channelmgr.services.connections import ConnectionStateError, ical_feed_change_confirm
from pms_core.models import Booking

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("june_first", "public_feed_host")]

FEED_URL = "https://feeds.example.test/airbnb-listing.ics"


def vevent(n: int, *, summary="Reserved") -> str:
    """Event ``n``: two nights from 2027-07-01 + 3n, well inside the sync window."""
    start = dt.date(2027, 7, 1) + dt.timedelta(days=3 * n)
    return (
        f"BEGIN:VEVENT\r\nDTSTAMP:20270601T080000Z\r\nDTSTART;VALUE=DATE:{start:%Y%m%d}\r\n"
        f"DTEND;VALUE=DATE:{start + dt.timedelta(days=2):%Y%m%d}\r\nSUMMARY:{summary}\r\nUID:ev{n}@airbnb.com\r\n"
        "END:VEVENT\r\n"
    )


def calendar(*numbers: int) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar 0.8.8//EN\r\n"
        + "".join(vevent(n) for n in numbers)
        + "END:VCALENDAR\r\n"
    )


EMPTY = calendar()
FULL = calendar(*range(14))


@pytest.fixture
def feed(connect):
    return connect("ical", "airbnb-listing", feed_url=FEED_URL)


@pytest.fixture
def poll(feed, platform_http):
    """``poll(body)``: the feed answers ``body``, and the connection is polled once."""

    def run(body: str) -> SyncLog:
        platform_http.upsert(responses.GET, FEED_URL, body=body, content_type="text/calendar")
        poll_connection.fn(feed.pk)
        feed.refresh_from_db()
        return SyncLog.objects.filter(connection=feed).order_by("id").last()

    return run


def live(feed) -> int:
    return (
        Booking.objects.filter(source="ical", channel_booking_id__startswith=f"{feed.pk}:")
        .exclude(status=Booking.Status.CANCELLED)
        .count()
    )


def held_for_attention(feed, text: str) -> None:
    assert feed.status == ChannelConnection.Status.NEEDS_ATTENTION
    assert text in feed.last_error
    assert "kept them until the next poll" in feed.last_error
    assert feed.ical_hold is not None


def released(feed) -> None:
    assert feed.status == ChannelConnection.Status.ACTIVE
    assert feed.last_error == ""
    assert feed.ical_hold is None


# --- an empty feed ---------------------------------------------------------------------------------


def test_an_empty_feed_after_a_full_one_keeps_every_block_and_flags_the_connection(feed, poll):
    poll(FULL)

    log = poll(EMPTY)

    assert live(feed) == 14
    held_for_attention(feed, "the iCal feed came back empty and lost all 14 upcoming blocks at once")
    assert log.status == SyncLog.Status.SUCCESS
    assert log.details["actions"] == {"held": 14}
    assert log.details["held"] == feed.last_error


def test_a_second_empty_poll_confirms_and_applies_the_removal(feed, poll):
    poll(FULL)
    poll(EMPTY)

    # Held for this reason alone, the connection is still due for its next poll.
    later = timezone.now() + dt.timedelta(hours=1)
    assert due_polls(later) == [feed.pk]
    log = poll(EMPTY)

    assert live(feed) == 0
    assert log.details["actions"] == {"removed": 14}
    released(feed)


def test_staff_confirming_applies_the_removal(feed, poll, alice):
    poll(FULL)
    poll(EMPTY)

    removed = ical_feed_change_confirm(connection=feed, user=alice)

    assert removed == 14
    assert live(feed) == 0
    released(feed)
    confirmation = SyncLog.objects.filter(connection=feed).order_by("id").last()
    assert confirmation.details["held_removal_confirmed_by"] == "alice"
    with pytest.raises(ConnectionStateError):  # nothing left to confirm
        ical_feed_change_confirm(connection=feed, user=alice)


def test_the_admin_action_confirms_the_removal(feed, poll, alice, client):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    poll(FULL)
    poll(EMPTY)

    changelist = reverse("admin:channelmgr_channelconnection_changelist")
    action = {"action": "confirm_ical_feed_change", "_selected_action": [feed.pk]}
    page = client.post(changelist, action)  # first, what would be released
    assert page.status_code == 200 and live(feed) == 14
    shown = page.content.decode()
    assert "came back empty and lost all 14" in shown and shown.count("<li>") == 14
    stamp = re.search(rf'name="stamp_{feed.pk}" value="(\w+)"', shown).group(1)

    response = client.post(changelist, {**action, "post": "yes", f"stamp_{feed.pk}": stamp}, follow=True)

    assert response.status_code == 200
    assert "removed 14 block(s)" in response.content.decode()
    feed.refresh_from_db()
    assert live(feed) == 0
    released(feed)


def test_a_feed_that_returns_with_its_events_clears_the_hold(feed, poll):
    poll(FULL)
    poll(EMPTY)

    log = poll(FULL)

    assert live(feed) == 14
    assert log.details["actions"] == {"unchanged": 14}
    assert "held" not in log.details
    released(feed)
    assert not Booking.objects.filter(source="ical", status=Booking.Status.CANCELLED).exists()


def test_additions_in_a_held_poll_still_apply(feed, poll):
    poll(calendar(0, 1, 2, 3))

    log = poll(calendar(20))  # four blocks gone, one new

    assert log.details["actions"] == {"created": 1, "held": 4}
    assert live(feed) == 5
    held_for_attention(feed, "the iCal feed lost all 4 upcoming blocks at once")


# --- losing most, or one, of many ------------------------------------------------------------------


def test_a_feed_losing_most_but_not_all_of_its_events_is_held_the_same_way(feed, poll):
    poll(FULL)

    log = poll(calendar(0, 1))

    assert log.details["actions"] == {"unchanged": 2, "held": 12}
    assert live(feed) == 14
    held_for_attention(feed, "the iCal feed lost 12 of 14 upcoming blocks at once")

    log = poll(calendar(0, 1))  # the same shrunken feed again: confirmed

    assert log.details["actions"] == {"unchanged": 2, "removed": 12}
    assert live(feed) == 2
    released(feed)


def test_a_different_shrunken_feed_is_held_again_not_confirmed(feed, poll):
    poll(FULL)
    poll(calendar(0, 1))

    log = poll(calendar(0, 1, 2))  # not the same feed: 11 lost now, still most of 14

    assert log.details["actions"] == {"unchanged": 3, "held": 11}
    assert live(feed) == 14
    held_for_attention(feed, "lost 11 of 14")


def test_losing_one_event_of_many_applies_at_once(feed, poll):
    poll(FULL)

    log = poll(calendar(*range(13)))

    assert log.details["actions"] == {"unchanged": 13, "removed": 1}
    assert live(feed) == 13
    released(feed)


def test_losing_half_applies_at_once(feed, poll):
    poll(calendar(0, 1, 2, 3))

    poll(calendar(0, 1))

    assert live(feed) == 2
    released(feed)


def test_past_blocks_leaving_the_feed_neither_count_nor_are_held(feed, poll):
    with time_machine.travel(dt.datetime(2027, 7, 1, 10, 0, tzinfo=dt.UTC)):
        poll(calendar(0, 1, 2, 3, 4))  # on 2027-07-08 below, events 0 and 1 are past, 2 to 4 upcoming
    with time_machine.travel(dt.datetime(2027, 7, 8, 10, 0, tzinfo=dt.UTC)):
        log = poll(calendar(3, 4))

    assert log.details["actions"] == {"unchanged": 2, "removed": 3}
    released(feed)


def test_a_later_permanent_failure_stops_the_polling_of_a_held_feed(feed, poll, platform_http):
    poll(FULL)
    poll(EMPTY)

    platform_http.upsert(responses.GET, FEED_URL, status=404)
    poll_connection.fn(feed.pk)
    feed.refresh_from_db()

    assert feed.status == ChannelConnection.Status.NEEDS_ATTENTION
    assert "404" in feed.last_error
    assert due_polls(timezone.now() + dt.timedelta(hours=1)) == []
    assert live(feed) == 14


def test_a_transient_failure_keeps_polling_a_held_feed_and_its_recovery_clears_the_hold(feed, poll, platform_http):
    from adapters.base import PlatformAPIError

    poll(FULL)
    poll(EMPTY)

    platform_http.upsert(responses.GET, FEED_URL, status=503)
    with pytest.raises(PlatformAPIError):
        poll_connection.fn(feed.pk)

    assert due_polls(timezone.now() + dt.timedelta(hours=1)) == [feed.pk]
    poll(FULL)
    assert live(feed) == 14
    released(feed)
