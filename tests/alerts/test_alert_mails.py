"""Staff get one e-mail per kind of trouble, through the paths that cause it: an overbooked import, a
platform refusing a connection for good, a booking left unacknowledged for 30 minutes. A repeat within
the grouping window waits and goes out with the others of its window, never alone and never lost."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import responses
import time_machine
from django.conf import settings
from django.core import mail
from django.utils import timezone

from adapters.base import BookingData, BookingStatus, Guest, PlatformAPIError
from alerts.models import Alert, AlertKind, AlertMail
from alerts.sweep import alerts_sweep
from channelmgr.inbound.importer import booking_import
from channelmgr.inbound.polling import connection_poll
from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.sync.push import push_connection
from pms_core.models import Booking
from pms_core.services import booking_create

FIXTURES = Path(__file__).resolve().parents[1] / "adapters" / "booking_com" / "fixtures"
BOOKING_BASE = settings.PLATFORMS["booking_com"]["base_url"]
FEWO_BASE = settings.PLATFORMS["fewo_direkt"]["base_url"]


@pytest.fixture
def connections(org_a, unit):
    def make(platform, listing, **credentials):
        return ChannelConnection.objects.create(
            organization=org_a, unit=unit, platform_type=platform, platform_listing_id=listing, **credentials
        )

    return (
        make("booking_com", "4711", username="sandbox-booking", password="sandbox-booking-pass"),
        make("fewo_direkt", "FEWO-1", api_key="sandbox-fewo-key"),
        make("airbnb", "AIR-1", access_token="airbnb-access-1", refresh_token="airbnb-refresh-1"),
    )


def _mails(kind: str) -> list:
    return [m for m in mail.outbox if AlertKind(kind).label in m.body]


def test_three_kinds_three_mails_with_a_repeat_grouped_into_the_first(
    alert_worker, recipients, connections, unit, settings
):
    settings.ALERT_GROUP_MINUTES = 60
    booking_com, fewo, airbnb = connections
    start = timezone.now()
    booking_create(unit=unit, check_in=dt.date(2027, 7, 11), check_out=dt.date(2027, 7, 13), guest_name="Direct")

    with responses.RequestsMock(assert_all_requests_are_fired=False) as platform:
        # Booking.com hands over reservation 3001 (Jul 10-14, clashing with the direct stay) and then
        # cannot take its acknowledgement: the import stands, the acknowledgement stays pending.
        platform.get(
            f"{BOOKING_BASE}/hotels/ota/OTA_HotelResNotif",
            body=(FIXTURES / "res_notif_two_reservations.xml").read_bytes(),
            content_type="text/xml",
        )
        platform.post(f"{BOOKING_BASE}/hotels/ota/OTA_NotifReport", status=503)
        with pytest.raises(PlatformAPIError) as transient:
            connection_poll(connection=booking_com)
        assert not transient.value.permanent
        overbooked = Booking.objects.get(source="booking_com", channel_booking_id="3001")
        assert overbooked.status == Booking.Status.OVERBOOKED
        alert_worker()
        assert len(mail.outbox) == 0  # gathering: a repeat of the next minute goes in this mail

        # A repeat: Airbnb sells the same nights too, seconds later.
        repeat, action = booking_import(
            connection=airbnb,
            data=BookingData(
                platform="airbnb", channel_booking_id="HM-REPEAT", listing_id="AIR-1",
                status=BookingStatus.CONFIRMED, check_in=dt.date(2027, 7, 12), check_out=dt.date(2027, 7, 15),
                guest=Guest(name="Rita Repeat"), version="1",
            ),
        )  # fmt: skip
        assert repeat.status == Booking.Status.OVERBOOKED
        alert_worker()
        assert len(mail.outbox) == 0

        # FeWo-direkt refuses the connection's key for good: the connection needs attention.
        DirtyRange.objects.create(
            connection=fewo, kind=DirtyRange.Kind.AVAILABILITY, start=dt.date(2027, 8, 1), end=dt.date(2027, 8, 5),
            closes=True,  # the leading edge: it goes at once, no debounce
        )  # fmt: skip
        for method in ("PUT", "POST"):
            platform.add(responses.Response(method=method, url=re.compile(re.escape(FEWO_BASE) + "/.*"), status=401))
        with pytest.raises(PlatformAPIError) as refused:
            push_connection(connection_id=fewo.pk, kind=DirtyRange.Kind.AVAILABILITY)
        assert refused.value.permanent
        fewo.refresh_from_db()
        assert fewo.status == ChannelConnection.Status.NEEDS_ATTENTION
        alert_worker()

    # A minute later the scheduler's sweep mails both: the overbooking with its repeat, and the connection.
    with time_machine.travel(start + dt.timedelta(seconds=90), tick=False):
        alerts_sweep()
        alert_worker()
    assert len(mail.outbox) == 2, [m.subject for m in mail.outbox]

    # Half an hour later, 3001 still waits for its acknowledgement.
    with time_machine.travel(start + dt.timedelta(minutes=31), tick=False):
        alerts_sweep()  # records it: the sweep after its gathering minute mails it
        alert_worker()
    with time_machine.travel(start + dt.timedelta(minutes=33), tick=False):
        alerts_sweep()
        alert_worker()
    assert len(mail.outbox) == 3, [m.subject for m in mail.outbox]
    [overbooking], [connection], [unacknowledged] = map(_mails, AlertKind.values)
    # The repeat is grouped into the first mail, not a mail of its own.
    assert f"#{overbooked.pk}" in overbooking.body and "HM-REPEAT" in overbooking.body
    assert "FeWo" in connection.subject and "401" in connection.body
    assert f"#{overbooked.pk}" in unacknowledged.subject and "Booking.com" in unacknowledged.subject
    assert " CET" in unacknowledged.body or " CEST" in unacknowledged.body  # the property's zone, named
    for sent in mail.outbox:
        assert sent.to == ["ops@alice.example"]  # charlie's recipient hears nothing of alice's trouble
        assert sent.from_email == settings.DEFAULT_FROM_EMAIL

    # When the window closes nothing more goes out: every alert was in exactly one mail.
    with time_machine.travel(start + dt.timedelta(minutes=61), tick=False):
        alerts_sweep()
        alert_worker()
    assert len(mail.outbox) == 3
    assert not Alert.objects.filter(mail__isnull=True).exists()
    assert set(AlertMail.objects.values_list("status", flat=True)) == {AlertMail.Status.SENT}


def test_an_alert_that_cannot_be_recorded_does_not_stop_the_import(db, connections, unit, monkeypatch):
    from alerts import recording

    def broken(**kwargs):
        raise RuntimeError("alerts table is gone")

    monkeypatch.setattr(recording.Alert.objects, "create", broken)
    booking_create(unit=unit, check_in=dt.date(2027, 7, 11), check_out=dt.date(2027, 7, 13))
    _booking_com, _fewo, airbnb = connections
    booking, _ = booking_import(
        connection=airbnb,
        data=BookingData(
            platform="airbnb", channel_booking_id="HM-1", listing_id="AIR-1", status=BookingStatus.CONFIRMED,
            check_in=dt.date(2027, 7, 12), check_out=dt.date(2027, 7, 14), version="1",
        ),
    )  # fmt: skip
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.OVERBOOKED
    assert not Alert.objects.exists()
