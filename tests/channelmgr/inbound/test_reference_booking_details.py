"""The official Expedia and OTA booking samples keep their taxes, special requests and sub-channel.

Each sample goes the whole way in: the adapter parses it, the importer stores it, and the bookings API
shows it. The expected values are read from the same XML here, with XPath, independently of the
adapters' parsers, and compared field by field. The samples are read from ``../shared/reference``
(``SHARED_REFERENCE_DIR``), never copied into the repository.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from adapters.booking_com.adapter import parse_res_notif
from adapters.expedia import eqc, notifications
from adapters.xml import parse
from channelmgr.inbound.importer import booking_import
from tests.conftest import need_service

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
OTA = {"o": "http://www.opentravel.org/OTA/2003/05"}
BR = {"b": "http://www.expediaconnect.com/EQC/BR/2014/01"}
AGE_CODES = {"10": "adults", "8": "children", "7": "infants"}

EXPEDIA_NOTIFICATIONS = [
    "bn_01_soap_OTA_HotelResNotifRQ_request.xml",
    "bn_03_soap_OTA_HotelResModifyNotifRQ_request.xml",
    "bn_07_soap_OTA_HotelResNotifRQ_request.xml",
    "bn_11_soap_OTA_HotelResNotifRQ_sample-no-credit-card-booking.xml",
    "bn_12_soap_OTA_HotelResNotifRQ_sample-booking-with-email-alias.xml",
]
EXPEDIA_RETRIEVALS = [
    "brbc_04_BookingRetrievalRS_booking-retrieval-response-2-new-bookings-returned-with-valu.xml",
    "brbc_05_BookingRetrievalRS_booking-retrieval-response-1-modified-booking-returned.xml",
    "brbc_07_BookingRetrievalRS_booking-retrieval-response-new-booking-with-expedia-virtualc.xml",
    "brbc_09_BookingRetrievalRS_booking-retrieval-request-and-response-for-pending-and-alrea.xml",
    "brbc_10_BookingRetrievalRS_booking-retrieval-response-hotel-collect-booking-with-no-cre.xml",
    "brbc_11_BookingRetrievalRS_booking-retrieval-response-with-expedia-email-alias.xml",
]
# The 2011B reservation samples our parser can read (RQ2 carries no reservation id at all).
OTA_RESERVATIONS = ["OTA_HotelResNotifRQ.xml", "OTA_HotelResNotifRQ3.xml", "OTA_HotelResNotifRQ_Disability.xml"]


@pytest.fixture
def reference() -> Path:
    path = Path(os.environ.get("SHARED_REFERENCE_DIR") or ROOT.parent / "shared" / "reference")
    if not path.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"reference material missing under CI=true: {path}")
        need_service(f"reference material not found at {path}")
    return path


@pytest.fixture
def api(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=alice)[0].key}")
    return client


def shown(api, connection, data) -> dict:
    """Import ``data`` on ``connection`` and read the booking back through the API."""
    booking, _action = booking_import(connection=connection, data=data)
    answer = api.get(f"/bookings/{booking.pk}")
    assert answer.status_code == 200
    return answer.json()


def amount(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def total(values) -> Decimal | None:
    return sum((Decimal(v) for v in values), Decimal(0)) if values else None


def brand(source: str) -> tuple[str, str]:
    """Expedia's brand and who collects: an ``A-`` brand is Hotel Collect (the property)."""
    if source.startswith("A-"):
        return source[2:], "property_collects"
    return source, "platform_collects"


@pytest.mark.parametrize("sample", EXPEDIA_NOTIFICATIONS)
def test_an_expedia_notification_keeps_its_details(reference, sample, connect, api):
    body = (reference / "expedia" / "samples" / sample).read_bytes()
    payload = notifications.payload_of(body)
    expedia = connect("expedia", payload.xpath("string(//o:BasicPropertyInfo/@HotelCode)", namespaces=OTA))
    (notification,) = notifications.parse_notification(body)

    got = shown(api, expedia, notification.booking)

    stay = payload.xpath("//o:RoomStay", namespaces=OTA)[0]
    assert amount(got["taxes_amount"]) == total(stay.xpath("o:Total/o:Taxes/@Amount", namespaces=OTA))
    assert amount(got["fees_amount"]) == total(stay.xpath(".//o:Fee/@Amount", namespaces=OTA))
    requests = [t.strip() for t in stay.xpath("o:SpecialRequests/o:SpecialRequest/o:Text/text()", namespaces=OTA)]
    assert got["special_requests"] == requests
    source = payload.xpath("string(o:POS/o:Source/o:RequestorID/@ID)", namespaces=OTA)
    assert (got["sub_channel"], got["payment_model"]) == brand(source)
    assert got["platform_status"] == payload.get("ResStatus")
    for code, field in AGE_CODES.items():
        counts = stay.xpath(f"o:GuestCounts/o:GuestCount[@AgeQualifyingCode='{code}']/@Count", namespaces=OTA)
        expected = None if field == "infants" else sum(int(c) for c in counts)  # Expedia has no infants
        assert got[field] == expected, field


@pytest.mark.parametrize("sample", EXPEDIA_RETRIEVALS)
def test_an_expedia_retrieval_keeps_its_details(reference, sample, connect, api):
    root = parse((reference / "expedia" / "samples" / sample).read_bytes())
    nodes = root.xpath("//b:Booking", namespaces=BR)
    expedia = connect("expedia", nodes[0].xpath("string(b:Hotel/@id)", namespaces=BR))

    for node, data in zip(nodes, eqc.bookings_from_retrieval(root), strict=True):
        got = shown(api, expedia, data)

        assert got["channel_booking_id"] == node.get("id")
        assert amount(got["taxes_amount"]) == amount(
            node.xpath("string(b:RoomStay/b:Total/@amountOfTaxes)", namespaces=BR) or None
        )
        fees = node.xpath("b:RoomStay/b:PerDayRates/b:PerDayRate/@hotelServiceFees", namespaces=BR)
        assert amount(got["fees_amount"]) == total(fees)
        assert got["special_requests"] == [t.strip() for t in node.xpath("b:SpecialRequest/text()", namespaces=BR)]
        assert (got["sub_channel"], got["payment_model"]) == brand(node.get("source"))
        assert got["platform_status"] == node.get("type")
        counts = node.xpath("b:RoomStay/b:GuestCount", namespaces=BR)[0]
        assert got["adults"] == int(counts.get("adult"))
        assert got["children"] == int(counts.get("child") or len(counts.xpath("b:Child", namespaces=BR)))


@pytest.mark.parametrize("sample", OTA_RESERVATIONS)
def test_an_ota_reservation_keeps_its_details(reference, sample, connect, api):
    root = parse((reference / "ota" / "samples_2011B" / sample).read_bytes())
    booking_com = connect("booking_com", "WASJW")
    (data,) = parse_res_notif(root, listing_id="WASJW")

    got = shown(api, booking_com, data)

    res = root.xpath("//o:HotelReservation", namespaces=OTA)[0]
    stay_taxes = res.xpath(".//o:RoomStay/o:Total/o:Taxes/@Amount", namespaces=OTA)
    rate_taxes = res.xpath(".//o:Rate//o:Taxes/o:Tax/@Amount", namespaces=OTA)
    assert amount(got["taxes_amount"]) == total(stay_taxes or rate_taxes)
    assert amount(got["fees_amount"]) == total(res.xpath(".//o:Fee/@Amount", namespaces=OTA))
    comments = res.xpath(".//o:Comment/o:Text/text() | .//o:SpecialRequest/o:Text/text()", namespaces=OTA)
    assert got["special_requests"] == [t.strip() for t in comments]
    channel = root.xpath("string(o:POS/o:Source/o:BookingChannel/o:CompanyName)", namespaces=OTA).strip()
    assert got["sub_channel"] == channel
    assert got["platform_status"] == (res.get("ResStatus") or root.get("ResStatus") or "Commit")


def test_the_samples_say_something_for_each_field(reference):
    """Guards the comparisons above against passing on empty values: across the samples, each of the
    three fields the issue names carries a real value at least once."""
    bodies = [(reference / "expedia" / "samples" / s).read_bytes() for s in EXPEDIA_NOTIFICATIONS]
    parsed = [n.booking for body in bodies for n in notifications.parse_notification(body)]
    assert {b.sub_channel for b in parsed} >= {"Expedia", "Hotels.com"}
    assert all(b.taxes and b.taxes > 0 for b in parsed)
    assert all(b.special_requests for b in parsed)
    retrieved = [
        b
        for s in EXPEDIA_RETRIEVALS
        for b in eqc.bookings_from_retrieval(parse((reference / "expedia" / "samples" / s).read_bytes()))
    ]
    assert {b.payment_model for b in retrieved} == {"platform_collects", "property_collects"}
    ota = parse_res_notif(parse((reference / "ota" / "samples_2011B" / OTA_RESERVATIONS[0]).read_bytes()))
    assert ota[0].sub_channel == "Travel Today" and ota[0].special_requests
