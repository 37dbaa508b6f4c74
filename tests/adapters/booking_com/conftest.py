import os
from pathlib import Path

import pytest

from adapters.base import Credentials, PlatformAccount
from adapters.booking_com import ota
from adapters.booking_com.adapter import BookingComAdapter
from tests.conftest import need_service

BASE = "https://supply-xml.booking.test/booking_com"
ROOT = Path(__file__).resolve().parents[3]


def reference_dir() -> Path:
    """``../shared/reference`` (or ``SHARED_REFERENCE_DIR``): skipped when absent, failing under CI."""
    path = Path(os.environ.get("SHARED_REFERENCE_DIR") or ROOT.parent / "shared" / "reference")
    if not path.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"reference material missing under CI=true: {path}")
        need_service(f"reference material not found at {path}")  # ../shared is required under CI
    return path


@pytest.fixture
def reference() -> Path:
    return reference_dir()


@pytest.fixture
def ota_schema(reference):
    from lxml import etree

    cache = {}

    def load(root_name: str):
        if root_name not in cache:
            cache[root_name] = etree.XMLSchema(etree.parse(str(reference / "ota" / "2015B" / f"{root_name}.xsd")))
        return cache[root_name]

    return load


@pytest.fixture(autouse=True)
def pinned_timestamp(monkeypatch):
    monkeypatch.setattr(ota, "now_stamp", lambda: "2027-06-01T12:00:00+00:00")


@pytest.fixture
def account():
    return PlatformAccount(
        listing_id="4711",
        credentials=Credentials(username="sandbox-booking", password="sandbox-booking-pass"),
        base_url=BASE,
        metadata={"room_id": "471101", "rate_plan_id": "RP1"},
    )


@pytest.fixture
def adapter(account):
    return BookingComAdapter(account)


def success(root: str) -> bytes:
    return f'<{root} xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0"><Success/></{root}>'.encode()


SUCCESS_AVAIL = success("OTA_HotelAvailNotifRS")
SUCCESS_RATE = success("OTA_HotelRateAmountNotifRS")
