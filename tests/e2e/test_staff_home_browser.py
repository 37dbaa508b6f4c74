"""The staff home in headless Chromium at 1366x768 and 1920x1080: a staff user logs in and lands on it,
sees one overbooking, one connection needing attention and one unacknowledged booking (all three made
through the real import path against the sandbox), resolves the overbooking from the page and watches the
nights it freed reopen on the sandbox platforms, and opens a calendar showing every day of its range.

One scene for the module (the live server, worker threads and the sandbox are set up once); both window
sizes look at it. Screenshots go to ``artifacts/`` (CI keeps them).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests

from channelmgr.staff_home.views import REFRESH_SECONDS
from testkit import wait_for
from tests.channelmgr.sync import conftest as live
from tests.e2e.test_browser import browser  # noqa: F401  headless Chromium, or skip/fail as that module says
from tests.observability.conftest import guest_books, imported

sandbox_url, sandbox, worker, connected_unit = live.sandbox_url, live.sandbox, live.worker, live.connected_unit

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PASSWORD = "staff-pass-123"
VIEWPORTS = {"1366x768": {"width": 1366, "height": 768}, "1920x1080": {"width": 1920, "height": 1080}}
# The platforms whose calendars the overbooking's nights were pushed to: every pushed platform but the
# one whose connection the scene breaks (it receives nothing until someone fixes it).
BROKEN = "fewo_direkt"


def _faults(sandbox_base: str, slug: str, **faults) -> None:
    requests.post(f"{sandbox_base}/_control/{slug}/faults", json=faults, timeout=5).raise_for_status()


def _open_on(sandbox_base: str, connection, start: dt.date, end: dt.date) -> bool | None:
    days = live.platform_calendar(sandbox_base, connection.platform_type, connection.platform_listing_id, start, end)
    if len(days) != (end - start).days:
        return None
    return all(day["available"] for day in days)


@pytest.fixture
def scene(sandbox, connected_unit, worker):  # noqa: F811
    """Made the way production meets it: guests book on the sandbox platforms and webhooks bring them in."""
    from django.contrib.auth.models import Permission

    from channelmgr.models import BookingAcknowledgement, ChannelConnection
    from pms_core.models import Booking, User

    unit, today = connected_unit, dt.date.today()
    # FeWo-direkt refuses our availability pushes for good (403): that connection will need attention, and
    # its calendar keeps the nights open, so a guest can book them there too. Expedia refuses the
    # acknowledgement of its bookings (BC), so its booking stays unacknowledged.
    _faults(sandbox, BROKEN, error_rate=1, status=403, endpoints=["availability"])
    _faults(sandbox, "expedia", error_rate=1, status=403, endpoints=["bc"])

    first = guest_books(
        sandbox, unit, platform="airbnb", check_in=today + dt.timedelta(days=3), nights=3, guest_name="Ada Airbnb"
    )
    assert wait_for(lambda: imported("airbnb", first), timeout=30), "the airbnb booking was not imported"
    broken = ChannelConnection.objects.get(unit=unit, platform_type=BROKEN)
    assert wait_for(
        lambda: ChannelConnection.objects.filter(pk=broken.pk, status="needs_attention").exists(), timeout=30
    ), "the refused push did not flag the connection"

    # Two nights overlap Ada's stay, two more are only this guest's: those reopen once it is resolved.
    clash = guest_books(
        sandbox, unit, platform=BROKEN, check_in=today + dt.timedelta(days=4), nights=4, guest_name="Olga Overbooked"
    )
    assert wait_for(lambda: imported(BROKEN, clash), timeout=30), "the clashing booking was not imported"
    overbooked = imported(BROKEN, clash)
    assert overbooked.status == Booking.Status.OVERBOOKED
    freed = (today + dt.timedelta(days=6), today + dt.timedelta(days=8))
    others = list(ChannelConnection.objects.filter(unit=unit).exclude(platform_type=BROKEN))
    assert wait_for(lambda: all(_open_on(sandbox, c, *freed) is False for c in others), timeout=40), (
        "the overbooking's own nights were not closed on the other platforms"
    )

    unacknowledged = guest_books(
        sandbox, unit, platform="expedia", check_in=today + dt.timedelta(days=12), nights=2, guest_name="Eva Expedia"
    )
    assert wait_for(lambda: imported("expedia", unacknowledged), timeout=30), "the expedia booking was not imported"
    assert wait_for(
        lambda: (
            BookingAcknowledgement.objects.filter(
                booking=imported("expedia", unacknowledged), acknowledged_at__isnull=True
            )
            .exclude(last_error="")
            .exists()
        ),
        timeout=30,
    ), "the refused acknowledgement was not recorded"

    staff = User.objects.create_user("staff", password=PASSWORD, is_staff=True, organization=unit.property.organization)
    # Viewing everything, and changing bookings and connections: the home's actions need that.
    staff.user_permissions.add(
        *Permission.objects.filter(codename__startswith="view_"),
        *Permission.objects.filter(codename__in=["change_booking", "change_channelconnection"]),
    )
    return {
        "sandbox": sandbox,
        "unit": unit,
        "user": staff,
        "overbooked": overbooked,
        "broken": broken,
        "unacknowledged": imported("expedia", unacknowledged),
        "freed": freed,
        "others": others,
    }


def _log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def _count(page, section: str) -> int:
    return int(page.locator(f"#{section}").get_attribute("data-count"))


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


# Fully shown: inside the window and not clipped by any scrolling or clipping box around it.
FULLY_SHOWN = """(el) => {
  const r = el.getBoundingClientRect();
  for (let node = el.parentElement; node; node = node.parentElement) {
    if (/(auto|scroll|hidden|clip)/.test(getComputedStyle(node).overflowX)) {
      const box = node.getBoundingClientRect();
      if (r.left < box.left - 1 || r.right > box.right + 1) return false;
    }
  }
  return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth;
}"""


def _within_the_window(page, locator) -> bool:
    return locator.evaluate(FULLY_SHOWN)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_land_on_the_home_resolve_an_overbooking_and_open_a_calendar(
    live_server,
    scene,
    browser,  # noqa: F811
    monkeypatch,
):
    # Playwright's sync API runs an event loop in this thread; the ORM work is done, the server thread serves.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from channelmgr.models import ChannelConnection
    from pms_core.models import Booking

    pages = {}
    for name, viewport in VIEWPORTS.items():
        page = browser.new_context(viewport=viewport).new_page()
        _log_in(page, live_server.url, scene["user"].username)
        assert _count(page, "overbookings") == 1
        assert _count(page, "connections-to-fix") == 1
        assert _count(page, "unacknowledged") == 1
        row = page.locator(f'tr.overbooking[data-booking="{scene["overbooked"].pk}"]')
        assert "Olga Overbooked" in row.inner_text()
        fix = page.locator(f'tr.connection-to-fix[data-connection="{scene["broken"].pk}"]')
        assert "refused access" in fix.inner_text() and fix.get_by_role("button", name="Re-test").count() == 1
        assert "Eva Expedia" in page.locator("#unacknowledged").inner_text()
        for action in ("Cancel this stay", "Cancel the other", "Accept"):  # the decisions, one click away
            assert _within_the_window(page, row.get_by_role("button", name=action)), (name, action)
        _shot(page, f"staff-home-{name}")
        page.evaluate("window.notReloaded = true")  # a full reload would drop it
        pages[name] = page

    # Resolve from the smaller window: cancel the overbooked stay.
    small, large = pages["1366x768"], pages["1920x1080"]
    small.locator(f'tr.overbooking[data-booking="{scene["overbooked"].pk}"]').get_by_role(
        "button", name="Cancel this stay"
    ).click()
    small.wait_for_url(f"{live_server.url}/admin/")
    assert "Cancel the overbooked stay: done." in small.locator("ul.messagelist").inner_text()
    assert _count(small, "overbookings") == 0
    assert Booking.objects.get(pk=scene["overbooked"].pk).status == Booking.Status.CANCELLED

    # The nights only the cancelled stay held reopen on every platform that had them closed.
    freed, base = scene["freed"], scene["sandbox"]
    reopened = wait_for(lambda: all(_open_on(base, c, *freed) for c in scene["others"]), timeout=40)
    assert reopened, {c.platform_type: _open_on(base, c, *freed) for c in scene["others"]}

    # The other window is left alone: its own polling (every REFRESH_SECONDS) picks the change up, no reload.
    large.wait_for_function(
        "document.querySelector('#overbookings').dataset.count === '0'", timeout=(REFRESH_SECONDS + 20) * 1000
    )
    assert large.evaluate("window.notReloaded === true")
    assert ChannelConnection.objects.get(pk=scene["broken"].pk).status == "needs_attention"

    # Every property's calendar is one click away, and it shows every day its header names.
    for name, page in pages.items():
        page.locator("#properties a.calendar-link").first.click()
        page.wait_for_url("**/calendar/")
        header = page.locator("#cal-range")
        first, last = header.get_attribute("data-first"), header.get_attribute("data-last")
        cells = page.locator(f'tr[data-unit="{scene["unit"].pk}"] td.night')
        dates = [cells.nth(i).get_attribute("data-date") for i in range(cells.count())]
        expected = dt.date.fromisoformat(first)
        assert (
            dates[0] == first and dates[-1] == last and len(dates) == (dt.date.fromisoformat(last) - expected).days + 1
        )
        last_cell = cells.nth(cells.count() - 1)
        last_cell.scroll_into_view_if_needed()
        assert last_cell.is_visible() and _within_the_window(page, last_cell), name
        _shot(page, f"staff-calendar-{name}")

        # The bookings list keeps its guest and source columns in the window.
        page.goto(f"{live_server.url}/admin/pms_core/booking/")
        for column in ("guest_name", "source"):
            assert _within_the_window(page, page.locator(f"th.column-{column}")), (name, column)
        _shot(page, f"staff-bookings-{name}")
        page.context.close()
