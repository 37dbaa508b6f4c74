"""A throwaway sixth platform, "Seaside Stays": the files a new platform brings, written into a
temporary package at test time, so the test proves nothing in channelmgr/ or config/ knows it.

Its wire protocol is small and JSON: HMAC-signed webhooks that name a reservation, a GET for the
reservation, and POSTs of availability and prices per listing.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from contextlib import contextmanager
from pathlib import Path

SLUG = "seaside"
SECRET = "seaside-webhook-secret"
SIGNATURE_HEADER = "X-Seaside-Signature"
API = "https://api.seaside.test"

ADAPTER = '''
"""Seaside Stays: a JSON platform with signed webhooks (a test's throwaway sixth platform)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

from adapters import http
from adapters.base import (
    BookingData,
    BookingStatus,
    Capability,
    Guest,
    HealthResult,
    Notification,
    NotificationKind,
    PlatformAdapter,
    RateLimit,
    WebhookPayloadError,
    WebhookSignatureError,
    batches,
)

KINDS = {
    "booking.created": NotificationKind.BOOKING_CREATED,
    "booking.modified": NotificationKind.BOOKING_MODIFIED,
    "booking.cancelled": NotificationKind.BOOKING_CANCELLED,
}


class SeasideAdapter(PlatformAdapter):
    slug = "seaside"
    display_name = "Seaside Stays"
    colour = "#00a0b0"
    capabilities = frozenset({Capability.PUSH_AVAILABILITY, Capability.PUSH_PRICING, Capability.WEBHOOKS})
    max_batch = 30
    rate_limit = RateLimit(5, 1.0)
    webhook_path = "seaside"

    def _url(self, path):
        return self.account.base_url.rstrip("/") + path

    def _headers(self):
        return {"Authorization": f"Key {self.account.credentials.api_key}"}

    def fetch_booking(self, channel_booking_id):
        body = http.request(
            "GET", self._url(f"/reservations/{channel_booking_id}"), platform=self.slug,
            endpoint="fetch_booking", headers=self._headers(),
        ).json()
        return BookingData(
            platform=self.slug,
            channel_booking_id=str(body["id"]),
            listing_id=str(body["listing_id"]),
            status=BookingStatus.CANCELLED if body["status"] == "cancelled" else BookingStatus.CONFIRMED,
            check_in=dt.date.fromisoformat(body["check_in"]),
            check_out=dt.date.fromisoformat(body["check_out"]),
            guest=Guest(name=body.get("guest", "")),
            version=str(body.get("revision", "")),
            raw_status=body["status"],
        )

    def _post_ranges(self, listing_id, what, endpoint, ranges, value):
        """One POST of ``{"ranges": [...]}`` per batch; returns the requests made."""
        sent = 0
        for chunk in batches(ranges, self.max_batch):
            items = [{"from": r.range.start.isoformat(), "to": r.range.end.isoformat(), **value(r)} for r in chunk]
            http.request(
                "POST", self._url(f"/listings/{listing_id}/{what}"), platform=self.slug,
                endpoint=endpoint, headers=self._headers(), json={"ranges": items},
            )
            sent += 1
        return sent

    def update_availability(self, update):
        return self._post_ranges(
            update.listing_id, "availability", "update_availability", update.ranges, lambda r: {"open": r.available}
        )

    def update_pricing(self, update):
        return self._post_ranges(
            update.listing_id, "prices", "update_pricing", update.ranges, lambda r: {"price": str(r.price)}
        )

    @classmethod
    def verify_webhook_signature(cls, *, headers, body, config, now):
        given = headers.get("X-Seaside-Signature", "")
        for secret in config.secrets:
            if hmac.compare_digest(given, hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()):
                return
        raise WebhookSignatureError("bad signature")

    @classmethod
    def parse_webhook(cls, *, headers, body):
        try:
            event = json.loads(body)
            kind = KINDS.get(event["type"], NotificationKind.IGNORED)
            return [
                Notification(
                    platform=cls.slug,
                    kind=kind,
                    event_key=str(event["event_id"]),
                    listing_id=str(event.get("listing_id", "")),
                    channel_booking_id=str(event.get("reservation_id", "")),
                )
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookPayloadError(f"malformed seaside event: {exc}") from None

    def check_health(self):
        http.request("GET", self._url("/health"), platform=self.slug, endpoint="health", headers=self._headers())
        return HealthResult(True, "ok")
'''


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@contextmanager
def installed(tmp_path: Path, package: str = "extra_platforms"):
    """Write the platform folder into a temporary package and let the registry discover it."""
    from adapters import registry

    folder = tmp_path / package / SLUG
    folder.mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    (folder / "adapter.py").write_text(ADAPTER)
    sys.path.insert(0, str(tmp_path))
    previous = registry.use_packages((*registry.DEFAULT_PACKAGES, package))
    try:
        yield registry.adapter_class(SLUG)
    finally:
        registry.use_packages(previous)
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]
