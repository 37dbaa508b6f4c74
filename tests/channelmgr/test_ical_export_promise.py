"""The iCal export (``channelmgr.services.ical_export``, ``channelmgr.api.ical``).

The promise: a unit's exported feed blocks a night exactly when an active stay or block of that unit holds
it (local dates); a night nothing holds is not blocked (for good: echoes coming back through another
platform's import must not hold nights forever); the feed is valid RFC 5545; and it never leaks guest data
or another tenant's data.

Tests whose docstring starts "Used to fail" failed before their fix (found in review, 2026-12-06); "Safe:"
ones pin sequences checked and found to hold.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from urllib.parse import urlsplit

import icalendar
import pytest
import time_machine
from django.test import Client

from adapters.ical.feed import parse_feed
from channelmgr.services.ical_export import ical_export_for, ical_export_rotate, ical_export_url
from pms_core.models import Booking, Property, Unit
from pms_core.services import booking_cancel, booking_create, booking_modify, calendar_block, calendar_set
from pms_core.services.catalog import unit_update
from tests.channelmgr.inbound.conftest import connect, platform_http, public_feed_host  # noqa: F401
from tests.channelmgr.inbound.test_ical_echo import FakeAirbnb, run_schedule
from tests.pms_core.api.conftest import alice_api, api_for  # noqa: F401

pytestmark = pytest.mark.django_db

FEED_URL = "https://feeds.example.test/airbnb-listing.ics"  # what run_schedule serves the platform's export at
START = dt.datetime(2027, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def feed(connect, public_feed_host):  # noqa: F811
    return connect("ical", "airbnb-listing", feed_url=FEED_URL)


@pytest.fixture
def export_path(unit) -> str:
    return urlsplit(ical_export_url(ical_export_for(unit))).path


def feed_text(path: str) -> str:
    answer = Client().get(path)
    assert answer.status_code == 200, answer.status_code
    return answer.content.decode()


def nights_of(path: str) -> list[tuple[dt.date, dt.date]]:
    return sorted((e.start, e.end) for e in parse_feed(feed_text(path)))


def holds(unit, start: dt.date, end: dt.date) -> list[str]:
    return [str(b) for b in Booking.objects.active().filter(unit=unit, check_in__lt=end, check_out__gt=start)]


class FakeAirbnbWithHostBlocks(FakeAirbnb):
    """The same platform model as the echo tests (it imports our export and re-exports every closed run
    as "Airbnb (Not available)", one UID per run), where the host may also block nights on the platform
    itself: its export shows one run per stretch closed for either reason."""

    def __init__(self, export_path: str):
        super().__init__(export_path)
        self.host_blocks: list[tuple[dt.date, dt.date]] = []
        self.imported: list[tuple[dt.date, dt.date]] = []

    def read_our_export(self) -> None:
        super().read_our_export()
        self.imported = list(self.closed)
        self._merge()

    def _merge(self) -> None:
        runs: list[list[dt.date]] = []
        for start, end in sorted(self.imported + self.host_blocks):
            if runs and start <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], end)
            else:
                runs.append([start, end])
        self.closed = [(s, e) for s, e in runs]

    def host_block(self, start: dt.date, end: dt.date) -> None:
        self.host_blocks.append((start, end))
        self._merge()

    def host_unblock(self) -> None:
        self.host_blocks = []
        self._merge()


# --- HOLES --------------------------------------------------------------------------------------------


def test_a_stop_sell_echoed_back_by_a_platform_keeps_its_nights_closed_for_ever_after_it_is_lifted(
    feed,
    unit,
    day,
    export_path,
    platform_http,  # noqa: F811
):
    """Used to fail. the echo loop, for stop-sell. Sequence: staff stop-sell nights 1-4 (no stay, no block);
    our export shows them as "Not available" (``closed-<unit>-<date>@<our host>``); Airbnb imports our
    export and re-exports the nights as "Airbnb (Not available)" under its own UID; our poll of Airbnb's
    feed does not recognise that as an echo (``_ical_echo`` only counts nights held by a *stay or block*
    from elsewhere, never stop-sold nights) and imports it as a block. Staff lift the stop-sell: the block
    from the echo now holds nights 1-4, our export keeps them as ``booking-<pk>``, Airbnb keeps them, we
    keep the block: a day later nights 1-4 are still closed here, in the export and on every API platform
    although nothing but the echo holds them. Consequence: a temporary stop-sell becomes a permanent
    close-out on every channel, silently (the property manager sees an iCal block "from Airbnb").
    Cause: channelmgr/inbound/importer.py:_ical_echo ignores the stop-sold nights that
    channelmgr/services/ical_export.py:_stop_sell_events puts in the export. Fix: in ``_ical_echo`` count a
    night as held from elsewhere when its CalendarDay is stop-sold (what our export showed), as for stays."""
    with time_machine.travel(START, tick=False) as traveller:
        airbnb = FakeAirbnb(export_path)
        calendar_set(unit=unit, start=day(1), end=day(4), stop_sell=True)
        run_schedule(traveller, hours=6, platform=airbnb, feed=feed, platform_http=platform_http)
        assert airbnb.closed == [(day(1), day(4))]  # the platform took our stop-sell, as it should

        calendar_set(unit=unit, start=day(1), end=day(4), stop_sell=False)
        run_schedule(traveller, hours=24, platform=airbnb, feed=feed, platform_http=platform_http)

        assert holds(unit, day(1), day(4)) == [], "the stop-sell was lifted a day ago; only Airbnb's echo holds"
        assert nights_of(export_path) == [], "our export still closes the nights of the lifted stop-sell"


def test_a_block_the_host_lifts_on_the_platform_it_came_from_stays_closed_for_ever(
    feed,
    unit,
    day,
    export_path,
    platform_http,  # noqa: F811
):
    """Used to fail. the echo loop of a feed's own block. Sequence: the host blocks nights 10-12 on Airbnb; our
    poll imports the block; our (one per unit) export carries it back to Airbnb, which imports it and so
    shows 10-12 closed in its export from our import as well as from the host's block. The host lifts
    the block on Airbnb: Airbnb's export still shows 10-12 (from our export), so our block stays, so our
    export keeps it, so Airbnb keeps it: a day later the nights are still closed everywhere. Consequence:
    any night a host ever closed on an iCal platform (owner stay, maintenance, a reservation that is later
    cancelled there) is lost on every channel for good, the most common iCal sync bug. (Modelled with the
    echo tests' platform, one UID per closed run; a platform that lists its imported nights as events of
    their own should loop as well, by reading the code (not run here): that event is new, and ``_ical_echo``
    does not count the host's block of this same feed as holding its nights, so it is imported as a second block
    that outlives the first.)
    Cause: channelmgr/services/ical_export.py:ical_feed exports to every importer the blocks that came
    from that importer's own feed, and channelmgr/inbound/importer.py:_ical_echo explicitly does not count
    this feed's own blocks as "held", so the platform's echo of its own block is never recognised.
    Fix: give each importing platform its own export URL (per ChannelConnection) that leaves out the blocks
    imported from that connection's feed (as other channel managers do), or mark the feed's echo of its
    own block (an event whose nights only our export of that feed's blocks held) and let it lapse."""
    with time_machine.travel(START, tick=False) as traveller:
        # Airbnb is given the export URL of its own calendar, as the API lists it (``feeds``).
        own = urlsplit(ical_export_url(ical_export_for(unit), feed=feed))
        airbnb = FakeAirbnbWithHostBlocks(f"{own.path}?{own.query}")
        airbnb.host_block(day(10), day(12))
        run_schedule(traveller, hours=6, platform=airbnb, feed=feed, platform_http=platform_http)
        assert nights_of(export_path) == [(day(10), day(12))]  # the host's block closes the nights here

        airbnb.host_unblock()
        run_schedule(traveller, hours=24, platform=airbnb, feed=feed, platform_http=platform_http)

        assert holds(unit, day(10), day(12)) == [], "the host lifted the block a day ago; only the echo holds"
        assert nights_of(export_path) == [], "our export still closes the nights the host reopened"


def test_a_unit_name_with_a_line_break_makes_the_feed_a_server_error(alice_api, unit, day, export_path):  # noqa: F811
    """Used to fail. a line break in the unit's name takes the export down. Sequence: the property manager names the
    unit "Seeblick\\n2. OG" (a two-line name pasted from a listing text, or ``\\r\\n`` from a Windows form)
    through ``PATCH /units/{id}``, which accepts it; every later ``GET /ical/<token>.ics`` is a 500
    (icalendar refuses an unescaped newline in ``X-WR-CALNAME``; with ``python -O`` the assert is gone and
    a raw newline splits the line instead). Consequence: every platform importing the feed fails to refresh
    it; stays booked from then on are never blocked there, so they are sold twice, and nothing tells the
    manager (the feed worked when it was set up). Cause: channelmgr/services/ical_export.py:ical_feed
    passes ``unit.name`` to adapters/ical/feed.py:build_calendar, which adds it as ``x-wr-calname``, a
    property icalendar writes without TEXT escaping (commas and semicolons go out unescaped too).
    Fix: write the name as ``vText`` (escaped) with its control characters replaced by spaces, or
    validate unit names (no control characters) in the serializer and the admin."""
    answer = alice_api.patch(f"/units/{unit.pk}", {"name": "Seeblick\n2. OG", "base_price": "150.00"}, format="json")
    assert answer.status_code == 200, answer.content
    booking_create(unit=unit, check_in=day(1), check_out=day(3))
    client = Client(raise_request_exception=False)
    answer = client.get(export_path)
    assert answer.status_code == 200, f"the export answers {answer.status_code} once the unit name has a line break"
    assert [(e.start, e.end) for e in parse_feed(answer.content)] == [(day(1), day(3))]


def test_a_unit_name_with_a_bare_carriage_return_or_control_character_breaks_the_feed(alice_api, unit):  # noqa: F811
    """Used to fail. the unit's name goes into ``X-WR-CALNAME`` unchecked. Sequence: an integrator renames the unit
    through ``PATCH /units/{id}`` to a name holding a bare CR (pasted from an old Mac/Excel export) or
    another control character (a vertical tab from a spreadsheet cell); the API accepts it; icalendar
    escapes CRLF and LF but not a lone CR or other controls, so the feed carries a raw CR in the middle
    of a content line and a control character RFC 5545 3.3.11 forbids in TEXT. Importers that split lines
    on any CR (most JavaScript and .NET readers) see a content line without a name: the whole feed is
    refused, and the platform keeps its last copy (or none): nights booked since are never blocked there.
    Cause: channelmgr/services/ical_export.py:ical_feed passes ``unit.name`` raw to
    adapters/ical/feed.py:build_calendar. Fix: strip control characters (all of C0 but HTAB, plus DEL)
    from the calendar name and every SUMMARY before writing them (or refuse them in the unit serializer)."""
    answer = alice_api.patch(f"/units/{unit.pk}", {"name": "Sea\rView\x0bFlat", "base_price": "150.00"}, format="json")
    assert answer.status_code == 200, answer.content
    booking_create(unit=unit, check_in=dt.date(2027, 7, 1), check_out=dt.date(2027, 7, 3))
    text = feed_text(urlsplit(alice_api.get(f"/units/{unit.pk}/ical-export").json()["url"]).path)
    lines = text.split("\r\n")
    bad = [line for line in lines if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", line)]
    assert bad == [], f"content lines with a bare CR or a control character: {bad!r}"


def test_the_uid_of_a_long_running_stop_sell_changes_every_day(unit, export_path):
    """HOLE (minor): UID stability. Sequence: a renovation stop-sells the unit from 40 days ago to 10 days
    ahead; the export, read on two consecutive days, names the same closed stretch with a different UID
    each day (``closed-<unit>-<first stop-sold date not older than PAST_DAYS>``), because the key is the
    run's first date *inside the window*, and the window moves daily. Consequence: every importer keys
    events by UID, so each day it deletes the closure and creates a new one (Google notifies, Airbnb and
    Booking.com log a cancellation and a new block; an importer that applies deletions before additions
    leaves the nights open between the two) for the same nights. The same happens whenever staff reopen
    the first night of a stretch. Cause: channelmgr/services/ical_export.py:_stop_sell_events keys a run
    by its start as clipped by ``since``. Fix: key the run by its true start (read the run back past
    ``since``), or clip it only for the DTSTART and keep the key from the unclipped start."""
    t0 = dt.datetime(2027, 6, 1, 10, 0, tzinfo=dt.UTC)
    calendar_set(unit=unit, start=dt.date(2027, 4, 22), end=dt.date(2027, 6, 11), stop_sell=True)

    def uids_on(when: dt.datetime) -> list[str]:
        with time_machine.travel(when, tick=False):
            return [str(e["uid"]) for e in icalendar.Calendar.from_ical(feed_text(export_path)).walk("VEVENT")]

    today, tomorrow = uids_on(t0), uids_on(t0 + dt.timedelta(days=1))
    assert len(today) == len(tomorrow) == 1
    assert today == tomorrow, f"the same stop-sold stretch is {today[0]} today and {tomorrow[0]} tomorrow"


# --- Safe ---------------------------------------------------------------------------------------------


def test_cancelled_and_shortened_stays_reopen_their_nights_and_keep_their_uid(unit, day, export_path):
    """Safe: a cancelled stay leaves the feed at once, a shortened one keeps its UID with the new dates
    (platforms key by UID), and no ETag/Last-Modified lets an importer keep a stale copy."""
    first = booking_create(unit=unit, check_in=day(1), check_out=day(6))
    second = booking_create(unit=unit, check_in=day(10), check_out=day(12))
    uids = {str(e["uid"]) for e in icalendar.Calendar.from_ical(feed_text(export_path)).walk("VEVENT")}
    assert {uid.split("@")[0] for uid in uids} == {f"booking-{first.pk}", f"booking-{second.pk}"}

    booking_modify(booking=first, check_in=day(1), check_out=day(3))
    booking_cancel(booking=second)
    answer = Client().get(export_path)
    assert "ETag" not in answer and "Last-Modified" not in answer
    events = icalendar.Calendar.from_ical(answer.content).walk("VEVENT")
    assert [(e.decoded("dtstart"), e.decoded("dtend")) for e in events] == [(day(1), day(3))]
    assert str(events[0]["uid"]).startswith(f"booking-{first.pk}@")


def test_overbooked_and_moved_stays_follow_their_unit(unit, day, export_path, villa):
    """Safe: an overbooked stay is exported beside the stay it clashes with; a stay moved to another unit
    leaves this unit's feed and appears in the other's, with the same UID."""
    from pms_core.services.bookings import booking_change_unit

    booking_create(unit=unit, check_in=day(1), check_out=day(4))
    over = booking_create(unit=unit, check_in=day(3), check_out=day(6), overbook_on_clash=True)
    assert over.status == Booking.Status.OVERBOOKED
    assert nights_of(export_path) == [(day(1), day(4)), (day(3), day(6))]

    room = Unit.objects.create(property=villa, name="Room 2", base_price=Decimal("80.00"))
    booking_change_unit(booking=over, unit=room, actor="test")
    assert nights_of(export_path) == [(day(1), day(4))]
    other = urlsplit(ical_export_url(ical_export_for(room))).path
    events = icalendar.Calendar.from_ical(feed_text(other)).walk("VEVENT")
    assert [(e.decoded("dtstart"), e.decoded("dtend"), str(e["uid"]).split("@")[0]) for e in events] == [
        (day(3), day(6), f"booking-{over.pk}")
    ]


def test_a_unit_moved_to_a_property_in_another_time_zone_keeps_its_local_dates(unit, day, export_path, org_a):
    """Safe: dates are the property's local dates as stored; moving the unit (or changing the property's
    zone) does not shift any night in the feed, and all-day VALUE=DATE events carry no zone to shift."""
    booking_create(unit=unit, check_in=day(1), check_out=day(3))
    calendar_block(unit=unit, start=day(5), end=day(6))
    before = feed_text(export_path)
    samoa = Property.objects.create(organization=org_a, name="Pago Pago", timezone="Pacific/Pago_Pago")
    unit_update(unit=unit, property=samoa)
    after = feed_text(export_path)
    assert nights_of(export_path) == [(day(1), day(3)), (day(5), day(6))]
    assert "TZID" not in after and "DTSTART;VALUE=DATE:20270701" in after and "DTSTART;VALUE=DATE" in before


def test_long_far_past_and_dst_spanning_stays(unit, day, export_path):
    """Safe: a stay over both DST changes and 365 nights long (the most a stay may have), a stay three
    years ahead and a stay that ended a week ago are all exported with their exact dates; one that ended
    long ago (past ``PAST_DAYS``) is left out."""
    with time_machine.travel(START, tick=False):
        long_stay = booking_create(unit=unit, check_in=dt.date(2027, 10, 20), check_out=dt.date(2028, 10, 19))
        far = booking_create(unit=unit, check_in=dt.date(2030, 3, 30), check_out=dt.date(2030, 4, 2))
        recent = booking_create(unit=unit, check_in=dt.date(2027, 5, 20), check_out=dt.date(2027, 5, 25))
        booking_create(unit=unit, check_in=dt.date(2027, 1, 2), check_out=dt.date(2027, 1, 5))
        assert long_stay and far and recent
        assert nights_of(export_path) == [
            (dt.date(2027, 5, 20), dt.date(2027, 5, 25)),
            (dt.date(2027, 10, 20), dt.date(2028, 10, 19)),
            (dt.date(2030, 3, 30), dt.date(2030, 4, 2)),
        ]


def test_no_guest_or_platform_data_and_no_other_tenant_in_the_feed(unit, other_unit, day, export_path):
    """Safe: a platform reservation's guest name, e-mail, phone, requests, amount, note and platform id
    never reach the feed; another tenant's unit's stays never do either (each feed is its own unit's)."""
    from pms_core.booking_details import PlatformDetails

    booking_create(
        unit=unit,
        check_in=day(1),
        check_out=day(3),
        guest_name="Greta Gast",
        guest_email="greta@example.test",
        guest_phone="+49 30 1234567",
        total_amount=Decimal("480.00"),
        currency="EUR",
        note="door code 4711",
        source="airbnb",
        channel_booking_id="HMSECRET42",
        platform_details=PlatformDetails(special_requests=["late arrival, allergic to cats"]),
    )
    booking_create(unit=other_unit, check_in=day(5), check_out=day(8), guest_name="Charlie Guest")
    text = feed_text(export_path)
    for secret in ("Greta", "greta@", "1234567", "480", "4711", "HMSECRET42", "allergic", "Charlie", "Cabin"):
        assert secret not in text, secret
    assert nights_of(export_path) == [(day(1), day(3))]


def test_rotation_serves_the_same_feed_on_both_urls_and_never_another_units(unit, day, export_path, villa):
    """Safe: during the grace period the old and new URL serve the same events (same UIDs); the token of
    another unit opens only that unit's feed."""
    booking_create(unit=unit, check_in=day(1), check_out=day(3))
    room = Unit.objects.create(property=villa, name="Room 2", base_price=Decimal("80.00"))
    calendar_block(unit=room, start=day(7), end=day(9))
    new = urlsplit(ical_export_url(ical_export_rotate(unit=unit))).path
    assert new != export_path
    uids = [
        sorted(str(e["uid"]) for e in icalendar.Calendar.from_ical(feed_text(p)).walk("VEVENT"))
        for p in (export_path, new)
    ]
    assert uids[0] == uids[1] and len(uids[0]) == 1
    assert nights_of(urlsplit(ical_export_url(ical_export_for(room))).path) == [(day(7), day(9))]


def test_non_ascii_names_fold_at_75_octets_without_splitting_a_character(villa, day):
    """Safe: a long non-ASCII calendar name is folded at 75 octets on character boundaries, with CRLF;
    the feed reads back with the exact name."""
    unit = Unit.objects.create(
        property=villa, name="Ferienwohnung Müller Seeblick 2. OG " + "🏖️ Strandhaus Öland " * 6, base_price=1
    )
    booking_create(unit=unit, check_in=day(1), check_out=day(2))
    raw = Client().get(urlsplit(ical_export_url(ical_export_for(unit))).path).content
    assert raw.endswith(b"END:VCALENDAR\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")  # no line ends inside a character
    calendar = icalendar.Calendar.from_ical(raw)
    assert str(calendar["x-wr-calname"]) == unit.name


def test_staff_and_integrators_see_the_export_url_of_each_imported_calendar(feed, unit, alice_api, client):  # noqa: F811
    """The URL a platform whose calendar we import must be given is where staff and integrators look for the
    export: the API's ``feeds`` and the unit's admin page. Any ``for`` but one of the unit's feeds is a 404."""
    export = ical_export_for(unit)
    own = ical_export_url(export, feed=feed)
    assert alice_api.get(f"/units/{unit.pk}/ical-export").json()["feeds"] == [
        {"connection": feed.pk, "feed": "airbnb-listing", "url": own}
    ]
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser(
        "ical-staff", password="x-pass-1", organization=unit.property.organization
    )
    client.force_login(staff)
    assert own in client.get(f"/admin/pms_core/unit/{unit.pk}/change/").content.decode()
    path = urlsplit(ical_export_url(export)).path
    assert Client().get(f"{path}?for={feed.pk}").status_code == 200
    for other in ("0", "abc", str(feed.pk + 1), ""):
        assert Client().get(f"{path}?for={other}").status_code == 404, other
