"""Read and write RFC 5545 feeds, in plain Python (no Django, no HTTP).

Reading is lenient about what real exports do: exclusive all-day ``DTEND`` (the norm), a missing
``DTEND`` (one night), an ``DTEND`` on or before ``DTSTART`` (one night), folded lines, LF or CRLF,
escaped commas in ``PRODID``. A ``TZID`` or floating time counts by the date on its own wall clock; a
UTC time (``Z``, as Google exports timed events) by its date in the property's time zone.

An event whose dates cannot be read (no ``DTSTART``, an unreadable date or duration) is never
dropped silently, because a feed is a snapshot and a silently dropped event would make the importer
delete that block. ``read_feed`` returns such events apart, with their UID and the reason, so the
importer can report them and keep their blocks while the rest of the feed applies; ``parse_feed``
is the strict reading that fails the whole feed on the first one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from icalendar import Calendar, Event, vText
from icalendar.error import BrokenCalendarProperty

from adapters.base import zone_named

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")  # C0 controls but HTAB, and DEL: not TEXT (RFC 5545 3.3.11)

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


def _as_date(value: object, zone: dt.tzinfo | None = None) -> dt.date | None:
    """The date of a DATE or DATE-TIME value; an aware one is read in ``zone`` when given."""
    if isinstance(value, dt.datetime):
        return (value.astimezone(zone) if zone and value.tzinfo else value).date()
    if isinstance(value, dt.date):
        return value
    return None


def _reading_zone(event: Event, name: str, zone: dt.tzinfo) -> dt.tzinfo | None:
    """Where ``name``'s time counts: a UTC time in ``zone``, the property's (UTC is no one's wall clock);
    a ``TZID`` one, as a floating one, on its own wall clock (None)."""
    prop = event.get(name)
    return None if prop is None or "TZID" in getattr(prop, "params", {}) else zone


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


# A DURATION's nominal part (weeks and days), before its exact one (``T`` hours, minutes, seconds).
_NOMINAL = re.compile(r"\s*([+-]?)P(?:(\d+)W)?(?:(\d+)D)?", re.IGNORECASE)


def _plus(start: object, duration: dt.timedelta, written: str) -> object:
    """``start`` plus a DURATION, as RFC 5545 3.3.6 has it: weeks and days are nominal (the same wall-clock
    time, however long the day), hours, minutes and seconds exact (across the spring DST change PT24H ends
    an hour later on the wall clock than P1D). ``written``: the DURATION as in the feed, for the parsed one
    cannot tell PT24H from P1D; without it, whole days count as nominal."""
    match = _NOMINAL.match(written)
    days = duration.days
    if match:
        days = 7 * int(match[2] or 0) + int(match[3] or 0)
        days = -days if match[1] == "-" else days
    if not isinstance(start, dt.datetime) or start.tzinfo is None:
        return start + duration  # a date, or a floating time: its own clock is the only one
    local = start + dt.timedelta(days=days)  # aware arithmetic in one zone is the wall clock's
    return (local.astimezone(dt.UTC) + (duration - dt.timedelta(days=days))).astimezone(start.tzinfo)


def _end(event: Event, start: dt.date, start_value: object, zone: dt.tzinfo, duration: str) -> dt.date:
    if event.get("DTEND") is not None:
        end = _as_date(_value(event, "DTEND"), _reading_zone(event, "DTEND", zone))
        if end is None:
            raise FeedError(f"event {event.get('UID')}: unreadable DTEND")
    elif event.get("DURATION") is not None:
        length = _value(event, "DURATION")
        if not isinstance(length, dt.timedelta):
            raise FeedError(f"event {event.get('UID')}: unreadable DURATION")
        end = _as_date(_plus(start_value, length, duration), _reading_zone(event, "DTSTART", zone))
    else:
        end = start + ONE_DAY
    # A timed event ending on its start day, or a reversed one, still closes its first night.
    return end if end > start else start + ONE_DAY


def _fallback_uid(start: dt.date, end: dt.date, summary: str) -> str:
    digest = hashlib.sha256(f"{start}|{end}|{summary}".encode()).hexdigest()[:24]
    return f"{digest}@generated.invalid"


def parse_event(event: Event, *, zone: dt.tzinfo = dt.UTC, duration: str = "") -> FeedEvent | None:
    """``None`` for events that close nothing (cancelled or transparent). ``zone``: the property's, where
    a UTC time counts; ``duration``: the event's DURATION as written (``_plus``)."""
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
        return None
    start_value = _value(event, "DTSTART")
    start = _as_date(start_value, _reading_zone(event, "DTSTART", zone))
    if start is None:
        raise FeedError(f"event {event.get('UID')}: missing or unreadable DTSTART")
    end = _end(event, start, start_value, zone, duration)
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


def _durations(text: str) -> list[str]:
    """Each VEVENT's DURATION as written ("" for none), in feed order (``walk``'s)."""
    found: list[str] = []
    nesting: list[str] = []
    for line in re.sub(r"\r?\n[ \t]", "", text).splitlines():  # unfolded
        name, _, value = line.partition(":")
        name = name.split(";", 1)[0].strip().upper()
        if name == "BEGIN":
            nesting.append(value.strip().upper())
            found += [""] if nesting[-1] == "VEVENT" else []
        elif name == "END" and nesting:
            nesting.pop()
        elif name == "DURATION" and nesting[-1:] == ["VEVENT"]:
            found[-1] = value.strip()
    return found


def read_feed(text: bytes | str, *, zone: str = "UTC") -> FeedReading:
    """Every event that closes nights, in feed order, and apart from them every event whose dates
    cannot be read. ``zone``: the IANA zone of the property, in which a UTC time counts. Raises
    ``FeedError`` only when the text as a whole is not a calendar."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    events: list[FeedEvent] = []
    invalid: list[InvalidEvent] = []
    components, durations, local = _calendar(text).walk("VEVENT"), _durations(text), zone_named(zone)
    if len(durations) != len(components):  # read apart from the parser: never pair one with another event
        durations = [""] * len(components)
    for component, duration in zip(components, durations, strict=True):
        try:
            event = parse_event(component, zone=local, duration=duration)
        except (FeedError, ValueError, TypeError, OverflowError) as exc:
            uid = str(component.get("UID", "")).strip()
            reason = str(exc) if isinstance(exc, FeedError) else f"event {uid or '(no UID)'}: unreadable ({exc})"
            invalid.append(InvalidEvent(uid=uid, reason=reason[:300]))
            continue
        if event is not None:
            events.append(event)
    return FeedReading(events=events, invalid=invalid)


def parse_feed(text: bytes | str, *, zone: str = "UTC") -> list[FeedEvent]:
    """Every event that closes nights, in feed order. Raises ``FeedError`` for unreadable feeds and,
    strictly, for the first event whose dates cannot be read (``read_feed`` reports those instead)."""
    reading = read_feed(text, zone=zone)
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
    # Escaped as TEXT, control characters (a pasted line break, a bare CR) made spaces: a raw one broke the
    # feed for every importer, or made it a server error.
    calendar.add("x-wr-calname", vText(_CONTROL.sub(" ", unit_name)))
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
