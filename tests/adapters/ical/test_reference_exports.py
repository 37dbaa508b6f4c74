"""Real exports from ../shared/reference/ical (not copied into the repository)."""

import datetime as dt

from adapters.ical.feed import parse_feed

D = dt.date


def spans(folder, name):
    events = parse_feed((folder / name).read_bytes())
    return {e.uid: (e.start, e.end, e.summary) for e in events}


def test_it_reads_an_airbnb_export_with_reservations_and_not_available_blocks(reference_ical):
    events = spans(reference_ical, "airbnb/giuliapiva_airbnb_2026-08-22.ics")
    assert len(events) == 8
    assert events["1418fb94e984-852c89f27ecf42cf813dc4bdc20995fa@airbnb.com"] == (
        D(2026, 8, 24),
        D(2026, 9, 2),
        "Reserved",
    )
    # Back-to-back stays share the changeover day: the exclusive DTEND is check-out.
    assert events["1418fb94e984-165adae695c008f101d2780ab84715a3@airbnb.com"][:2] == (D(2026, 9, 2), D(2026, 9, 8))
    assert events["7f662ec65913-fbfcb435c0af1cf3b9e6b3ea057d72f0@airbnb.com"] == (
        D(2026, 12, 30),
        D(2027, 1, 2),
        "Airbnb (Not available)",
    )


def test_it_reads_an_older_airbnb_listing_export(reference_ical):
    events = spans(reference_ical, "airbnb/giuliapiva_airbnb_listing_2025-06-22.ics")
    assert len(events) == 7
    assert events["7f662ec65913-7dc7e7bc7ee36786523e4808b0d3b20e@airbnb.com"][:2] == (D(2025, 6, 20), D(2025, 6, 21))
    assert events["7f662ec65913-67d7e28f9ac538744745f7f289298811@airbnb.com"][:2] == (D(2025, 8, 10), D(2025, 8, 24))


def test_it_reads_the_legacy_airbnb_export_with_lf_blank_lines_and_a_reversed_event(reference_ical):
    events = spans(reference_ical, "airbnb/indika_icaltest_airbnb_legacy_rical_header.ics")
    assert events["6fec1092d3fa-775a357b82edd1bd5e5df70e40fff116@airbnb.com"][:2] == (D(2025, 4, 3), D(2025, 5, 25))
    # DTEND 2025-02-27 before DTSTART 2025-06-01: kept as one night rather than dropped.
    assert events["6fec1092d3fa-b03a1ec3773826d30cf3ccb40229974b@airbnb.com"][:2] == (D(2025, 6, 1), D(2025, 6, 2))


def test_it_reads_a_booking_com_export_with_an_escaped_prodid(reference_ical):
    events = spans(reference_ical, "booking_com/giuliapiva_booking_2026-07-07.ics")
    assert events == {
        "51833bdb188f075cdfd5bbcf241a7340@booking.com": (D(2026, 7, 5), D(2026, 7, 11), "CLOSED - Not available"),
        "374dd84a5435bea40bcc3d93361913de@booking.com": (D(2026, 7, 25), D(2026, 7, 31), "CLOSED - Not available"),
        "e927afc01f6b8d7001fbd73485479170@booking.com": (D(2026, 9, 8), D(2026, 9, 13), "CLOSED - Not available"),
    }


def test_it_reads_a_booking_com_export_with_an_organizer(reference_ical):
    events = spans(reference_ical, "booking_com/giuliapiva_booking_2026-08-22_with_organizer.ics")
    assert events["fffa52e5723c8cb7b7e9b80b2c25df09@booking.com"][:2] == (D(2027, 7, 31), D(2027, 8, 7))


def test_a_timed_google_event_closes_its_night(reference_ical):
    path = reference_ical / "generic/icalendar-pkg_google_calendar_alarm_google_future.ics"
    [event] = parse_feed(path.read_bytes())
    assert event.uid == "79fs7pkqvht9m5igs0vjv1sfra@google.com"
    assert (event.start, event.end) == (D(2024, 10, 4), D(2024, 10, 5))
    assert event.version == "0000000000-20241004T175928Z"  # LAST-MODIFIED wins over DTSTAMP


def test_versions_follow_the_export_stamp(reference_ical):
    older = parse_feed((reference_ical / "booking_com/giuliapiva_booking_2026-07-07.ics").read_bytes())
    newer = parse_feed((reference_ical / "booking_com/giuliapiva_booking_2026-08-22_with_organizer.ics").read_bytes())
    uid = "e927afc01f6b8d7001fbd73485479170@booking.com"
    assert next(e for e in older if e.uid == uid).version < next(e for e in newer if e.uid == uid).version
