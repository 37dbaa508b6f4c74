"""SOAP booking notifications: credentials in the header, the booking in the body, a SOAP RS back."""

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from adapters.base import (
    BookingStatus,
    Guest,
    NotificationKind,
    WebhookConfig,
    WebhookPayloadError,
    WebhookSignatureError,
)
from adapters.expedia.adapter import ExpediaAdapter
from adapters.expedia.notifications import payload_of

NOW = dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC)
OTA = "http://www.opentravel.org/OTA/2003/05"
SAMPLE_CREDENTIALS = WebhookConfig(username="Expedia", password="Password")


def sample(reference, prefix) -> bytes:
    (path,) = (reference / "expedia" / "samples").glob(f"{prefix}_*.xml")
    return path.read_bytes()


def test_the_header_credentials_are_accepted_when_they_match(reference):
    ExpediaAdapter.verify_webhook_signature(
        headers={}, body=sample(reference, "bn_01"), config=SAMPLE_CREDENTIALS, now=NOW
    )


@pytest.mark.parametrize(
    "config",
    [
        WebhookConfig(username="Expedia", password="wrong"),
        WebhookConfig(username="expedia-push", password="Password"),
        WebhookConfig(),
    ],
)
def test_wrong_or_missing_credentials_are_refused(reference, config):
    with pytest.raises(WebhookSignatureError):
        ExpediaAdapter.verify_webhook_signature(headers={}, body=sample(reference, "bn_01"), config=config, now=NOW)


def test_a_body_without_authentication_is_refused():
    body = b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x/></s:Body></s:Envelope>'
    with pytest.raises(WebhookSignatureError):
        ExpediaAdapter.verify_webhook_signature(headers={}, body=body, config=SAMPLE_CREDENTIALS, now=NOW)


def test_a_new_booking_notification_carries_the_whole_booking(reference):
    (notification,) = ExpediaAdapter.parse_webhook(headers={}, body=sample(reference, "bn_01"))
    assert notification.kind == NotificationKind.BOOKING_CREATED
    assert notification.event_key == "13357395:OTA_HotelResNotifRQ:2016-05-17T19:21:00.000000+00:00"
    booking = notification.booking
    assert booking.channel_booking_id == "13357395"
    assert booking.listing_id == "1154286"
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.check_in, booking.check_out) == (dt.date(2016, 5, 31), dt.date(2016, 6, 4))
    assert booking.guest == Guest(name="Etienne Beaulne-Dury", email="customer@email.com", phone="+1 321 3331112")
    assert booking.guests_count == 5
    assert (booking.total_amount, booking.currency) == (Decimal("951.61"), "CAD")
    assert notification.version == booking.version


def test_a_modification_notification_is_booking_modified(reference):
    (notification,) = ExpediaAdapter.parse_webhook(headers={}, body=sample(reference, "bn_03"))
    assert notification.kind == NotificationKind.BOOKING_MODIFIED
    assert (notification.booking.check_in, notification.booking.check_out) == (dt.date(2016, 6, 1), dt.date(2016, 6, 4))
    assert notification.booking.total_amount == Decimal("762.45")
    assert notification.event_key.startswith("13357395:OTA_HotelResModifyNotifRQ:")


def test_a_cancellation_notification_is_booking_cancelled(reference):
    (notification,) = ExpediaAdapter.parse_webhook(headers={}, body=sample(reference, "bn_05"))
    assert notification.kind == NotificationKind.BOOKING_CANCELLED
    booking = notification.booking
    assert (booking.channel_booking_id, booking.status) == ("13357395", BookingStatus.CANCELLED)
    assert (booking.check_in, booking.check_out) == (dt.date(2016, 6, 1), dt.date(2016, 6, 4))
    assert booking.listing_id == "1154286"
    assert booking.guest.name == "Etienne Beaulne-Dury"


def test_the_email_alias_sample_parses_despite_breaking_the_schema(reference):
    (notification,) = ExpediaAdapter.parse_webhook(headers={}, body=sample(reference, "bn_12"))
    assert notification.booking.guest.email == "45983018ca284823b2f893f27e4f93d8@m.expediapartnercentral.com"
    assert (notification.booking.total_amount, notification.booking.currency) == (Decimal("93357"), "KRW")


def test_versions_of_later_notifications_sort_after_earlier_ones(reference):
    created = ExpediaAdapter.parse_webhook(headers={}, body=sample(reference, "bn_01"))[0]
    modified = ExpediaAdapter.parse_webhook(headers={}, body=sample(reference, "bn_03"))[0]
    cancelled = ExpediaAdapter.parse_webhook(headers={}, body=sample(reference, "bn_05"))[0]
    assert created.version < modified.version < cancelled.version


@pytest.mark.parametrize(
    ("prefix", "rs"),
    [("bn_01", "OTA_HotelResNotifRS"), ("bn_03", "OTA_HotelResModifyNotifRS"), ("bn_05", "OTA_CancelRS")],
)
def test_the_answer_is_the_matching_soap_rs_and_validates(reference, schema, prefix, rs):
    answer = ExpediaAdapter.webhook_answer(ExpediaAdapter.parse_webhook(headers={}, body=sample(reference, prefix)))

    assert answer.status == 200
    assert answer.content_type.startswith("text/xml")
    payload = payload_of(answer.body)
    assert etree.QName(payload).localname == rs
    assert payload.find("{http://www.opentravel.org/OTA/2003/05}Success") is not None
    assert b"13357395" in answer.body
    validator = schema(f"booking_notification_xsd/{rs}.xsd")
    assert validator.validate(payload), validator.error_log


@pytest.mark.parametrize(
    "body", [b"not xml", b"<a/>", b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>']
)
def test_a_malformed_notification_is_a_payload_error(body):
    with pytest.raises(WebhookPayloadError):
        ExpediaAdapter.parse_webhook(headers={}, body=body)


def test_an_unknown_message_type_is_ignored_not_refused():
    body = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<OTA_ReadRQ xmlns="http://www.opentravel.org/OTA/2003/05" TimeStamp="2027-01-01T00:00:00Z"/>'
        b"</s:Body></s:Envelope>"
    )
    (notification,) = ExpediaAdapter.parse_webhook(headers={}, body=body)
    assert notification.kind == NotificationKind.IGNORED


def test_a_notification_with_a_utc_stay_is_refused_for_br_to_bring(reference):
    """A webhook is read before its connection, so its property's time zone, is known: a stay given as UTC
    times is refused (400), not dated in UTC; BR, polled every minute, brings it with plain dates. Per-night
    rates in plain dates, where the message has them, name the nights all the same."""
    root = etree.fromstring(sample(reference, "bn_01"))
    (span,) = root.iter(f"{{{OTA}}}TimeSpan")
    span.set("Start", "2016-05-31T15:00:00Z")
    span.set("End", "2016-06-04T10:00:00Z")
    (with_rates,) = ExpediaAdapter.parse_webhook(headers={}, body=etree.tostring(root))
    assert (with_rates.booking.check_in, with_rates.booking.check_out) == (dt.date(2016, 5, 31), dt.date(2016, 6, 4))

    for rate in list(root.iter(f"{{{OTA}}}Rate")):
        rate.getparent().remove(rate)
    with pytest.raises(WebhookPayloadError, match="time zone"):
        ExpediaAdapter.parse_webhook(headers={}, body=etree.tostring(root))
