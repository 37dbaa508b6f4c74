"""GET /ical/<token>.ics: the unit's taken nights as an RFC 5545 feed at an unguessable URL."""

from __future__ import annotations

from urllib.parse import urlsplit

import icalendar
import pytest
from django.test import Client

from adapters.ical.feed import parse_feed
from channelmgr.models import IcalExport
from pms_core.services import booking_create, calendar_block, calendar_set


@pytest.fixture
def export_path(alice_api, unit) -> str:
    answer = alice_api.get(f"/units/{unit.pk}/ical-export")
    assert answer.status_code == 200
    return urlsplit(answer.json()["url"]).path


def test_the_unit_api_creates_one_unguessable_export_url(alice_api, unit, export_path):
    token = IcalExport.objects.get(unit=unit).token
    assert len(token) >= 43 and export_path == f"/ical/{token}.ics"
    assert urlsplit(alice_api.get(f"/units/{unit.pk}/ical-export").json()["url"]).path == export_path


def test_the_feed_closes_stays_blocks_and_stop_sold_nights_without_guest_data(export_path, unit, day):
    booking_create(unit=unit, check_in=day(1), check_out=day(4), guest_name="Ada Lovelace", guest_email="ada@x.org")
    calendar_block(unit=unit, start=day(10), end=day(12), note="owner stay")
    calendar_set(unit=unit, start=day(20), end=day(23), stop_sell=True)
    cancelled = booking_create(unit=unit, check_in=day(30), check_out=day(32))
    from pms_core.services import booking_cancel

    booking_cancel(booking=cancelled)

    answer = Client().get(export_path)  # no authentication: the URL is the secret
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/calendar; charset=utf-8"
    text = answer.content.decode()
    assert "Ada" not in text and "ada@x.org" not in text and "owner stay" not in text
    events = sorted(
        (e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"]))
        for e in icalendar.Calendar.from_ical(text).walk("VEVENT")
    )
    assert events == [
        (day(1), day(4), "Reserved"),
        (day(10), day(12), "Not available"),
        (day(20), day(23), "Not available"),
    ]
    # It round-trips through our own importer.
    assert [(e.start, e.end) for e in parse_feed(answer.content)] == [(s, e) for s, e, _ in events]


def test_an_unknown_token_is_404(db):
    assert Client().get("/ical/" + "x" * 43 + ".ics").status_code == 404
    assert Client().get("/ical/short.ics").status_code == 404
