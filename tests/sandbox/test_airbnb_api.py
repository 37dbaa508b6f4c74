from datetime import date, timedelta

import pytest


def day_range(start, end, **overrides):
    item = {
        "start_date": start,
        "end_date": end,
        "available": True,
        "min_nights": 2,
        "closed_to_arrival": False,
        "closed_to_departure": False,
    }
    return item | overrides


@pytest.fixture
def host(sandbox):
    sandbox.headers = sandbox.bearer("airbnb")
    return sandbox


def test_it_writes_calendar_ranges_inclusively(host):
    body = {"ranges": [day_range("2027-03-01", "2027-03-03", available=False), day_range("2027-03-04", "2027-03-04")]}
    answer = host.put("/airbnb/v2/listings/L1/calendar", json=body, headers=host.headers)
    assert answer.json() == {"updated_nights": 4}
    days = host.calendar("airbnb", "L1", "2027-03-01", "2027-03-06")
    assert [d["available"] for d in days] == [False, False, False, True, True]
    assert days[0]["min_stay"] == 2 and days[4]["min_stay"] is None


def test_it_writes_prices(host):
    body = {
        "currency": "EUR",
        "ranges": [{"start_date": "2027-03-01", "end_date": "2027-03-02", "nightly_price": "120.00"}],
    }
    assert host.put("/airbnb/v2/listings/L1/pricing", json=body, headers=host.headers).json() == {"updated_nights": 2}
    assert host.calendar("airbnb", "L1", "2027-03-01", "2027-03-02")[0]["price"] == "120.00"


@pytest.mark.parametrize(
    ("ranges", "reason"),
    [
        ([day_range("2027-03-05", "2027-03-01")], "before start"),
        ([day_range("2027-03-01", "2027-03-05"), day_range("2027-03-05", "2027-03-06")], "overlap"),
        ([day_range("2027-03-01", "2027-03-01", min_nights=0)], "min_nights"),
        ([day_range("2027-03-01", "2027-03-01", available="yes")], "available"),
        ([{"start_date": "2027-03-01", "end_date": "2027-03-01"}], "missing field"),
        ([day_range("2027-03-01", "2027-03-01", colour="red")], "unknown field"),
        ([day_range("2027-02-30", "2027-03-01")], "not a real date"),
        (
            [day_range(f"2027-{m:02d}-{d:02d}", f"2027-{m:02d}-{d:02d}") for m in range(1, 5) for d in range(1, 27)],
            "at most 100",
        ),
    ],
)
def test_it_refuses_an_invalid_calendar_and_counts_it(host, ranges, reason):
    answer = host.put("/airbnb/v2/listings/L1/calendar", json={"ranges": ranges}, headers=host.headers)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request" and reason in answer.json()["error_message"]
    stats = host.stats("airbnb")
    assert stats["invalid_payloads"] == 1 and reason in stats["last_invalid"]


@pytest.mark.parametrize("price", ["0.00", "120", "12.5", 120])
def test_it_refuses_prices_that_are_not_positive_two_place_strings(host, price):
    body = {
        "currency": "EUR",
        "ranges": [{"start_date": "2027-03-01", "end_date": "2027-03-01", "nightly_price": price}],
    }
    assert host.put("/airbnb/v2/listings/L1/pricing", json=body, headers=host.headers).status_code == 400


def test_a_refused_write_leaves_the_calendar_untouched(host):
    body = {"ranges": [day_range("2027-03-01", "2027-03-01", available=False), day_range("2027-03-02", "2027-03-01")]}
    host.put("/airbnb/v2/listings/L1/calendar", json=body, headers=host.headers)
    assert host.get("/_state/airbnb/listings/L1/calendar?start=2027-03-01&end=2027-03-02").status_code == 404


def test_it_serves_a_reservation_by_confirmation_code(host):
    host.listing("airbnb", "L1")
    code = host.book("airbnb", "L1", "2027-04-01", "2027-04-04", guest_email="ada@example.org").json()["id"]
    reservation = host.get(f"/airbnb/v2/reservations/{code}", headers=host.headers).json()["reservation"]
    assert reservation["start_date"] == "2027-04-01" and reservation["end_date"] == "2027-04-04"
    assert reservation["status"] == "accepted" and reservation["version"] == 1
    assert reservation["guest"]["first_name"] == "Ada" and reservation["total_price"] == "300.00"


def test_an_unknown_reservation_or_listing_is_404(host):
    assert host.get("/airbnb/v2/reservations/HMNOPE", headers=host.headers).json()["error"] == "not_found"
    assert host.get("/airbnb/v2/listings/nope/reservations", headers=host.headers).status_code == 404


def test_it_pages_reservations_50_at_a_time_oldest_change_first(host):
    host.listing("airbnb", "L1")
    first_night = date(2028, 1, 1)
    codes = []
    for i in range(60):
        night = first_night + timedelta(days=i)
        codes.append(host.book("airbnb", "L1", night.isoformat(), (night + timedelta(days=1)).isoformat()).json()["id"])
    first = host.get("/airbnb/v2/listings/L1/reservations", headers=host.headers).json()
    assert len(first["reservations"]) == 50 and first["next_cursor"]
    params = {"cursor": first["next_cursor"]}
    second = host.get("/airbnb/v2/listings/L1/reservations", params=params, headers=host.headers).json()
    assert second["next_cursor"] is None
    assert [r["confirmation_code"] for r in first["reservations"] + second["reservations"]] == codes


def test_it_refuses_a_cursor_it_did_not_hand_out(host):
    host.listing("airbnb", "L1")
    answer = host.get("/airbnb/v2/listings/L1/reservations", params={"cursor": "garbage!"}, headers=host.headers)
    assert answer.status_code == 400


def test_it_filters_by_updated_since(host):
    host.listing("airbnb", "L1")
    host.book("airbnb", "L1", "2027-04-01", "2027-04-04")
    later = host.get(
        "/airbnb/v2/listings/L1/reservations", params={"updated_since": "2999-01-01T00:00:00Z"}, headers=host.headers
    )
    assert later.json()["reservations"] == []
    assert (
        host.get(
            "/airbnb/v2/listings/L1/reservations", params={"updated_since": "not-a-time"}, headers=host.headers
        ).status_code
        == 400
    )


def test_it_counts_requests_per_endpoint(host):
    host.get("/airbnb/v2/users/me", headers=host.headers)
    host.get("/airbnb/v2/users/me", headers=host.headers)
    stats = host.stats("airbnb")
    assert stats["requests"]["GET users_me"] == 2
    assert stats["requests"]["POST oauth_token"] == 1
    assert stats["requests_total"] == 4
