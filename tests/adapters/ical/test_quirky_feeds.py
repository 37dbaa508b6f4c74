import datetime as dt

import pytest

from adapters.ical.feed import FeedError, parse_feed

from .conftest import FIXTURES

D = dt.date


def by_uid(name):
    return {e.uid: e for e in parse_feed((FIXTURES / name).read_bytes())}


def test_it_unfolds_lines_in_a_crlf_feed_with_escaped_commas_in_prodid():
    events = by_uid("folded_crlf.ics")
    uid = "folded-booking-0001-with-a-rather-long-identifier-that-must-be-folded@example.test"
    assert set(events) == {uid, "one-night@example.test"}
    assert events[uid].summary == (
        "Reserved for a guest whose booking summary is long enough to be folded over two lines"
    )
    assert (events[uid].start, events[uid].end) == (D(2027, 2, 1), D(2027, 2, 5))


def test_sequence_and_last_modified_make_the_version():
    events = by_uid("folded_crlf.ics")
    uid = "folded-booking-0001-with-a-rather-long-identifier-that-must-be-folded@example.test"
    assert events[uid].version == "0000000002-20270109T170000Z"
    assert events["one-night@example.test"].version == "0000000000-20270110T080000Z"


def test_a_missing_dtend_is_one_night():
    event = by_uid("missing_dtend_lf.ics")["no-dtend@tiny.test"]
    assert (event.start, event.end) == (D(2027, 3, 1), D(2027, 3, 2))


def test_a_duration_sets_the_end():
    event = by_uid("missing_dtend_lf.ics")["duration@tiny.test"]
    assert (event.start, event.end) == (D(2027, 3, 10), D(2027, 3, 13))


def test_tzid_datetimes_count_by_their_local_date():
    event = by_uid("missing_dtend_lf.ics")["tzid@tiny.test"]
    assert (event.start, event.end) == (D(2027, 3, 20), D(2027, 3, 23))


def test_cancelled_and_transparent_events_close_nothing():
    events = by_uid("missing_dtend_lf.ics")
    assert "cancelled@tiny.test" not in events
    assert "free@tiny.test" not in events


def test_a_reversed_event_keeps_its_first_night():
    event = by_uid("missing_dtend_lf.ics")["reversed@tiny.test"]
    assert (event.start, event.end) == (D(2027, 5, 1), D(2027, 5, 2))


def test_an_event_with_unreadable_dates_fails_the_whole_feed():
    # A feed is a snapshot: dropping one event would make the importer delete that block.
    with pytest.raises(FeedError, match="DTSTART"):
        parse_feed((FIXTURES / "unreadable_dtstart.ics").read_bytes())


@pytest.mark.parametrize("text", [b"", b"<html>Not found</html>", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"])
def test_text_that_is_not_a_calendar_is_refused(text):
    with pytest.raises(FeedError):
        parse_feed(text)


def test_an_event_without_uid_gets_a_stable_one():
    text = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        b"BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270601\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [first], [second] = parse_feed(text), parse_feed(text)
    assert first.uid == second.uid
    assert first.uid.endswith("@generated.invalid")
