"""Demo data for ``make run``: one organization, a login, three properties, connections to every
platform of the sandbox and one iCal feed."""

from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from django.db import transaction

from adapters import registry
from adapters.base import Capability, PlatformAdapter
from adapters.registry import adapter_class
from channelmgr.accounts import account_for
from channelmgr.models import ChannelConnection
from channelmgr.services.oauth import oauth_complete, oauth_redirect_uri
from pms_core.models import Organization, Property, Unit, User

log = logging.getLogger(__name__)

DEMO_USER = ("demo", "demo-password")
ORG_NAME = "Demo Holiday Homes"
PROPERTIES = [
    ("Villa Sonnenschein", "Europe/Berlin", "EUR", [("Whole villa", "180.00", 3), ("Garden studio", "85.00", 2)]),
    ("Strandhaus Sylt", "Europe/Berlin", "EUR", [("Beach house", "240.00", 4)]),
    ("Casa Azul", "Europe/Madrid", "EUR", [("Apartment", "120.00", 2)]),
]


def demo_platforms(*, feeds: bool = False) -> list[type[PlatformAdapter]]:
    """The platforms that declare a sandbox demo: the API platforms, or the feeds."""
    return [cls for cls in registry.adapters().values() if cls.demo is not None and bool(cls.demo.feed) == feeds]


def demo_connection_fields(cls: type[PlatformAdapter], unit: Unit) -> dict:
    """The connection of ``unit`` to ``cls``'s sandbox listing, as its adapter's ``demo`` declares it."""
    demo = cls.demo
    metadata = {
        key: value.format(sandbox_url=settings.SANDBOX_URL) if isinstance(value, str) else value
        for key, value in demo.metadata.items()
    }
    return {
        "platform_type": cls.slug,
        "platform_listing_id": demo.listing_id.format(unit=unit.pk),
        "platform_metadata": metadata,
        **demo.credentials,
    }


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
        for cls in demo_platforms():
            ChannelConnection.objects.create(organization=org, unit=unit, **demo_connection_fields(cls, unit))
    for cls in demo_platforms(feeds=True):
        ChannelConnection.objects.create(organization=org, unit=units[1], **demo_connection_fields(cls, units[1]))
    return org, True


DEMO_FEED = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\n"
    "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:{start}\r\nDTEND;VALUE=DATE:{end}\r\n"
    "UID:demo-owner-stay@airbnb.com\r\nSUMMARY:Airbnb (Not available)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def demo_publish_feed() -> None:
    """Serve the demo feeds from the sandbox: an owner stay three weeks from now."""
    import datetime as dt

    start = dt.date.today() + dt.timedelta(days=21)
    body = DEMO_FEED.format(start=start.strftime("%Y%m%d"), end=(start + dt.timedelta(days=4)).strftime("%Y%m%d"))
    for cls in demo_platforms(feeds=True):
        requests.post(f"{settings.SANDBOX_URL}/_control/{cls.slug}/{cls.demo.feed}", data=body.encode(), timeout=5)


def demo_create_listings() -> int:
    """In the real world the listings exist on each platform before anyone connects them: create
    the demo's in the sandbox so the first poll finds them."""
    created = 0
    api_platforms = [cls.slug for cls in demo_platforms()]
    for connection in ChannelConnection.objects.filter(platform_type__in=api_platforms):
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
    for connection in ChannelConnection.objects.filter(
        platform_type__in=registry.slugs(Capability.OAUTH), access_token=""
    ):
        adapter = adapter_class(connection.platform_type)(account_for(connection))
        redirect_uri = oauth_redirect_uri(connection.platform_type)
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
        oauth_complete(connection=connection, code=code)
        done += 1
    return done
