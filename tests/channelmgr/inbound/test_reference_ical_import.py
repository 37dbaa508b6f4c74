"""Every real export in ../shared/reference/ical imports through the poll path without error."""

import os
from pathlib import Path

import pytest
import responses

from adapters.ical.feed import parse_feed
from channelmgr.inbound.polling import connection_poll
from pms_core.models import Booking
from tests.conftest import need_service

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("public_feed_host")]

FEED_URL = "https://feeds.example.test/reference.ics"
REFERENCE = Path(
    os.environ.get("SHARED_REFERENCE_DIR") or Path(__file__).resolve().parents[3].parent / "shared" / "reference"
)
EXPORTS = sorted((REFERENCE / "ical").rglob("*.ics")) if (REFERENCE / "ical").is_dir() else []


def test_the_reference_exports_are_there():
    if not EXPORTS:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"no reference iCal exports under CI=true at {REFERENCE / 'ical'}")
        need_service(f"reference exports not found at {REFERENCE / 'ical'}")  # ../shared is required under CI
    assert len(EXPORTS) >= 5


@pytest.mark.parametrize("export", EXPORTS, ids=lambda path: path.name)
def test_a_real_export_imports_every_event_as_a_block(connect, export):
    feed = connect("ical", f"ref-{export.stem}"[:60], feed_url=FEED_URL)
    body = export.read_bytes()
    with responses.RequestsMock() as http:
        http.add(responses.GET, FEED_URL, body=body, content_type="text/calendar")
        result = connection_poll(connection=feed)
    assert result.status == "success", result
    held = Booking.objects.filter(source="ical", channel_booking_id__startswith=f"{feed.pk}:")
    assert held.count() == len(parse_feed(body)) > 0
    assert set(held.values_list("kind", flat=True)) == {"block"}
