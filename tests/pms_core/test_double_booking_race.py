"""32 guests try to book the same nights at the same moment; the database lets exactly one through.

Each guest opens its database connection before the race starts. The services pass runs on two processes,
and the other one may hold many of the server's connections for a while (an e2e stack): a guest that finds
none free waits for one, with a deadline, rather than fail the race before it starts."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, connections

from pms_core.errors import BookingClash
from pms_core.models import Booking, Organization, Property, Unit
from pms_core.services import booking_create

ROUNDS = 20
THREADS = 32  # beside the other test process's connections, within the server's 100
CONNECT_DEADLINE_SECONDS = 120


def _connect() -> None:
    deadline = time.monotonic() + CONNECT_DEADLINE_SECONDS
    while True:
        try:
            connection.ensure_connection()
            return
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)  # a connection of the other test process's to be given back


def _race(unit, check_in, check_out):
    # Broken, not hung, if a guest never connects.
    barrier = threading.Barrier(THREADS, timeout=CONNECT_DEADLINE_SECONDS + 30)
    outcomes = []
    lock = threading.Lock()

    def guest(n):
        try:
            _connect()
            barrier.wait()
            booking_create(unit=unit, check_in=check_in, check_out=check_out, guest_name=f"guest {n}")
            result = "booked"
        except BookingClash:
            result = "clash"
        except Exception as exc:  # anything else is a bug the assertion below shows
            result = repr(exc)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=guest, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_many_simultaneous_bookings_wins_every_round(day):
    org = Organization.objects.create(name="Race")
    prop = Property.objects.create(organization=org, name="Contested")
    for round_no in range(ROUNDS):
        unit = Unit.objects.create(property=prop, name=f"unit {round_no}", base_price=Decimal("100"))
        # Staggered overlapping requests: every pair shares at least night 3.
        outcomes = _race(unit, day(1 + round_no % 2), day(4))
        assert outcomes.count("booked") == 1, (connection.vendor, round_no, outcomes)
        assert outcomes.count("clash") == THREADS - 1, (connection.vendor, round_no, outcomes)
        assert Booking.objects.filter(unit=unit, status="confirmed").count() == 1
        # A back-to-back stay after the race is accepted.
        assert booking_create(unit=unit, check_in=day(4), check_out=day(6)).status == "confirmed"


@pytest.mark.django_db(transaction=True)
def test_the_database_itself_refuses_overlaps_on_postgres(unit, day):
    """Bypass the services: the exclusion constraint is the last word on Postgres."""
    from django.db import IntegrityError

    if connection.vendor != "postgresql":
        pytest.skip("the exclusion constraint exists on Postgres; the SQLite pass covers the service check")
    Booking.objects.create(unit=unit, check_in=day(1), check_out=day(5))
    with pytest.raises(IntegrityError) as caught:
        Booking.objects.create(unit=unit, check_in=day(2), check_out=day(3))
    assert "booking_no_overlapping_stays" in str(caught.value)
    Booking.objects.create(unit=unit, check_in=day(5), check_out=day(6))  # back to back is fine
