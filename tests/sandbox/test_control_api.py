import pytest

from tests.sandbox.conftest import BOOKING_AUTH

NS = 'xmlns="http://www.opentravel.org/OTA/2003/05"'


def close_nights(sandbox, slug: str, listing: str, start: str, end: str) -> None:
    """Close [start, end] (inclusive) the way our adapters would, through each platform's own API."""
    if slug == "airbnb":
        item = {"start_date": start, "end_date": end, "available": False, "min_nights": 1}
        item |= {"closed_to_arrival": False, "closed_to_departure": False}
        answer = sandbox.put(
            f"/airbnb/v2/listings/{listing}/calendar", json={"ranges": [item]}, headers=sandbox.bearer("airbnb")
        )
    elif slug == "fewo_direkt":
        entry = {
            "from": start,
            "to": end,
            "status": "UNAVAILABLE",
            "minStay": 1,
            "arrivalAllowed": True,
            "departureAllowed": True,
        }
        answer = sandbox.put(
            f"/fewo_direkt/v1/listings/{listing}/availability",
            json={"entries": [entry]},
            headers={"X-Api-Key": "sandbox-fewo-key"},
        )
    elif slug == "expedia":
        body = (
            '<AvailRateUpdateRQ xmlns="http://www.expediaconnect.com/EQC/AR/2011/06">'
            f'<Authentication username="sandbox-expedia" password="sandbox-expedia-pass"/><Hotel id="{listing}"/>'
            f'<AvailRateUpdate><DateRange from="{start}" to="{end}"/>'
            '<RoomType id="R1" closed="true"/></AvailRateUpdate>'
            "</AvailRateUpdateRQ>"
        )
        answer = sandbox.post("/expedia/eqc/ar", data=body.encode())
    else:
        body = (
            f'<OTA_HotelAvailNotifRQ {NS} Version="1.0"><AvailStatusMessages HotelCode="{listing}"><AvailStatusMessage '
            f'BookingLimit="0"><StatusApplicationControl Start="{start}" End="{end}" InvTypeCode="R" RatePlanCode="P"/>'
            "</AvailStatusMessage></AvailStatusMessages></OTA_HotelAvailNotifRQ>"
        ).encode()
        if slug == "google":
            answer = sandbox.post("/google/ari/OTA_HotelAvailNotif", data=body, headers=sandbox.bearer("google"))
        else:
            answer = sandbox.post("/booking_com/hotels/ota/OTA_HotelAvailNotif", data=body, auth=BOOKING_AUTH)
    assert answer.status_code == 200 and b"rror" not in answer.content, answer.text


@pytest.mark.parametrize("slug", ["airbnb", "booking_com", "expedia", "fewo_direkt", "google"])
def test_a_guest_cannot_book_nights_we_closed(sandbox, slug):
    sandbox.listing(slug, "100")
    close_nights(sandbox, slug, "100", "2028-02-03", "2028-02-04")
    refused = sandbox.book(slug, "100", "2028-02-01", "2028-02-04")
    assert refused.status_code == 409 and "2028-02-03" in refused.json()["error"]
    assert sandbox.book(slug, "100", "2028-02-01", "2028-02-03").status_code == 201
    assert sandbox.book(slug, "100", "2028-02-05", "2028-02-07").status_code == 201


def test_a_guest_cannot_book_nights_already_booked(sandbox):
    sandbox.listing("airbnb", "L1")
    assert sandbox.book("airbnb", "L1", "2028-03-01", "2028-03-05").status_code == 201
    assert sandbox.book("airbnb", "L1", "2028-03-04", "2028-03-06").status_code == 409
    assert sandbox.book("airbnb", "L1", "2028-03-05", "2028-03-06").status_code == 201  # back to back is fine


def test_a_stop_sold_night_cannot_be_booked(sandbox):
    body = (
        f'<OTA_HotelAvailNotifRQ {NS} Version="1.0"><AvailStatusMessages HotelCode="B1"><AvailStatusMessage>'
        '<StatusApplicationControl Start="2028-03-02" End="2028-03-02"/><RestrictionStatus Status="Close"/>'
        "</AvailStatusMessage></AvailStatusMessages></OTA_HotelAvailNotifRQ>"
    )
    sandbox.post("/booking_com/hotels/ota/OTA_HotelAvailNotif", data=body.encode(), auth=BOOKING_AUTH)
    assert sandbox.book("booking_com", "B1", "2028-03-01", "2028-03-04").status_code == 409


def test_a_cancelled_stay_frees_its_nights(sandbox):
    sandbox.listing("airbnb", "L1")
    rid = sandbox.book("airbnb", "L1", "2028-03-01", "2028-03-05").json()["id"]
    assert sandbox.post(f"/_control/airbnb/reservations/{rid}/cancel").json()["revision"] == 2
    assert sandbox.book("airbnb", "L1", "2028-03-01", "2028-03-05").status_code == 201
    assert sandbox.post(f"/_control/airbnb/reservations/{rid}/cancel").status_code == 409


def test_a_modification_keeps_its_own_nights_but_not_others(sandbox):
    sandbox.listing("airbnb", "L1")
    rid = sandbox.book("airbnb", "L1", "2028-03-01", "2028-03-03").json()["id"]
    sandbox.book("airbnb", "L1", "2028-03-05", "2028-03-06")
    close_nights(sandbox, "airbnb", "L1", "2028-03-01", "2028-03-02")  # our side closes the nights it has sold
    answer = sandbox.post(f"/_control/airbnb/reservations/{rid}/modify", json={"check_out": "2028-03-04"})
    assert answer.status_code == 200 and answer.json()["revision"] == 2
    assert (
        sandbox.post(f"/_control/airbnb/reservations/{rid}/modify", json={"check_out": "2028-03-06"}).status_code == 409
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"check_in": "2028-03-05", "check_out": "2028-03-05"},
        {"check_in": "2028-03-05", "check_out": "2028-03-02"},
        {"total": "0.00"},
        {"guest_name": ""},
        {"colour": "red"},
    ],
)
def test_invalid_bookings_are_refused_with_400(sandbox, payload):
    sandbox.listing("airbnb", "L1")
    base = {
        "listing_id": "L1",
        "check_in": "2028-03-01",
        "check_out": "2028-03-03",
        "guest_name": "Ada",
        "total": "1.00",
    }
    assert sandbox.post("/_control/airbnb/reservations", json=base | payload).status_code == 400


def test_booking_an_unknown_listing_is_404(sandbox):
    assert sandbox.book("airbnb", "nope", "2028-03-01", "2028-03-03").status_code == 404


def test_the_calendar_state_reports_each_night(sandbox):
    sandbox.listing("airbnb", "L1")
    rid = sandbox.book("airbnb", "L1", "2028-03-02", "2028-03-03").json()["id"]
    days = sandbox.calendar("airbnb", "L1", "2028-03-01", "2028-03-03")
    assert [d["date"] for d in days] == ["2028-03-01", "2028-03-02"]
    assert days[1]["booked_by"] == rid and days[1]["available"] is False and days[0]["available"] is True
    assert set(days[0]) == {
        "date", "available", "price", "currency", "min_stay", "max_stay", "closed_to_arrival", "closed_to_departure",
        "stop_sell", "booked_by", "updated_at",
    }  # fmt: skip


def test_state_lists_reservations_with_status_and_revision(sandbox):
    sandbox.listing("booking_com", "B1")
    rid = sandbox.book("booking_com", "B1", "2028-03-01", "2028-03-03").json()["id"]
    [listed] = sandbox.get("/_state/booking_com/reservations").json()
    assert (listed["id"], listed["status"], listed["revision"], listed["acknowledged"]) == (rid, "confirmed", 1, False)


def test_reset_brings_everything_back_to_the_start(sandbox):
    sandbox.listing("airbnb", "L1")
    sandbox.book("airbnb", "L1", "2028-03-01", "2028-03-03")
    sandbox.post("/_control/airbnb/faults", json={"down": True})
    sandbox.post("/_control/reset")
    assert sandbox.get("/_state/airbnb/reservations").json() == []
    assert sandbox.stats("airbnb")["requests_total"] == 0
    assert sandbox.get("/_control/airbnb/faults").json()["down"] is False


def test_expedia_listings_need_integer_ids(sandbox):
    assert sandbox.post("/_control/expedia/listings", json={"listing_id": "abc"}).status_code == 400


def test_unknown_platforms_and_endpoints_are_404(sandbox):
    assert sandbox.get("/_state/nope/stats").status_code == 404
    assert sandbox.get("/_control/whatever").status_code == 404
    assert sandbox.get("/airbnb/v9/unknown").status_code == 404
