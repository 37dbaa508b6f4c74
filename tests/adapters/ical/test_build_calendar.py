import datetime as dt

import pytest

from adapters.ical.feed import ExportEvent, build_calendar, parse_feed

STAMP = dt.datetime(2027, 1, 1, 9, 30, tzinfo=dt.UTC)


def export(**kwargs):
    events = [
        ExportEvent("booking-42", dt.date(2027, 2, 1), dt.date(2027, 2, 4)),
        ("block-7", dt.date(2027, 1, 20), dt.date(2027, 1, 21), "Owner, staying; long"),
    ]
    return build_calendar("Seaside flat " + "with a very long name " * 4, events, stamp=STAMP, **kwargs)


def test_it_writes_crlf_lines_folded_at_75_octets():
    text = export()
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    lines = text.split("\r\n")[:-1]
    assert "\n" not in "".join(lines)
    assert all(len(line.encode()) <= 75 for line in lines)
    assert any(line.startswith(" ") for line in lines)  # the long calendar name was folded


def test_it_writes_all_day_events_with_exclusive_dtend_and_stable_uids():
    text = export()
    assert "DTSTART;VALUE=DATE:20270201\r\nDTEND;VALUE=DATE:20270204\r\n" in text
    assert "UID:booking-42@channel-manager\r\n" in text
    assert "UID:block-7@channel-manager\r\n" in text
    assert "DTSTAMP:20270101T093000Z\r\n" in text
    assert "PRODID:-//Channel Manager//Unit Calendar 1.0//EN\r\n" in text
    assert "VERSION:2.0\r\n" in text


def test_the_same_input_gives_the_same_feed():
    assert export() == export()


def test_it_escapes_text_and_reads_back_what_it_wrote():
    text = export()
    assert "SUMMARY:Owner\\, staying\\; long\r\n" in text
    events = {e.uid: e for e in parse_feed(text)}
    assert events["block-7@channel-manager"].summary == "Owner, staying; long"
    assert (events["booking-42@channel-manager"].start, events["booking-42@channel-manager"].end) == (
        dt.date(2027, 2, 1),
        dt.date(2027, 2, 4),
    )


def test_events_are_ordered_by_start():
    text = export()
    assert text.index("block-7@") < text.index("booking-42@")


def test_a_key_with_a_domain_is_kept_and_an_empty_calendar_is_valid():
    text = build_calendar("Empty", [], stamp=STAMP)
    assert "BEGIN:VEVENT" not in text
    text = build_calendar("One", [("x@elsewhere.test", dt.date(2027, 1, 1), dt.date(2027, 1, 2))], stamp=STAMP)
    assert "UID:x@elsewhere.test\r\n" in text


def test_an_empty_range_is_refused():
    with pytest.raises(ValueError):
        build_calendar("Bad", [("k", dt.date(2027, 1, 2), dt.date(2027, 1, 2))], stamp=STAMP)
