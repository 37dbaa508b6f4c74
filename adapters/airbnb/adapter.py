"""Airbnb adapter: see the airbnb section of docs/platforms.md for the wire protocol."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TypeVar
from urllib.parse import quote

import requests

from adapters import http
from adapters.airbnb import signature
from adapters.airbnb.reservation import SLUG, booking_from_reservation, version_string
from adapters.base import (
    CATCH_UP_SECONDS,
    AvailabilityUpdate,
    BookingData,
    BookingNotFoundError,
    BookingPage,
    Capability,
    Demo,
    HealthResult,
    Notification,
    NotificationKind,
    PlatformAdapter,
    PlatformAPIError,
    Polling,
    PricingUpdate,
    RateLimit,
    WebhookConfig,
    WebhookPayloadError,
    batches,
    iso_utc,
)
from adapters.oauth import OAuthCodeFlow
from adapters.webhook_input import json_object

T = TypeVar("T")

EVENT_KINDS = {
    "reservation.created": NotificationKind.BOOKING_CREATED,
    "reservation.updated": NotificationKind.BOOKING_MODIFIED,
    "reservation.cancelled": NotificationKind.BOOKING_CANCELLED,
}
SCOPE = "reservations calendar pricing"


def error_body(response: requests.Response) -> tuple[str, str]:
    """``(error code, message)`` from Airbnb's ``{"error", "error_message"}`` shape."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    if not isinstance(body, dict):
        return "", response.text[:200]
    return str(body.get("error") or ""), str(body.get("error_message") or "")


class AirbnbAdapter(OAuthCodeFlow, PlatformAdapter):
    slug = SLUG
    oauth_scope = SCOPE
    display_name = "Airbnb"
    colour = "#ff5a5f"
    capabilities = frozenset(
        {
            Capability.PUSH_AVAILABILITY,
            Capability.PUSH_PRICING,
            Capability.PUSH_RESTRICTIONS,
            Capability.PUSH_MAX_STAY,
            Capability.WEBHOOKS,
            Capability.PULL_BOOKINGS,  # a catch-up poll behind the webhooks
            Capability.OAUTH,
            Capability.PER_NIGHT_PRICE,
            Capability.CLOSED_TO_ARRIVAL_DEPARTURE,
        }
    )
    max_batch = 100
    # Airbnb's own longest maximum stay (a listing's max_nights) is 1125 nights.
    max_stay_ceiling = 1125
    rate_limit = RateLimit(10, 1.0)
    # Webhooks first; a lost one (an outage of ours, a secret being rotated) is caught within minutes,
    # not by the daily reconcile: its stay would sell twice meanwhile.
    polling = Polling(every_seconds=CATCH_UP_SECONDS, catch_up=True)
    webhook_path = "airbnb"
    sandbox_webhook_secrets = ("sandbox-airbnb-webhook",)
    demo = Demo(listing_id="ab-demo-{unit}")

    # --- plumbing ---------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.account.base_url.rstrip("/") + path

    def _call(self, method: str, path: str, *, endpoint: str, **kwargs) -> dict:
        """One API call with the bearer token; raises ``PlatformAPIError`` mapped from the answer."""
        headers = {"Authorization": f"Bearer {self.account.credentials.access_token}"}
        response = http.request(
            method,
            self._url(path),
            platform=SLUG,
            endpoint=endpoint,
            headers=headers,
            raise_for_status=False,
            **kwargs,
        )
        self._raise_for_error(response, endpoint=endpoint)
        try:
            body = response.json()
        except ValueError as exc:
            raise PlatformAPIError(
                f"airbnb {endpoint}: answer is not JSON",
                permanent=False,
                code="invalid_response",
            ) from exc
        if not isinstance(body, dict):
            raise PlatformAPIError(
                f"airbnb {endpoint}: answer is not an object",
                permanent=False,
                code="invalid_response",
            )
        return body

    @staticmethod
    def _raise_for_error(response: requests.Response, *, endpoint: str) -> None:
        status = response.status_code
        if status < 400:
            if 300 <= status:
                raise PlatformAPIError(
                    f"airbnb {endpoint}: unexpected redirect (HTTP {status})",
                    permanent=True,
                    status=status,
                )
            return
        code, message = error_body(response)
        text = f"airbnb {endpoint}: HTTP {status} {code}: {message}".rstrip(": ")
        if status == 401 and code == "invalid_token":
            # Not permanent: the engine refreshes the token and retries the call.
            raise PlatformAPIError(text, permanent=False, status=status, code="token_expired")
        if status == 404 and endpoint == "fetch_booking":
            raise BookingNotFoundError(text, status=status, code=code or "not_found")
        transient = status == 429 or status >= 500
        raise PlatformAPIError(
            text,
            permanent=not transient,
            status=status,
            retry_after=http.retry_after_seconds(response),
            code=code or None,
        )

    # --- bookings ---------------------------------------------------------------------------

    def fetch_booking(self, channel_booking_id: str) -> BookingData:
        body = self._call(
            "GET",
            f"/v2/reservations/{quote(channel_booking_id, safe='')}",
            endpoint="fetch_booking",
        )
        return booking_from_reservation(body.get("reservation"))

    def fetch_bookings(
        self, *, cursor: str | None = None, since: dt.datetime | None = None, listing_ids: Sequence[str] = ()
    ) -> BookingPage:
        """One page, oldest update first. ``updated_since`` is a filter and the cursor a position in
        the filtered list, so both are sent when both are given."""
        params = {}
        if since is not None:
            params["updated_since"] = iso_utc(since)
        if cursor:
            params["cursor"] = cursor
        listing = quote(self.account.listing_id, safe="")
        body = self._call(
            "GET",
            f"/v2/listings/{listing}/reservations",
            endpoint="fetch_bookings",
            params=params,
        )
        raw = body.get("reservations")
        if not isinstance(raw, list):
            raise PlatformAPIError(
                "airbnb fetch_bookings: no reservations list",
                permanent=False,
                code="invalid_response",
            )
        return BookingPage(
            bookings=tuple(booking_from_reservation(item) for item in raw),
            cursor=body.get("next_cursor") or None,
        )

    # --- outbound ---------------------------------------------------------------------------

    def update_availability(self, update: AvailabilityUpdate) -> int:
        listing = quote(update.listing_id, safe="")
        requests_made = 0
        for chunk in batches(update.ranges, self.max_batch):
            payload = {
                "ranges": [
                    {
                        "start_date": item.range.start.isoformat(),
                        "end_date": item.range.last_night.isoformat(),
                        # Airbnb has no stop-sell of its own: a stop-sold night is closed.
                        "available": item.available and not item.stop_sell,
                        "min_nights": item.min_stay,
                        "max_nights": item.max_stay_on_wire(self.max_stay_ceiling),
                        "closed_to_arrival": item.closed_to_arrival,
                        "closed_to_departure": item.closed_to_departure,
                    }
                    for item in chunk
                ]
            }
            self._call(
                "PUT",
                f"/v2/listings/{listing}/calendar",
                endpoint="update_calendar",
                json=payload,
            )
            requests_made += 1
        return requests_made

    def update_pricing(self, update: PricingUpdate) -> int:
        """One currency per request on the wire, so ranges are grouped by currency, then batched."""
        listing = quote(update.listing_id, safe="")
        by_currency: dict[str, list] = {}
        for item in update.ranges:
            by_currency.setdefault(item.currency, []).append(item)
        requests_made = 0
        for currency, items in by_currency.items():
            for chunk in batches(items, self.max_batch):
                payload = {
                    "currency": currency,
                    "ranges": [
                        {
                            "start_date": item.range.start.isoformat(),
                            "end_date": item.range.last_night.isoformat(),
                            "nightly_price": item.price_on_wire(),
                        }
                        for item in chunk
                    ],
                }
                self._call(
                    "PUT",
                    f"/v2/listings/{listing}/pricing",
                    endpoint="update_pricing",
                    json=payload,
                )
                requests_made += 1
        return requests_made

    # --- inbound ----------------------------------------------------------------------------

    @classmethod
    def verify_webhook_signature(
        cls,
        *,
        headers: Mapping[str, str],
        body: bytes,
        config: WebhookConfig,
        now: dt.datetime,
    ) -> None:
        signature.verify(headers=headers, body=body, secrets=tuple(config.secrets), now=now)

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> list[Notification]:
        event = json_object(body)
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise WebhookPayloadError("event_id missing")
        kind = EVENT_KINDS.get(event.get("type"))
        if kind is None:
            return [Notification(platform=SLUG, kind=NotificationKind.IGNORED, event_key=event_id)]
        code, listing, version = (
            event.get("confirmation_code"),
            event.get("listing_id"),
            event.get("version"),
        )
        if not isinstance(code, str) or not code:
            raise WebhookPayloadError("confirmation_code missing")
        if not isinstance(listing, (str, int)) or listing == "":
            raise WebhookPayloadError("listing_id missing")
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise WebhookPayloadError("version must be a non-negative integer")
        return [
            Notification(
                platform=SLUG,
                kind=kind,
                event_key=event_id,
                listing_id=str(listing),
                channel_booking_id=code,
                version=version_string(version),
            )
        ]

    # --- auth and health --------------------------------------------------------------------

    def check_health(self) -> HealthResult:
        """Unhealthy on any API error except an expired token, which the engine refreshes first."""
        try:
            body = self._call("GET", "/v2/users/me", endpoint="check_health")
        except PlatformAPIError as exc:
            if exc.code == "token_expired":
                raise
            return HealthResult(healthy=False, message=str(exc))
        user = body.get("user") or {}
        return HealthResult(healthy=True, message=f"connected as Airbnb user {user.get('id', '?')}")
