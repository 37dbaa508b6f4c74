"""The importer changes bookings only through pms_core's services, and scopes a booking's channel id by
what the platform declares (``booking_id_scope``), never by its slug."""

from __future__ import annotations

import ast
import datetime as dt
import inspect

import pytest

from adapters import registry
from adapters.base import BookingData, BookingIdScope, BookingStatus
from channelmgr.inbound import importer
from channelmgr.inbound.importer import Action, booking_channel_id, booking_import
from channelmgr.models import ChannelConnection
from pms_core.models import Booking, BookingTransition

WRITES = {"create", "update", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create", "save"}


def test_the_importer_writes_no_booking_row_itself():
    """Every ``Booking.objects...<write>()`` or ``<booking>.save()`` would bypass the services."""
    tree = ast.parse(inspect.getsource(importer))
    writes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            chain = ast.unparse(node.func.value)
            if chain.startswith("Booking.") or node.func.attr == "save":
                writes.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    assert not writes, "\n".join(writes)


@pytest.mark.parametrize("slug", registry.slugs())
def test_a_channel_id_is_scoped_by_the_connection_exactly_where_the_platform_says_so(slug):
    connection = ChannelConnection(pk=41, platform_type=slug)
    data = BookingData(
        platform=slug,
        channel_booking_id="B-1",
        listing_id="L",
        status=BookingStatus.CONFIRMED,
        check_in=None,
        check_out=None,
    )
    scoped = registry.adapter_class(slug).booking_id_scope == BookingIdScope.CONNECTION
    assert booking_channel_id(connection, data) == ("41:B-1" if scoped else "B-1")


def _connection_scoped_slug() -> str:
    scoped = [s for s, cls in registry.adapters().items() if cls.booking_id_scope == BookingIdScope.CONNECTION]
    if not scoped:
        pytest.skip("no platform scopes its booking ids by connection")
    return scoped[0]


@pytest.mark.django_db
def test_a_cancelled_copy_then_its_older_created_copy_leave_one_tombstone(connect, day):
    connection = connect(_connection_scoped_slug(), "feed", feed_url="https://x.test/a.ics")

    def copy(status, version):
        return BookingData(
            platform=connection.platform_type,
            channel_booking_id="uid-1",
            listing_id="feed",
            status=status,
            check_in=day(1),
            check_out=day(3),
            version=version,
            kind="block",
        )

    tombstone, action = booking_import(connection=connection, data=copy(BookingStatus.CANCELLED, "2"))
    assert action == Action.IGNORED and tombstone.status == Booking.Status.CANCELLED
    assert tombstone.channel_booking_id == f"{connection.pk}:uid-1"
    _same, action = booking_import(connection=connection, data=copy(BookingStatus.CONFIRMED, "1"))
    assert action == Action.STALE
    assert not BookingTransition.objects.filter(booking=tombstone).exists()

    # A newer live copy: the tombstone gives up its id through the service, a fresh block holds the nights.
    live, action = booking_import(connection=connection, data=copy(BookingStatus.CONFIRMED, "3"))
    assert action == Action.CREATED and live.pk != tombstone.pk and live.is_active
    tombstone.refresh_from_db()
    assert tombstone.channel_booking_id == f"{connection.pk}:uid-1~retired-{tombstone.pk}"


@pytest.mark.django_db
def test_reconcile_finds_what_the_importer_stored_under_a_scoped_id(connect, monkeypatch):
    """Reconcile looks bookings up by the importer's own id, so a feed's long UID (hashed to fit) is
    not reported missing."""
    from adapters.base import BookingPage
    from channelmgr.accounts import sync_window
    from channelmgr.sync import reconcile

    connection = connect(_connection_scoped_slug(), "feed", feed_url="https://x.test/a.ics")
    today, _end = sync_window(connection)  # reconcile compares from the property's today
    uid = "u" * 200  # longer than the column: the importer stores a hash
    remote = BookingData(
        platform=connection.platform_type,
        channel_booking_id=uid,
        listing_id="feed",
        status=BookingStatus.CONFIRMED,
        check_in=today + dt.timedelta(days=2),
        check_out=today + dt.timedelta(days=4),
        version="1",
        kind="block",
    )
    booking_import(connection=connection, data=remote)
    monkeypatch.setattr(reconcile, "platform_call", lambda _c, _call: BookingPage(bookings=(remote,), cursor=None))

    drift = reconcile.reconcile_connection(connection=connection, days=30, fix=False)

    assert (drift.missing_in_pms, drift.differs, drift.error) == ([], [], "")
    monkeypatch.setattr(reconcile, "booking_channel_id", lambda _c, data: data.channel_booking_id)
    assert reconcile.reconcile_connection(connection=connection, days=30, fix=False).missing_in_pms == [uid]
