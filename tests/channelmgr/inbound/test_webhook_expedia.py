"""Expedia's SOAP notifications: credentials in the envelope, the booking in the body, a SOAP RS back."""

import pytest

from channelmgr.models import InboundEvent
from pms_core.models import Booking

pytestmark = pytest.mark.django_db(transaction=True)

SOAP = """<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">
<soap-env:Header>
 <Interface xmlns="http://www.newtrade.com/expedia/R14/header" Name="ExpediaDirectConnect" Version="4.0">
  <PayloadInfo RequestId="9001" RequestorId="Expedia.com" ResponderId="CM" Location="Body">
   <CommDescriptor SourceId="ExpediaDC" DestinationId="CM" RetryIndicator="false">
    <Authentication Username="{user}" Password="{password}"/>
   </CommDescriptor>
   <PayloadDescriptor Name="OTA_HotelResNotifRQ" Version="2003A">
    <PayloadReference SupplierHotelCode="3546" DistributorHotelId="3546"/>
   </PayloadDescriptor>
  </PayloadInfo>
 </Interface>
</soap-env:Header>
<soap-env:Body>
 <OTA_HotelResNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="9001"
   TimeStamp="2027-06-01T12:00:00+00:00" Version="1.000" ResStatus="Commit">
  <HotelReservations>
   <HotelReservation CreateDateTime="2027-06-01T12:00:00+00:00">
    <UniqueID Type="14" ID="13357395"/>
    <RoomStays><RoomStay>
     <RoomTypes><RoomType RoomTypeCode="965645"/></RoomTypes>
     <GuestCounts><GuestCount AgeQualifyingCode="10" Count="2"/></GuestCounts>
     <TimeSpan Start="2027-07-01" End="2027-07-04"/>
     <Total AmountAfterTax="450.00" CurrencyCode="EUR"/>
     <BasicPropertyInfo HotelCode="3546"/>
    </RoomStay></RoomStays>
    <ResGuests><ResGuest><Profiles><ProfileInfo><Profile><Customer>
     <PersonName><GivenName>Eva</GivenName><Surname>Expedia</Surname></PersonName>
    </Customer></Profile></ProfileInfo></Profiles></ResGuest></ResGuests>
   </HotelReservation>
  </HotelReservations>
 </OTA_HotelResNotifRQ>
</soap-env:Body>
</soap-env:Envelope>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>&xxe;</soap-env:Body>
</soap-env:Envelope>"""


def notification(settings, *, password=None) -> bytes:
    return SOAP.format(
        user=settings.PLATFORMS["expedia"]["PUSH_USERNAME"],
        password=password or settings.PLATFORMS["expedia"]["PUSH_PASSWORD"],
    ).encode()


def post(client, body):
    return client.post("/webhooks/expedia", data=body, content_type="text/xml")


@pytest.fixture
def expedia(connect):
    return connect("expedia", "3546")


def test_a_notification_is_answered_with_the_soap_rs_and_stored_with_its_booking(client, settings, expedia, broker):
    response = post(client, notification(settings))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"OTA_HotelResNotifRS" in response.content and b"<Success/>" in response.content.replace(b" ", b"")
    event = InboundEvent.objects.get()
    assert event.payload["booking"]["check_in"] == "2027-07-01"
    assert event.payload["booking"]["guest"]["name"] == "Eva Expedia"


def test_the_stored_event_holds_no_push_credentials(client, settings, expedia, broker):
    post(client, notification(settings))

    stored = str(InboundEvent.objects.get().payload)
    assert settings.PLATFORMS["expedia"]["PUSH_PASSWORD"] not in stored


def test_the_import_needs_no_fetch_because_the_notification_carried_the_booking(
    client, settings, expedia, broker, platform_http, day
):
    from channelmgr.inbound.tasks import import_platform_booking

    # Only the BC confirmation goes out; a BR fetch would fail the test (unregistered URL).
    platform_http.add(
        "POST",
        f"{settings.PLATFORMS['expedia']['base_url']}/eqc/bc",
        body=b'<BookingConfirmRS xmlns="http://www.expediaconnect.com/EQC/BC/2007/08"><Success/></BookingConfirmRS>',
    )
    post(client, notification(settings))

    import_platform_booking.fn(InboundEvent.objects.get().pk)

    booking = Booking.objects.get(source="expedia", channel_booking_id="13357395")
    assert (booking.check_in, booking.check_out) == (day(1), day(4))
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED


def test_wrong_push_credentials_get_401(client, settings, expedia):
    assert post(client, notification(settings, password="guess")).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_an_xxe_body_gets_400_and_nothing_is_expanded(client, expedia):
    response = post(client, XXE)

    assert response.status_code == 400
    assert response.json()["error"] == "malformed_body" and "DOCTYPE" in response.json()["detail"]
    assert b"root:" not in response.content
    assert InboundEvent.objects.count() == 0
