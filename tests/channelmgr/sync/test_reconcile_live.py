"""reconcile against the live sandbox: it finds what the PMS lacks, fixes it, and never calls an
unreadable platform "in step"."""

import datetime as dt
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command

from channelmgr.models import ChannelConnection
from pms_core.models import Booking

from .conftest import wait_for


def _reconcile(*args):
    out = StringIO()
    call_command("reconcile", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_lost_booking_is_reported_then_imported_by_fix(sandbox, connected_unit, worker):
    start = dt.date.today() + dt.timedelta(days=20)
    answer = requests.post(
        f"{sandbox}/_control/airbnb/reservations",
        json={
            "listing_id": ChannelConnection.objects.get(
                unit=connected_unit, platform_type="airbnb"
            ).platform_listing_id,
            "check_in": start.isoformat(),
            "check_out": (start + dt.timedelta(days=2)).isoformat(),
            "guest_name": "Grace Hopper",
            "total": "300.00",
        },
        timeout=5,
    )
    code = answer.json()["id"]
    assert wait_for(lambda: Booking.objects.filter(source="airbnb", channel_booking_id=code).exists())
    assert wait_for(lambda: "total drift: 0" in _reconcile("--days", "60"), timeout=30)

    Booking.objects.filter(channel_booking_id=code).delete()  # the PMS lost it
    report = _reconcile("--days", "60")
    assert "1 booking(s) missing in the PMS" in report and code in report

    _reconcile("--days", "60", "--fix")
    assert Booking.objects.get(source="airbnb", channel_booking_id=code).status == "confirmed"


@pytest.mark.django_db(transaction=True)
def test_an_unreadable_platform_fails_the_run_instead_of_reporting_zero(sandbox, connected_unit, worker):
    requests.post(f"{sandbox}/_control/fewo_direkt/faults", json={"down": True}, timeout=5).raise_for_status()
    try:
        with pytest.raises(CommandError, match="could not compare"):
            _reconcile("--days", "30")
    finally:
        requests.delete(f"{sandbox}/_control/fewo_direkt/faults", timeout=5)


@pytest.mark.django_db
def test_bad_arguments_exit_with_a_message():
    with pytest.raises(CommandError, match="--days"):
        _reconcile("--days", "0")
    with pytest.raises(CommandError, match="no connection with id 999999 that can be compared"):
        _reconcile("--connection", "999999")
