"""The iCal host: each platform listing's export in that platform's style (`Platform.ical_style`), plus
custom feeds from tests."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from sandbox.exchange import ApiError, NotFound, Request, Response
from sandbox.platforms.base import Platform, route
from sandbox.state import Listing, PlatformState, utcnow

GENERIC = {"booked": "Booked", "closed": "Not available"}


class Ical(Platform):
    slug = "ical"

    def build_routes(self):
        return [
            route("GET", "/custom/{name}.ics", "custom_feed", self.custom_feed, protected=False),
            route("GET", "/{platform}/{listing_id}.ics", "feed", self.feed, protected=False),
        ]

    def render_error(self, req: Request, error: ApiError) -> Response:
        return Response.json(error.status, {"error": error.message})

    def store_custom_feed(self, name: str, body: bytes) -> str:
        """`POST /_control/ical/feeds/<name>`: serve `body` as a feed; returns its path."""
        self.state.custom_feeds[name] = body
        return f"/{self.slug}/custom/{name}.ics"

    def custom_feed(self, req: Request, account: str, name: str) -> Response:
        with self.app.store.lock:
            body = self.state.custom_feeds.get(name)
        if body is None:
            raise NotFound(f"no custom feed {name!r}; store one with POST /_control/ical/feeds/{name}")
        return _calendar(body)

    def feed(self, req: Request, account: str, platform: str, listing_id: str) -> Response:
        """The export of a listing on a platform guests book on."""
        exporter = self.app.platforms.get(platform)
        if exporter is None or not exporter.guest_bookings:
            raise NotFound(f"no platform {platform!r}")
        with self.app.store.lock:
            state = self.app.store[platform]
            listing = state.listings.get(listing_id)
            if listing is None:
                raise NotFound(f"no listing {listing_id!r} on {platform}")
            lines = _feed_lines(exporter, listing, state)
        return _calendar(("\r\n".join(_fold(line) for line in lines) + "\r\n").encode())


def _calendar(body: bytes) -> Response:
    return Response(200, body, {"Content-Type": "text/calendar; charset=utf-8"})


def _feed_lines(platform: Platform, listing: Listing, state: PlatformState) -> list[str]:
    slug = platform.slug
    style = platform.ical_style or {"head": [f"PRODID:-//Sandbox//{slug}//EN", "VERSION:2.0"], **GENERIC}
    domain = style.get("domain", f"{slug}.sandbox")
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", *style["head"]]
    for r in sorted(state.active_reservations(listing.listing_id), key=lambda r: r.check_in):
        description = platform.ical_description(r)
        extra = [f"DESCRIPTION:{_escape(description)}"] if description is not None else []
        lines += _event(stamp, r.check_in, r.check_out, style["booked"], _uid(listing, r.id, domain), extra)
    for start, end in _closed_runs(listing, set(state.booked_nights(listing.listing_id))):
        lines += _event(stamp, start, end, style["closed"], _uid(listing, start.isoformat(), domain), [])
    return [*lines, "END:VCALENDAR"]


def _event(stamp: str, start: date, end: date, summary: str, uid: str, extra: list[str]) -> list[str]:
    return [
        "BEGIN:VEVENT",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
        f"DTEND;VALUE=DATE:{end:%Y%m%d}",  # exclusive: the day after the last night
        f"SUMMARY:{_escape(summary)}",
        f"UID:{uid}",
        *extra,
        "END:VEVENT",
    ]


def _closed_runs(listing: Listing, booked: set[date]) -> list[tuple[date, date]]:
    """Closed nights that no booking explains, merged into half-open runs."""
    closed = sorted(n for n, d in listing.days.items() if (not d.open or d.stop_sell) and n not in booked)
    runs: list[tuple[date, date]] = []
    for night in closed:
        if runs and runs[-1][1] == night:
            runs[-1] = (runs[-1][0], night + timedelta(days=1))
        else:
            runs.append((night, night + timedelta(days=1)))
    return runs


def _uid(listing: Listing, key: str, domain: str) -> str:
    return f"{hashlib.md5(f'{listing.listing_id}:{key}'.encode(), usedforsecurity=False).hexdigest()}@{domain}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines longer than 75 octets continue on the next line after CRLF and a space."""
    raw = line.encode()
    parts = []
    while len(raw) > 75:
        cut = 75 if not parts else 74
        while cut and (raw[cut] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            cut -= 1
        parts.append(raw[:cut])
        raw = raw[cut:]
    parts.append(raw)
    return "\r\n ".join(p.decode() for p in parts)
