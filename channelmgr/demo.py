"""Demo data for ``make run``: one organization, a login, three properties, connections to every
platform of the sandbox and one iCal feed."""

from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from django.db import transaction

from adapters.registry import adapter_class
from channelmgr.accounts import account_for
from channelmgr.models import ChannelConnection
from pms_core.models import Organization, Property, Unit, User

log = logging.getLogger(__name__)

DEMO_USER = ("demo", "demo-password")
ORG_NAME = "Demo Holiday Homes"
PROPERTIES = [
    ("Villa Sonnenschein", "Europe/Berlin", "EUR", [("Whole villa", "180.00", 3), ("Garden studio", "85.00", 2)]),
    ("Strandhaus Sylt", "Europe/Berlin", "EUR", [("Beach house", "240.00", 4)]),
    ("Casa Azul", "Europe/Madrid", "EUR", [("Apartment", "120.00", 2)]),
]
# Sandbox credentials (docs/platforms.md, "Sandbox defaults").
CREDENTIALS = {
    "airbnb": {},
    "google": {},
    "fewo_direkt": {"api_key": "sandbox-fewo-key"},
    "booking_com": {"username": "sandbox-booking", "password": "sandbox-booking-pass"},
    "expedia": {"username": "sandbox-expedia", "password": "sandbox-expedia-pass"},
}


LISTING_PREFIX = {"airbnb": "ab", "booking_com": "bdc", "fewo_direkt": "fewo", "google": "gvr"}


def listing_id(slug: str, unit: Unit) -> str:
    # Expedia hotel ids are numeric and OTA hotel codes at most 16 characters.
    return f"{9100 + unit.pk}" if slug == "expedia" else f"{LISTING_PREFIX[slug]}-demo-{unit.pk}"


@transaction.atomic
def demo_seed() -> tuple[Organization, bool]:
    """Create the demo once; returns (organization, created)."""
    org = Organization.objects.filter(name=ORG_NAME).first()
    if org:
        return org, False
    org = Organization.objects.create(name=ORG_NAME)
    User.objects.create_superuser(DEMO_USER[0], password=DEMO_USER[1], organization=org, email="demo@example.com")
    units = []
    for name, tz, currency, unit_specs in PROPERTIES:
        prop = Property.objects.create(organization=org, name=name, timezone=tz, currency=currency)
        for unit_name, price, min_stay in unit_specs:
            units.append(
                Unit.objects.create(property=prop, name=unit_name, base_price=Decimal(price), default_min_stay=min_stay)
            )
    for unit in (units[0], units[2], units[3]):
        for slug, creds in CREDENTIALS.items():
            ChannelConnection.objects.create(
                organization=org, unit=unit, platform_type=slug, platform_listing_id=listing_id(slug, unit), **creds
            )
    ChannelConnection.objects.create(
        organization=org,
        unit=units[1],
        platform_type="ical",
        platform_listing_id="garden-studio-calendar",
        platform_metadata={"feed_url": f"{settings.SANDBOX_URL}/ical/custom/garden-studio.ics", "poll_seconds": 60},
    )
    return org, True


DEMO_FEED = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\n"
    "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:{start}\r\nDTEND;VALUE=DATE:{end}\r\n"
    "UID:demo-owner-stay@airbnb.com\r\nSUMMARY:Airbnb (Not available)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def demo_publish_feed() -> None:
    """Serve the demo iCal feed from the sandbox: an owner stay three weeks from now."""
    import datetime as dt

    start = dt.date.today() + dt.timedelta(days=21)
    body = DEMO_FEED.format(start=start.strftime("%Y%m%d"), end=(start + dt.timedelta(days=4)).strftime("%Y%m%d"))
    requests.post(f"{settings.SANDBOX_URL}/_control/ical/feeds/garden-studio", data=body.encode(), timeout=5)


def demo_create_listings() -> int:
    """In the real world the listings exist on each platform before anyone connects them: create
    the demo's in the sandbox so the first poll finds them."""
    created = 0
    for connection in ChannelConnection.objects.exclude(platform_type="ical"):
        answer = requests.post(
            f"{settings.SANDBOX_URL}/_control/{connection.platform_type}/listings",
            json={"listing_id": connection.platform_listing_id},
            timeout=5,
        )
        created += answer.status_code in (200, 201)
    return created


def demo_connect_oauth() -> int:
    """Run the OAuth code flow against the sandbox for demo connections without tokens."""
    done = 0
    for connection in ChannelConnection.objects.filter(platform_type__in=["airbnb", "google"], access_token=""):
        adapter = adapter_class(connection.platform_type)(account_for(connection))
        redirect_uri = f"{settings.PUBLIC_BASE_URL}/oauth/callback/{connection.platform_type}"
        url = adapter.authorize_url(
            base_url=adapter.account.base_url,
            client_id=adapter.account.oauth_client_id,
            redirect_uri=redirect_uri,
            state="demo",
        )
        answer = requests.get(url, allow_redirects=False, timeout=5)
        code = parse_qs(urlsplit(answer.headers.get("Location", "")).query).get("code", [""])[0]
        if not code:
            log.warning("sandbox did not grant a code for connection %s", connection.pk)
            continue
        tokens = adapter.exchange_code(code=code, redirect_uri=redirect_uri)
        connection.access_token, connection.refresh_token = tokens.access_token, tokens.refresh_token
        connection.token_expires_at = tokens.expires_at
        connection.save(update_fields=["access_token", "refresh_token", "token_expires_at", "updated_at"])
        done += 1
    return done
