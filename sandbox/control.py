"""The sandbox-only control (`/_control`) and state (`/_state`) JSON API. Never faulted, limited or authenticated."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sandbox import bookings, checks
from sandbox.checks import iso_instant
from sandbox.exchange import ApiError, Invalid, NotFound, Request, Response
from sandbox.faults import Faults
from sandbox.state import Listing

if TYPE_CHECKING:
    from sandbox.app import Sandbox

MAX_CALENDAR_DAYS = 1100
LISTING_FIELDS = {"currency", "room_codes", "rate_codes", "hotel"}
MAX_RATE_LIMIT = 1_000_000  # requests per window; each is a float kept for the window
MAX_RATE_WINDOW = 86_400


class ControlApi:
    def __init__(self, app: Sandbox):
        self.app = app
        self.routes = [
            ("POST", r"reset", self.reset),
            ("GET", r"health", self.health),
            ("POST", r"(?P<slug>\w+)/feeds/(?P<name>[\w.-]+)", self.store_feed),
            ("POST", r"(?P<slug>\w+)/listings", self.create_listing),
            ("POST", r"(?P<slug>\w+)/reservations", self.book),
            ("POST", r"(?P<slug>\w+)/reservations/(?P<rid>[^/]+)/modify", self.modify),
            ("POST", r"(?P<slug>\w+)/reservations/(?P<rid>[^/]+)/cancel", self.cancel),
            ("GET", r"(?P<slug>\w+)/faults", self.get_faults),
            ("POST", r"(?P<slug>\w+)/faults", self.set_faults),
            ("DELETE", r"(?P<slug>\w+)/faults", self.clear_faults),
            ("GET", r"(?P<slug>\w+)/rate-limit", self.get_rate_limit),
            ("POST", r"(?P<slug>\w+)/rate-limit", self.set_rate_limit),
            ("DELETE", r"(?P<slug>\w+)/rate-limit", self.restore_rate_limit),
            ("POST", r"(?P<slug>\w+)/tokens/expire", self.expire_tokens),
            ("POST", r"(?P<slug>\w+)/webhooks/replay/(?P<count>\d+)", self.replay),
        ]
        self.state_routes = [
            ("GET", r"health", self.health),
            ("GET", r"(?P<slug>\w+)/stats", self.stats),
            ("GET", r"(?P<slug>\w+)/reservations", self.reservations),
            ("GET", r"(?P<slug>\w+)/webhooks", self.webhooks),
            ("GET", r"(?P<slug>\w+)/listings/(?P<listing_id>[^/]+)/calendar", self.calendar),
        ]

    def handle(self, head: str, rest: str, req: Request) -> Response:
        table = self.routes if head == "_control" else self.state_routes
        for method, pattern, handler in table:
            found = re.fullmatch(pattern, rest.rstrip("/"))
            if found and method == req.method:
                params = found.groupdict()
                try:
                    if "slug" in params and params["slug"] not in self.app.platforms:
                        raise NotFound(f"unknown platform {params['slug']!r}")
                    return handler(req, **params)
                except ApiError as error:
                    return Response.json(error.status, {"error": error.message})
        return Response.json(404, {"error": f"no control endpoint {req.method} /{head}/{rest}"})

    # control

    def reset(self, req: Request) -> Response:
        self.app.reset()
        return Response.json(200, {"reset": True})

    def health(self, req: Request) -> Response:
        return Response.json(200, {"status": "ok", "xsd_validation": self.app.schemas.available})

    def create_listing(self, req: Request, slug: str) -> Response:
        item = checks.require_object(req.json(), "listing")
        checks.exact_fields(item, {"listing_id"}, "listing", LISTING_FIELDS)
        listing_id = item["listing_id"]
        if not isinstance(listing_id, str) or not re.fullmatch(r"[\w.-]{1,64}", listing_id):
            raise Invalid("listing_id must be 1-64 letters, digits, '_', '-' or '.'")
        # A room type of a hotel is named on the wire by its hotel's code: that is what the platform checks.
        hotel = item.get("hotel")
        self.app.platforms[slug].check_listing_id(hotel if isinstance(hotel, str) and hotel else listing_id)
        with self.app.store.lock:
            existed = listing_id in self.app.store[slug].listings
            listing = self.app.store[slug].listing_for_write(listing_id)
            _configure(listing, item)
        return Response.json(200 if existed else 201, {"listing_id": listing_id})

    def book(self, req: Request, slug: str) -> Response:
        reservation = bookings.book(self.app, slug, req.json())
        return Response.json(201, {"id": reservation.id})

    def modify(self, req: Request, slug: str, rid: str) -> Response:
        reservation = bookings.modify(self.app, slug, rid, req.json())
        return Response.json(200, {"id": reservation.id, "revision": reservation.revision})

    def cancel(self, req: Request, slug: str, rid: str) -> Response:
        reservation = bookings.cancel(self.app, slug, rid)
        return Response.json(200, {"id": reservation.id, "revision": reservation.revision})

    def get_faults(self, req: Request, slug: str) -> Response:
        return Response.json(200, self.app.faults.get(slug, Faults()).as_dict())

    def set_faults(self, req: Request, slug: str) -> Response:
        faults = Faults.from_json(req.json())
        self.app.faults[slug] = faults
        return Response.json(200, faults.as_dict())

    def clear_faults(self, req: Request, slug: str) -> Response:
        self.app.faults.pop(slug, None)
        return Response.json(200, Faults().as_dict())

    def get_rate_limit(self, req: Request, slug: str) -> Response:
        return Response.json(200, _rate_limit(self.app.limiter.limits.get(slug)))

    def set_rate_limit(self, req: Request, slug: str) -> Response:
        """`{"limit": n, "window": seconds}` per account from now on; a benchmark of our engine raises it."""
        item = checks.require_object(req.json(), "rate limit")
        checks.exact_fields(item, {"limit", "window"}, "rate limit")
        limit, window = item["limit"], item["window"]
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RATE_LIMIT:
            raise Invalid(f"limit must be a whole number from 1 to {MAX_RATE_LIMIT}")
        if isinstance(window, bool) or not isinstance(window, int | float) or not 0 < window <= MAX_RATE_WINDOW:
            raise Invalid(f"window must be seconds, more than 0 and at most {MAX_RATE_WINDOW}")
        self.app.limiter.set_limit(slug, limit, float(window))
        return Response.json(200, _rate_limit(self.app.limiter.limits[slug]))

    def restore_rate_limit(self, req: Request, slug: str) -> Response:
        self.app.limiter.restore(slug)
        return Response.json(200, _rate_limit(self.app.limiter.limits.get(slug)))

    def expire_tokens(self, req: Request, slug: str) -> Response:
        oauth = getattr(self.app.platforms[slug], "oauth", None)
        if oauth is None:
            raise Invalid(f"{slug} does not use OAuth")
        return Response.json(200, {"expired": oauth.expire_all()})

    def replay(self, req: Request, slug: str, count: str) -> Response:
        return Response.json(200, {"replayed": self.app.webhooks.replay(slug, int(count))})

    def store_feed(self, req: Request, slug: str, name: str) -> Response:
        store = getattr(self.app.platforms[slug], "store_custom_feed", None)
        if store is None:
            raise NotFound(f"{slug} hosts no custom feeds")
        if not req.body:
            raise Invalid("the body must be the raw .ics feed")
        with self.app.store.lock:
            url = store(name.removesuffix(".ics"), req.body)
        return Response.json(201, {"url": url})

    # state

    def stats(self, req: Request, slug: str) -> Response:
        """The counters, which request names ("<METHOD> <route>") are the platform's availability and price
        writes (`"writes": {"availability": ..., "pricing": ...}`; `{}` where it takes none), and the last
        refusals of its rate limit (`SlidingWindowLimiter.refusals`)."""
        writes = self.app.platforms[slug].writes()
        refusals = self.app.limiter.refusals(slug)
        with self.app.store.lock:
            stats = self.app.store[slug].stats.as_dict()
        return Response.json(200, {**stats, "writes": writes, "rate_limit_refusals": refusals})

    def reservations(self, req: Request, slug: str) -> Response:
        platform = self.app.platforms[slug]
        refresh = getattr(platform, "refresh_fallbacks", None)
        with self.app.store.lock:
            if refresh:
                refresh()
            listed = [platform.reservation_state(r) for r in self.app.store[slug].reservations.values()]
        return Response.json(200, listed)

    def webhooks(self, req: Request, slug: str) -> Response:
        recent = [
            {"url": w.url, "headers": w.headers, "body": w.body.decode("utf-8", "replace")}
            for w in self.app.webhooks.recent(slug)
        ]
        return Response.json(200, recent)

    def calendar(self, req: Request, slug: str, listing_id: str) -> Response:
        start = checks.iso_date(req.arg("start"), "start")
        end = checks.iso_date(req.arg("end"), "end")
        if not start < end or (end - start).days > MAX_CALENDAR_DAYS:
            raise Invalid(f"need start < end (half-open) and at most {MAX_CALENDAR_DAYS} days")
        with self.app.store.lock:
            state = self.app.store[slug]
            listing = state.listings.get(listing_id)
            if listing is None:
                raise NotFound(f"unknown listing {listing_id!r}")
            booked = state.booked_nights(listing_id)
            days = [_day_state(listing, start + timedelta(days=i), booked) for i in range((end - start).days)]
        return Response.json(200, {"listing_id": listing_id, "days": days})


def _rate_limit(limit: tuple[int, float] | None) -> dict:
    return {"limit": limit[0], "window": limit[1]} if limit else {"limit": None, "window": None}


def _configure(listing: Listing, item: dict) -> None:
    if "hotel" in item:
        hotel = item["hotel"]
        if not isinstance(hotel, str) or not re.fullmatch(r"[\w.-]{1,64}", hotel):
            raise Invalid("hotel must be 1-64 letters, digits, '_', '-' or '.'")
        if not item.get("room_codes"):
            raise Invalid("a room type of a hotel needs its room_codes")
        listing.hotel = hotel
    if "currency" in item:
        listing.currency = checks.currency(item["currency"], "currency")
    for field in ("room_codes", "rate_codes"):
        if field in item:
            codes = item[field]
            if not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes):
                raise Invalid(f"{field} must be a list of non-empty strings")
            setattr(listing, field, set(codes) or None)


def _day_state(listing: Listing, night: date, booked: dict[date, str]) -> dict:
    day = listing.days.get(night)
    booked_by = booked.get(night)
    if day is None:
        return {
            "date": night.isoformat(),
            "available": booked_by is None,
            "price": None,
            "currency": listing.currency,
            "min_stay": None,
            "max_stay": None,
            "closed_to_arrival": False,
            "closed_to_departure": False,
            "stop_sell": False,
            "booked_by": booked_by,
            "updated_at": None,
        }
    return {
        "date": night.isoformat(),
        "available": day.open and not day.stop_sell and booked_by is None,
        "price": None if day.price is None else checks.money_text(day.price, day.currency or listing.currency),
        "currency": day.currency or listing.currency,
        "min_stay": day.min_stay,
        "max_stay": day.max_stay,
        "closed_to_arrival": day.closed_to_arrival,
        "closed_to_departure": day.closed_to_departure,
        "stop_sell": day.stop_sell,
        "booked_by": booked_by,
        "updated_at": iso_instant(day.updated_at) if day.updated_at else None,
    }
