"""The staff calendar in headless Chromium: log into the admin, find a booking a guest made on Airbnb
(through the sandbox, imported by webhook), click one of its nights and read why it is closed.

Runs in-process (live server, worker threads, the sandbox in a thread) on either run mode. Needs Debian's
``chromium`` (``.ci/run`` installs it) and Playwright: skipped on a laptop without them, fails under CI.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest

from testkit import wait_for
from tests.channelmgr.sync import conftest as live
from tests.conftest import need_service
from tests.observability.conftest import guest_books, imported

# The live in-process fixtures: the sandbox (webhooks reach live_server), worker threads, a connected unit.
sandbox_url, sandbox, worker, connected_unit = live.sandbox_url, live.sandbox, live.worker, live.connected_unit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "artifacts" / "calendar.png"
PASSWORD = "staff-pass-123"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        need_service(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need_service("playwright is not installed (requirements-dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def calendar_scene(sandbox, connected_unit, worker):
    """A guest's Airbnb stay, imported and pushed everywhere, next to a direct stay and an owner's block."""
    from django.contrib.auth.models import Permission

    from channelmgr.models import DirtyRange
    from pms_core.models import User
    from pms_core.services import booking_create, calendar_block, calendar_set_restrictions

    unit, today = connected_unit, dt.date.today()
    reservation = guest_books(
        sandbox, unit, platform="airbnb", check_in=today + dt.timedelta(days=3), nights=4, guest_name="Ada Lovelace"
    )
    assert wait_for(lambda: imported("airbnb", reservation), timeout=30), "the airbnb booking was not imported"
    booking_create(
        unit=unit, check_in=today + dt.timedelta(days=10), check_out=today + dt.timedelta(days=13),
        guest_name="Grace Hopper", total_amount=Decimal("450.00"),
    )  # fmt: skip
    calendar_block(unit=unit, start=today + dt.timedelta(days=16), end=today + dt.timedelta(days=18), note="Owner stay")
    calendar_set_restrictions(
        unit=unit, start=today + dt.timedelta(days=20), end=today + dt.timedelta(days=24), min_stay=3
    )
    assert wait_for(lambda: not DirtyRange.objects.exists(), timeout=40), "the pushes did not finish"
    staff = User.objects.create_user("staff", password=PASSWORD, is_staff=True, organization=unit.property.organization)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_property", "view_channelconnection"]))
    return {"unit": unit, "reservation": reservation, "check_in": today + dt.timedelta(days=3), "user": staff}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_find_an_airbnb_booking_in_the_calendar_and_read_why_the_night_is_closed(
    live_server, calendar_scene, browser, monkeypatch
):
    # Playwright's sync API runs an event loop in this thread; the ORM work is done, the server thread serves.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    unit, night = calendar_scene["unit"], calendar_scene["check_in"] + dt.timedelta(days=1)
    calendar_path = f"/admin/pms_core/property/{unit.property_id}/calendar/"

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(f"{live_server.url}/admin/login/?next={calendar_path}")
    page.fill("#id_username", calendar_scene["user"].username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{calendar_path}")
    assert "Calendar: Haus am See" in page.title()

    cell = page.locator(f'tr[data-unit="{unit.pk}"] td.night.src-airbnb[data-date="{night.isoformat()}"]')
    assert cell.count() == 1
    cell.locator("a").click()
    explanation = page.locator("#night-panel .night-explanation")
    explanation.wait_for(timeout=10_000)
    assert explanation.get_attribute("data-date") == night.isoformat()  # the night clicked, not its neighbour
    text = explanation.inner_text()
    assert "booked by Airbnb" in text and calendar_scene["reservation"] in text and "Ada Lovelace" in text
    assert "taken on this platform" in text  # airbnb's own row
    assert "last push" in text and "never" not in text.split("Airbnb", 1)[1]  # the others got it

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
    page.close()
    assert os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] == "true"
