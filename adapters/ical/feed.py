"""Read and write RFC 5545 feeds, in plain Python (no Django, no HTTP).

Reading is lenient about what real exports do: exclusive all-day ``DTEND`` (the norm), a missing
``DTEND`` (one night), an ``DTEND`` on or before ``DTSTART`` (one night), folded lines, LF or CRLF,
escaped commas in ``PRODID``, ``TZID`` datetimes (their local date counts).

An event whose dates cannot be read (no ``DTSTART``, an unreadable date or duration) is never
dropped silently, because a feed is a snapshot and a silently dropped event would make the importer
delete that block. ``read_feed`` returns such events apart, with their UID and the reason, so the
importer can report them and keep their blocks while the rest of the feed applies; ``parse_feed``
is the strict reading that fails the whole feed on the first one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from icalendar import Calendar, Event
from icalendar.error import BrokenCalendarProperty

PRODID = "-//Channel Manager//Unit Calendar 1.0//EN"
ONE_DAY = dt.timedelta(days=1)


class FeedError(ValueError):
    """The text is not a calendar we can read."""


@dataclass(frozen=True)
class FeedEvent:
    """One closed stretch of nights ``[start, end)`` from an imported feed."""

    uid: str
    start: dt.date
    end: dt.date
    summary: str = ""
    # Sorts in change order: SEQUENCE first, then LAST-MODIFIED (or DTSTAMP) in UTC.
    version: str = ""


@dataclass(frozen=True)
class ExportEvent:
    """One closed stretch ``[start, end)`` of our unit for the export; ``key`` must stay stable."""

    key: str
    start: dt.date
    end: dt.date
    summary: str = "Not available"


@dataclass(frozen=True)
class InvalidEvent:
    """A VEVENT that closes nights we cannot read. ``uid`` is empty when the event has none."""

    uid: str
    reason: str


@dataclass(frozen=True)
class FeedReading:
    """A feed read event by event: the events that close nights, and the ones we could not read."""

    events: list[FeedEvent]
    invalid: list[InvalidEvent]


# --- reading ----------------------------------------------------------------------------------


def _value(event: Event, name: str) -> object:
    """A property's decoded value, ``None`` when missing or unreadable (icalendar keeps broken ones)."""
    prop = event.get(name)
    if prop is None:
        return None
    try:
        return prop.dt
    except (AttributeError, ValueError, BrokenCalendarProperty):
        return None


def _as_date(value: object) -> dt.date | None:
    """The local date of a DATE or DATE-TIME value (a ``TZID`` datetime keeps its own zone)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def _stamp(event: Event) -> str:
    for name in ("LAST-MODIFIED", "DTSTAMP"):
        value = _value(event, name)
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return value.strftime("%Y%m%dT%H%M%SZ")
    return ""


def _version(event: Event) -> str:
    try:
        sequence = max(int(event.get("SEQUENCE", 0)), 0)
    except (TypeError, ValueError):
        sequence = 0
    stamp = _stamp(event)
    return f"{sequence:010d}-{stamp}" if stamp else f"{sequence:010d}"


def _end(event: Event, start: dt.date, start_value: object) -> dt.date:
    if event.get("DTEND") is not None:
        end = _as_date(_value(event, "DTEND"))
        if end is None:
            raise FeedError(f"event {event.get('UID')}: unreadable DTEND")
    elif event.get("DURATION") is not None:
        duration = _value(event, "DURATION")
        if not isinstance(duration, dt.timedelta):
            raise FeedError(f"event {event.get('UID')}: unreadable DURATION")
        end = _as_date(start_value + duration)
    else:
        end = start + ONE_DAY
    # A timed event ending on its start day, or a reversed one, still closes its first night.
    return end if end > start else start + ONE_DAY


def _fallback_uid(start: dt.date, end: dt.date, summary: str) -> str:
    digest = hashlib.sha256(f"{start}|{end}|{summary}".encode()).hexdigest()[:24]
    return f"{digest}@generated.invalid"


def parse_event(event: Event) -> FeedEvent | None:
    """``None`` for events that close nothing (cancelled or transparent)."""
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
        return None
    start_value = _value(event, "DTSTART")
    start = _as_date(start_value)
    if start is None:
        raise FeedError(f"event {event.get('UID')}: missing or unreadable DTSTART")
    end = _end(event, start, start_value)
    summary = str(event.get("SUMMARY", ""))
    uid = str(event.get("UID", "")).strip() or _fallback_uid(start, end, summary)
    return FeedEvent(uid=uid, start=start, end=end, summary=summary, version=_version(event))


def _calendar(text: bytes | str) -> Calendar:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if "BEGIN:VCALENDAR" not in text.upper():
        raise FeedError("not an iCalendar feed (no BEGIN:VCALENDAR)")
    try:
        return Calendar.from_ical(text)
    except ValueError as exc:
        raise FeedError(f"unreadable iCalendar feed: {exc}") from exc


def read_feed(text: bytes | str) -> FeedReading:
    """Every event that closes nights, in feed order, and apart from them every event whose dates
    cannot be read. Raises ``FeedError`` only when the text as a whole is not a calendar."""
    events: list[FeedEvent] = []
    invalid: list[InvalidEvent] = []
    for component in _calendar(text).walk("VEVENT"):
        try:
            event = parse_event(component)
        except (FeedError, ValueError, TypeError, OverflowError) as exc:
            uid = str(component.get("UID", "")).strip()
            reason = str(exc) if isinstance(exc, FeedError) else f"event {uid or '(no UID)'}: unreadable ({exc})"
            invalid.append(InvalidEvent(uid=uid, reason=reason[:300]))
            continue
        if event is not None:
            events.append(event)
    return FeedReading(events=events, invalid=invalid)


def parse_feed(text: bytes | str) -> list[FeedEvent]:
    """Every event that closes nights, in feed order. Raises ``FeedError`` for unreadable feeds and,
    strictly, for the first event whose dates cannot be read (``read_feed`` reports those instead)."""
    reading = read_feed(text)
    if reading.invalid:
        raise FeedError(reading.invalid[0].reason)
    return reading.events


# --- writing ----------------------------------------------------------------------------------


def _export_event(item: ExportEvent | tuple) -> ExportEvent:
    return item if isinstance(item, ExportEvent) else ExportEvent(*item)


def build_calendar(
    unit_name: str,
    events: Iterable[ExportEvent | tuple],
    *,
    stamp: dt.datetime | None = None,
    uid_domain: str = "channel-manager",
) -> str:
    """An RFC 5545 feed (CRLF, folded at 75 octets) of all-day events with exclusive ``DTEND``.

    ``events`` are ``ExportEvent`` or ``(key, start, end[, summary])`` tuples; the UID is
    ``<key>@<uid_domain>`` so it stays the same from one export to the next. ``stamp`` is the
    DTSTAMP (now, in UTC, when not given).
    """
    stamp = (stamp or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", unit_name)
    for item in sorted((_export_event(e) for e in events), key=lambda e: (e.start, e.key)):
        if item.end <= item.start:
            raise ValueError(f"empty or reversed range {item.start}..{item.end} for {item.key}")
        event = Event()
        event.add("uid", item.key if "@" in item.key else f"{item.key}@{uid_domain}")
        event.add("dtstamp", stamp)
        event.add("dtstart", item.start)
        event.add("dtend", item.end)
        event.add("summary", item.summary)
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")
