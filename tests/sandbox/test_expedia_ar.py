import pytest
from lxml import etree

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


# A hotel whose room types are listings of their own (``hotel`` on the control API): one AR request
# writes each RoomType's own calendar, whole or not at all.


def _rooms(sandbox, hotel: str = "4720", rooms: tuple[str, ...] = ("R1", "R2", "R3")) -> None:
    for room in rooms:
        sandbox.listing("expedia", f"{hotel}.{room}", hotel=hotel, room_codes=[room])


def _closed(room: str) -> str:
    return f'<RoomType id="{room}"><Inventory totalInventoryAvailable="0"/></RoomType>'


def test_one_request_writes_the_calendar_of_each_room_type_it_names(sandbox):
    _rooms(sandbox)
    body = update(
        block("2027-09-01", "2027-09-01", _closed("R1"))
        + block("2027-09-02", "2027-09-02", _closed("R3"))
        + block("2027-09-03", "2027-09-03", RATE.replace('id="R1"', 'id="R2"')),
        hotel="4720",
    )
    answer = sandbox.post(AR, data=body)
    assert answer.status_code == 200 and b"<Success/>" in answer.content, answer.text

    def closed(room):
        return [
            d["date"]
            for d in sandbox.calendar("expedia", f"4720.{room}", "2027-09-01", "2027-09-04")
            if not d["available"]
        ]

    assert (closed("R1"), closed("R2"), closed("R3")) == (["2027-09-01"], [], ["2027-09-02"])
    assert sandbox.calendar("expedia", "4720.R2", "2027-09-03", "2027-09-04")[0]["price"] == "99.00"


def test_a_room_code_the_hotel_lacks_refuses_the_whole_request(sandbox):
    _rooms(sandbox)
    body = update(
        block("2027-09-01", "2027-09-01", _closed("R1")) + block("2027-09-02", "2027-09-02", _closed("R9")),
        hotel="4720",
    )
    answer = sandbox.post(AR, data=body)
    assert b'code="3203"' in answer.content
    assert all(d["available"] for d in sandbox.calendar("expedia", "4720.R1", "2027-09-01", "2027-09-03"))


def test_parr_answers_each_room_type_from_its_own_calendar(sandbox):
    _rooms(sandbox, rooms=("R1", "R2"))
    rate = '<RoomType id="{}"><RatePlan id="P1"><Rate currency="EUR"><PerDay rate="{}"/></Rate></RatePlan></RoomType>'
    sandbox.post(
        AR,
        data=update(
            block("2027-09-01", "2027-09-01", rate.format("R1", "110.00") + rate.format("R2", "120.00")), hotel="4720"
        ),
    )
    ns = "http://www.expediaconnect.com/EQC/PAR/2013/07"
    body = (
        f'<ProductAvailRateRetrievalRQ xmlns="{ns}">{AUTH}<Hotel id="4720"/><ParamSet><AvailRateRetrieval '
        'from="2027-09-01" to="2027-09-01"><RoomType id="R1"><RatePlan id="P1"/></RoomType><RoomType id="R2">'
        '<RatePlan id="P1"/></RoomType></AvailRateRetrieval></ParamSet></ProductAvailRateRetrievalRQ>'
    )
    answer = sandbox.post("/expedia/eqc/parr", data=body.encode())
    assert answer.status_code == 200, answer.text
    root = etree.fromstring(answer.content)
    rates = {room.get("id"): room.find(f".//{{{ns}}}PerDay").get("rate") for room in root.iter(f"{{{ns}}}RoomType")}
    assert rates == {"R1": "110.00", "R2": "120.00"}
