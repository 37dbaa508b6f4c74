import pytest

from tests.sandbox.conftest import assert_valid, need_reference

AR = "/expedia/eqc/ar"
AUTH = '<Authentication username="sandbox-expedia" password="sandbox-expedia-pass"/>'


def update(inner: str, hotel: str = "4711", auth: str = AUTH) -> bytes:
    return (
        f'<AvailRateUpdateRQ xmlns="http://www.expediaconnect.com/EQC/AR/2011/06">{auth}<Hotel id="{hotel}"/>'
        f"{inner}</AvailRateUpdateRQ>"
    ).encode()


def block(start, end, room: str) -> str:
    return f'<AvailRateUpdate><DateRange from="{start}" to="{end}"/>{room}</AvailRateUpdate>'


RATE = '<RoomType id="R1"><RatePlan id="P1"><Rate currency="EUR"><PerDay rate="99.00"/></Rate></RatePlan></RoomType>'


def test_it_applies_inventory_rates_and_restrictions(sandbox):
    body = update(
        block("2027-09-01", "2027-09-02", '<RoomType id="R1"><Inventory totalInventoryAvailable="0"/></RoomType>')
        + block("2027-09-03", "2027-09-04", RATE)
        + block(
            "2027-09-05",
            "2027-09-05",
            '<RoomType id="R1"><RatePlan id="P1"><Restrictions minLOS="4" closedToDeparture="true"/>'
            "</RatePlan></RoomType>",
        )
        + block("2027-09-06", "2027-09-06", '<RoomType id="R1" closed="true"/>')
    )
    answer = sandbox.post(AR, data=body)
    assert answer.status_code == 200 and b"<Success/>" in answer.content
    days = sandbox.calendar("expedia", "4711", "2027-09-01", "2027-09-07")
    assert [d["available"] for d in days] == [False, False, True, True, True, False]
    assert days[2]["price"] == "99.00" and days[4]["min_stay"] == 4 and days[4]["closed_to_departure"]
    assert days[5]["stop_sell"]


def test_weekday_flags_limit_a_date_range(sandbox):
    room = '<RoomType id="R1"><Inventory totalInventoryAvailable="0"/></RoomType>'
    body = update(
        f'<AvailRateUpdate><DateRange from="2027-09-06" to="2027-09-12" sat="true" sun="true"/>{room}</AvailRateUpdate>'
    )
    sandbox.post(AR, data=body)
    days = sandbox.calendar("expedia", "4711", "2027-09-06", "2027-09-13")
    assert [d["date"] for d in days if not d["available"]] == ["2027-09-11", "2027-09-12"]


def test_bad_credentials_are_error_1001(sandbox):
    answer = sandbox.post(AR, data=update(block("2027-09-01", "2027-09-01", RATE), auth=AUTH.replace("-pass", "-nope")))
    assert b'code="1001"' in answer.content


@pytest.mark.parametrize(
    "inner",
    [
        block("2027-09-02", "2027-09-01", RATE),
        block("2027-09-01", "2027-09-01", '<RoomType id="R1"><Inventory totalInventoryAvailable="3"/></RoomType>'),
        block("2027-09-01", "2027-09-01", RATE.replace("99.00", "0.00")),
        block("2027-09-01", "2027-09-01", RATE.replace(' currency="EUR"', "")),
        block("2027-09-01", "2027-09-01", '<RoomType id="R1"/>'),
        block("2027-09-01", "2027-09-01", RATE) * 201,
    ],
)
def test_invalid_updates_are_error_2000(sandbox, inner):
    answer = sandbox.post(AR, data=update(inner))
    assert answer.status_code == 200 and b'code="2000"' in answer.content
    assert sandbox.stats("expedia")["invalid_payloads"] == 1


def test_unknown_room_types_are_error_3203(sandbox):
    sandbox.listing("expedia", "4711", room_codes=["R9"])
    assert b'code="3203"' in sandbox.post(AR, data=update(block("2027-09-01", "2027-09-01", RATE))).content


def test_answers_validate_against_the_eqc_schema(sandbox):
    need_reference()
    assert_valid(
        "expedia/eqc_xsd/AvailRateUpdateRS.xsd",
        sandbox.post(AR, data=update(block("2027-09-01", "2027-09-01", RATE))).content,
    )
    assert_valid("expedia/eqc_xsd/AvailRateUpdateRS.xsd", sandbox.post(AR, data=b"<broken").content)


def test_expedias_own_samples_are_accepted(sandbox):
    reference = need_reference()
    sample = (
        reference
        / "expedia/samples/ar_12_AvailRateUpdateRQ_update-a-room-types-weekend-allocation-and-per-day-rate-plan.xml"
    ).read_bytes()
    sample = sample.replace(
        b'username="testuser" password="testpass"', b'username="sandbox-expedia" password="sandbox-expedia-pass"'
    )
    answer = sandbox.post(AR, data=sample)
    assert answer.status_code == 200
