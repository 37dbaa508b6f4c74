"""Honest status: a connection the platform answered reads as healthy, and no sync log stays "running"
once the work behind it ended, on every platform (the iCal feed included)."""

from __future__ import annotations

import pytest

from adapters import registry
from channelmgr.demo import demo_connection_fields, demo_publish_feed
from channelmgr.models import ChannelConnection, DirtyRange, SyncLog
from channelmgr.staff_home.status import connection_health
from channelmgr.sync.requests import sync_request
from testkit import wait_for

from .conftest import connected_unit, sandbox, sandbox_url, worker  # noqa: F401  live fixtures

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def every_platform(connected_unit, sandbox):  # noqa: F811
    """The connected unit also on the demo feed: one connection per registered platform."""
    demo_publish_feed()
    for cls in registry.adapters().values():
        if cls.demo is not None and cls.demo.feed:
            ChannelConnection.objects.create(
                organization=connected_unit.property.organization,
                unit=connected_unit,
                **demo_connection_fields(cls, connected_unit.pk, sandbox_url=sandbox),
            )
    return ChannelConnection.objects.all()


@pytest.mark.parametrize("sync_type", ["full", "bookings"])
def test_no_sync_log_is_left_running_after_a_requested_sync_on_any_platform(every_platform, worker, sync_type):  # noqa: F811
    platforms = set(every_platform.values_list("platform_type", flat=True))
    assert platforms == set(registry.adapters()), "every platform, the feed included"
    for connection in every_platform:
        sync_request(connection=connection, sync_type=sync_type)

    def settled():
        # Nothing unfinished and nothing dirty: a booking the sync imported (the feed's) has started its
        # pushes to the other platforms too, so no row can start after this holds.
        return not SyncLog.objects.filter(finished_at__isnull=True).exists() and not DirtyRange.objects.exists()

    unfinished = SyncLog.objects.filter(finished_at__isnull=True)
    assert wait_for(settled, timeout=60), list(unfinished.values_list("connection__platform_type", "kind", "status"))
    assert not SyncLog.objects.filter(status=SyncLog.Status.RUNNING).exists()
    # Whatever ended, ended honestly: a feed's pushes are skipped with the reason, not "success".
    for log in SyncLog.objects.filter(connection__platform_type="ical", kind__in=["availability", "pricing"]):
        assert log.status == SyncLog.Status.SKIPPED and "takes no" in log.error


def test_a_connection_with_a_successful_push_reads_as_healthy(connected_unit, worker):  # noqa: F811
    connection = ChannelConnection.objects.get(unit=connected_unit, platform_type="airbnb")
    assert connection.healthy is None
    assert connection_health(connection).state == "never checked"
    sync_request(connection=connection, sync_type="availability")
    assert wait_for(
        lambda: SyncLog.objects.filter(connection=connection, kind="availability", status="success").exists(),
        timeout=30,
    )
    connection.refresh_from_db()
    assert connection.healthy is True and connection.last_push_at is not None
    assert connection_health(connection).state == "healthy"


def test_a_requested_sync_that_gives_up_ends_its_log_instead_of_running_for_ever(connection_for_sync, monkeypatch):
    from channelmgr import tasks

    [log] = sync_request(connection=connection_for_sync, sync_type="availability")
    monkeypatch.setattr(tasks, "attempt_begin", lambda **kwargs: False)
    tasks.run_sync_request.fn(log.pk)
    log.refresh_from_db()
    assert log.status == SyncLog.Status.FAILED and log.finished_at and "gave up" in log.error


@pytest.fixture
def connection_for_sync(unit):
    return ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="fewo_direkt", platform_listing_id="FW-1"
    )


def test_a_requested_sync_the_broker_cannot_take_ends_its_logs_with_the_reason(
    client, connection_for_sync, monkeypatch
):
    """The broker down: no worker will ever carry the sync out, so its logs must not read "running" for ever,
    and the API answers without a 5xx (what it marked dirty is still pushed by the scheduler's sweep)."""
    import dramatiq

    from pms_core.models import User

    def broker_down(message, *, delay=None):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(dramatiq.get_broker(), "enqueue", broker_down)
    owner = User.objects.create_user("owner", password="pw-owner-1234", organization=connection_for_sync.organization)
    client.force_login(owner)
    answer = client.post(
        f"/channel-connections/{connection_for_sync.pk}/sync", {"sync_type": "full"}, content_type="application/json"
    )
    assert answer.status_code < 500, answer.content
    logs = SyncLog.objects.filter(connection=connection_for_sync)
    assert logs.count() == 3 and not logs.filter(status=SyncLog.Status.RUNNING).exists()
    for log in logs:
        assert log.status == SyncLog.Status.FAILED and log.finished_at and "could not be queued" in log.error
