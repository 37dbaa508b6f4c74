"""Demo data for ``make run`` and services mode: one organization, a login, three properties, connections
to every platform of the sandbox and one iCal feed (``demo_seed``), and what makes those connections
work against a running sandbox (``demo_connect``): their listings, the feed, OAuth tokens, and a first
full sync. ``run_embedded`` calls ``demo_connect`` once it started the sandbox; in services mode
``manage.py connect_demo`` does."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
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


def demo_connection_fields(cls: type[PlatformAdapter], unit_id: int, *, sandbox_url: str | None = None) -> dict:
    """The connection of unit ``unit_id`` to ``cls``'s sandbox listing, as its adapter's ``demo``
    declares it (OAuth tokens come later, through the sandbox's code flow: ``demo_connect_oauth``)."""
    demo = cls.demo
    if demo is None:
        raise LookupError(f"the {cls.slug} adapter declares no demo connection (PlatformAdapter.demo)")
    sandbox_url = settings.SANDBOX_URL if sandbox_url is None else sandbox_url
    metadata = {
        key: value.format(sandbox_url=sandbox_url) if isinstance(value, str) else value
        for key, value in demo.metadata.items()
    }
    return {
        "platform_type": cls.slug,
        "platform_listing_id": demo.listing_id.format(unit=unit_id),
        "platform_metadata": metadata,
        # A feed's URL is a credential and names the sandbox too.
        **{name: value.format(sandbox_url=sandbox_url) for name, value in demo.credentials.items()},
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
            ChannelConnection.objects.create(organization=org, unit=unit, **demo_connection_fields(cls, unit.pk))
    for cls in demo_platforms(feeds=True):
        ChannelConnection.objects.create(organization=org, unit=units[1], **demo_connection_fields(cls, units[1].pk))
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
        answer = requests.post(
            f"{settings.SANDBOX_URL}/_control/{cls.slug}/{cls.demo.feed}", data=body.encode(), timeout=5
        )
        answer.raise_for_status()


def _create_listings(connections) -> dict[int, int]:
    """POST each API connection's listing to the sandbox; connection pk -> status (201 new, 200 known)."""
    api_platforms = [cls.slug for cls in demo_platforms()]
    statuses = {}
    for connection in connections.filter(platform_type__in=api_platforms):
        answer = requests.post(
            f"{settings.SANDBOX_URL}/_control/{connection.platform_type}/listings",
            json={"listing_id": connection.platform_listing_id},
            timeout=5,
        )
        statuses[connection.pk] = answer.status_code
    return statuses


def demo_create_listings(connections=None) -> int:
    """In the real world the listings exist on each platform before anyone connects them: create
    the demo's in the sandbox so the first poll finds them. ``connections`` defaults to every one.
    Returns how many the sandbox now holds (created or already known)."""
    statuses = _create_listings(ChannelConnection.objects.all() if connections is None else connections)
    return sum(status in (200, 201) for status in statuses.values())


def demo_connect_oauth(connections=None) -> int:
    """Run the OAuth code flow against the sandbox for ``connections`` of an OAuth platform (default:
    every connection without tokens); returns how many got tokens."""
    if connections is None:
        connections = ChannelConnection.objects.filter(access_token="")
    done = 0
    for connection in connections.filter(platform_type__in=registry.slugs(Capability.OAUTH)):
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


# --- connecting the demo to a running sandbox -------------------------------------------------------


class DemoConnectError(RuntimeError):
    """The demo could not be connected: no demo, or the sandbox did not answer in time."""


@dataclass
class DemoConnectResult:
    listings_new: int = 0  # listings the sandbox did not hold yet (a fresh or restarted sandbox)
    listings_known: int = 0
    feeds_published: int = 0
    oauth_connected: int = 0
    resumed: int = 0  # demo connections put back to active from needs_attention
    syncs_requested: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # step -> what went wrong

    def summary(self) -> str:
        return (
            f"sandbox listings: {self.listings_new} created, {self.listings_known} already there; "
            f"feeds published: {self.feeds_published}; OAuth connections authorized: {self.oauth_connected}; "
            f"resumed from needs_attention: {self.resumed}; syncs queued: {self.syncs_requested}"
        )


def demo_connections():
    """The demo organization's live connections (none before ``demo_seed``)."""
    return ChannelConnection.objects.filter(organization__name=ORG_NAME).exclude(
        status=ChannelConnection.Status.DELETED
    )


def sandbox_wait(timeout: float) -> bool:
    """True once the sandbox answers its health check, polling for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{settings.SANDBOX_URL}/_state/health", timeout=2).ok:
                return True
        except requests.RequestException:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


def demo_connect(*, wait: float = 0.0) -> DemoConnectResult:
    """Make the demo's connections work against the sandbox at ``SANDBOX_URL``; safe to run again.

    The sandbox keeps everything in memory, so a fresh (or restarted) one knows none of the demo. In
    order: wait up to ``wait`` seconds for it; create each API connection's listing there; publish the
    demo iCal feed; run the OAuth code flow for OAuth connections without tokens, in needs_attention,
    or whose listing the sandbox did not hold (a new sandbox does not know the old tokens either); put
    back to active any demo connection that went to needs_attention before the sandbox had its side
    (``connection_resume`` for a platform we push to, which queues its full sync); and queue a full sync
    (a pull for a feed) for every other active connection that was never pushed, was in needs_attention,
    or whose listing is new to the sandbox, so the platforms hold the calendars before anyone books.

    The syncs go to this process's broker: Redis in services mode, the in-process broker inside
    ``run_embedded``. A step that fails is recorded in ``failed`` and the next ones still run. Raises
    ``DemoConnectError`` if there is no demo or the sandbox does not answer within ``wait``.
    """
    from channelmgr.services.connections import connection_resume
    from channelmgr.sync.requests import sync_request

    connections = demo_connections()
    if not connections.exists():
        raise DemoConnectError("there is no demo: run `manage.py seed_demo` first")
    if not sandbox_wait(wait):
        raise DemoConnectError(f"the sandbox did not answer at {settings.SANDBOX_URL} within {wait:.0f}s")
    result = DemoConnectResult()
    attention = set(connections.filter(status=ChannelConnection.Status.NEEDS_ATTENTION).values_list("pk", flat=True))
    new_listings: set[int] = set()
    resumed: set[int] = set()  # connection_resume queued their full sync already

    def step(name, fn):
        try:
            fn()
        except Exception as exc:  # the next steps still run; the caller reports what failed
            log.warning("demo set-up step %s failed: %s", name, exc)
            result.failed[name] = f"{exc.__class__.__name__}: {exc}"

    def listings():
        statuses = _create_listings(connections)
        new_listings.update(pk for pk, status in statuses.items() if status == 201)
        result.listings_new = len(new_listings)
        result.listings_known = sum(status == 200 for status in statuses.values())
        refused = {pk: status for pk, status in statuses.items() if status not in (200, 201)}
        if refused:
            raise DemoConnectError(f"the sandbox refused the listings of connections {refused}")

    def feeds():
        demo_publish_feed()
        result.feeds_published = len(demo_platforms(feeds=True))

    def oauth():
        stale = connections.filter(pk__in=new_listings | attention) | connections.filter(access_token="")
        expected = stale.filter(platform_type__in=registry.slugs(Capability.OAUTH)).count()
        result.oauth_connected = demo_connect_oauth(stale)
        if result.oauth_connected < expected:
            raise DemoConnectError(f"{expected - result.oauth_connected} OAuth connection(s) got no tokens")

    def resume():
        waiting = connections.filter(status=ChannelConnection.Status.NEEDS_ATTENTION)
        # An OAuth connection still without tokens would only fail again.
        waiting = waiting.exclude(platform_type__in=registry.slugs(Capability.OAUTH), access_token="")
        for connection in waiting:
            # Back to active through the one transition that tells listeners, then a full sync (a feed:
            # a pull, since it takes no pushes).
            connection_resume(connection=connection)
            resumed.add(connection.pk)
        result.resumed = len(resumed)

    def syncs():
        for connection in connections.filter(status=ChannelConnection.Status.ACTIVE).exclude(pk__in=resumed):
            pushes = Capability.PUSH_AVAILABILITY in adapter_class(connection.platform_type).capabilities
            if connection.pk in new_listings or connection.pk in attention or connection.last_push_at is None:
                sync_request(connection=connection, sync_type="full" if pushes else "bookings")
                result.syncs_requested += 1

    step("listings", listings)
    step("feeds", feeds)
    step("oauth", oauth)
    step("resume", resume)
    step("syncs", syncs)
    return result
