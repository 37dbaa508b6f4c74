import pytest

KEY = {"X-Api-Key": "sandbox-fewo-key"}


def entry(start, end, **overrides):
    item = {
        "from": start,
        "to": end,
        "status": "AVAILABLE",
        "minStay": 3,
        "arrivalAllowed": True,
        "departureAllowed": False,
    }
    return item | overrides


def test_it_refuses_a_missing_or_wrong_key_in_its_error_shape(sandbox):
    for headers in ({}, {"X-Api-Key": "nope"}):
        answer = sandbox.get("/fewo_direkt/v1/ping", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_the_ping_answers_ok_with_the_key(sandbox):
    assert sandbox.get("/fewo_direkt/v1/ping", headers=KEY).json() == {"status": "ok"}


def test_it_writes_availability_and_rates(sandbox):
    body = {"entries": [entry("2027-05-01", "2027-05-02", status="UNAVAILABLE"), entry("2027-05-03", "2027-05-03")]}
    assert sandbox.put("/fewo_direkt/v1/listings/F1/availability", json=body, headers=KEY).json() == {"accepted": 2}
    rates = {"currency": "EUR", "entries": [{"from": "2027-05-01", "to": "2027-05-03", "nightlyRate": "95.50"}]}
    assert sandbox.put("/fewo_direkt/v1/listings/F1/rates", json=rates, headers=KEY).json() == {"accepted": 1}
    days = sandbox.calendar("fewo_direkt", "F1", "2027-05-01", "2027-05-04")
    assert [d["available"] for d in days] == [False, False, True]
    assert days[2]["closed_to_departure"] and not days[2]["closed_to_arrival"]
    assert {d["price"] for d in days} == {"95.50"}


@pytest.mark.parametrize(
    "entries",
    [
        [entry("2027-05-01", "2027-05-01", status="OPEN")],
        [entry("2027-05-02", "2027-05-01")],
        [entry("2027-05-01", "2027-05-01", minStay=0)],
        [
            entry(f"2027-{1 + i // 28:02d}-{1 + i % 28:02d}", f"2027-{1 + i // 28:02d}-{1 + i % 28:02d}")
            for i in range(51)
        ],
        [entry("2027-05-01", "2027-05-03"), entry("2027-05-03", "2027-05-04")],
    ],
)
def test_it_refuses_invalid_availability_in_its_error_shape(sandbox, entries):
    answer = sandbox.put("/fewo_direkt/v1/listings/F1/availability", json={"entries": entries}, headers=KEY)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "INVALID_REQUEST"
    assert sandbox.stats("fewo_direkt")["invalid_payloads"] == 1


def test_it_serves_reservations_by_page(sandbox):
    sandbox.listing("fewo_direkt", "F1")
    rid = sandbox.book("fewo_direkt", "F1", "2027-06-01", "2027-06-05", guests=3).json()["id"]
    one = sandbox.get(f"/fewo_direkt/v1/reservations/{rid}", headers=KEY).json()
    assert one["status"] == "BOOKED" and one["arrivalDate"] == "2027-06-01" and one["departureDate"] == "2027-06-05"
    assert one["totalAmount"] == {"amount": "300.00", "currency": "EUR"} and one["adults"] == 3
    page = sandbox.get("/fewo_direkt/v1/listings/F1/reservations", params={"page": 1}, headers=KEY).json()
    assert page["page"] == 1 and page["hasMore"] is False and [r["reservationId"] for r in page["items"]] == [rid]
    assert sandbox.get("/fewo_direkt/v1/listings/F1/reservations", params={"page": 0}, headers=KEY).status_code == 400


def test_an_unknown_reservation_is_404_in_its_error_shape(sandbox):
    answer = sandbox.get("/fewo_direkt/v1/reservations/HA-NOPE", headers=KEY)
    assert answer.status_code == 404 and answer.json()["errors"][0]["code"] == "NOT_FOUND"
