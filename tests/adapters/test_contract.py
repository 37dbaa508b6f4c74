"""One contract, every platform: each adapter against the live sandbox (docs/platforms.md).

Parametrized over every adapter the registry discovers (``adapters.registry.adapters()``), so a new
platform folder is run through the contract without editing this file. Tests that need a capability a
platform does not have (pushes for iCal, OAuth for API-key platforms) are skipped by what this file
expects of each platform (``EXPECTED_CAPABILITIES``), never by what the adapter says of itself: a test
pins each adapter's declaration to that table, so a dropped capability fails instead of skipping. A
discovered platform missing from that table (or from the sandbox's, ``SANDBOX_PLATFORMS``) fails too:
a new platform pins what it does here, on purpose.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import itertools
import math
import random
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from adapters.base import (
    AvailabilityRange,
    AvailabilityUpdate,
    BookingNotFoundError,
    BookingStatus,
    Capability,
    DayRange,
    NotificationKind,
    PlatformAccount,
    PlatformAPIError,
    PriceRange,
    PricingUpdate,
    TokenRefreshError,
    WebhookConfig,
    WebhookSignatureError,
)
from adapters.registry import adapter_class, adapters

from .conftest import GOOGLE_PUSH_ACCOUNT, SANDBOX_PLATFORMS

_PUSH = {
    Capability.PUSH_AVAILABILITY,
    Capability.PUSH_PRICING,
    Capability.PUSH_RESTRICTIONS,
    Capability.PER_NIGHT_PRICE,
    Capability.CLOSED_TO_ARRIVAL_DEPARTURE,
    Capability.PUSH_MAX_STAY,
}
_RATE_PLANS = Capability.RATE_PLAN_RESTRICTIONS  # OTA's RatePlanCode, EQC's RatePlan@id
_READS = Capability.READ_PRICES  # EQC PARR: reconcile compares the rates held
_READS_RESTRICTIONS = Capability.READ_RESTRICTIONS  # EQC PARR: and the maximum stays held
# What each platform can do, from docs/platforms.md: the tests skip by this table, not by the adapter.
EXPECTED_CAPABILITIES = {
    # A catch-up poll behind the webhooks (docs/platforms.md "Catch-up polls"): PULL_BOOKINGS.
    "airbnb": {*_PUSH, Capability.WEBHOOKS, Capability.PULL_BOOKINGS, Capability.OAUTH},
    "booking_com": {
        *_PUSH,
        _RATE_PLANS,
        Capability.WEBHOOKS,
        Capability.PULL_BOOKINGS,
        Capability.ACKNOWLEDGE,
        Capability.BATCH_LISTINGS,  # a hotel's room types in one OTA request
    },
    "expedia": {
        *_PUSH,
        _RATE_PLANS,
        Capability.WEBHOOKS,
        Capability.PULL_BOOKINGS,
        Capability.ACKNOWLEDGE,
        _READS,
        _READS_RESTRICTIONS,
        Capability.BATCH_LISTINGS,  # a hotel's room types in one AR request
    },
    "fewo_direkt": {*_PUSH, Capability.WEBHOOKS, Capability.PULL_BOOKINGS},
    "google": {*_PUSH, _RATE_PLANS, Capability.WEBHOOKS, Capability.PULL_BOOKINGS, Capability.OAUTH},
    "ical": {Capability.PULL_BOOKINGS, Capability.SNAPSHOT_FEED},
}

# The longest maximum stay each platform takes (docs/platforms.md): ours is capped there.
EXPECTED_MAX_STAY_CEILING = {"airbnb": 1125, "booking_com": 90, "expedia": 28, "fewo_direkt": 365, "google": 365}

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"
START = dt.date.today() + dt.timedelta(days=60)
_listing_numbers = itertools.count(random.randint(10_000, 90_000) * 1000)


# Every platform the registry finds (its folders), in folder order.
SLUGS = list(adapters())


def test_every_discovered_platform_pins_its_declarations_here():
    """A new platform folder is picked up by discovery; this fails until its capabilities and its
    sandbox facts are pinned in the two tables, and when a pinned platform's folder is gone."""
    assert SLUGS, "the registry found no adapter"
    assert set(SLUGS) - set(EXPECTED_CAPABILITIES) == set(), "add it to EXPECTED_CAPABILITIES"
    assert set(SLUGS) - set(SANDBOX_PLATFORMS) == set(), "add it to tests/adapters/conftest.py SANDBOX_PLATFORMS"
    assert set(EXPECTED_CAPABILITIES) - set(SLUGS) == set(), "pinned, but the registry does not find it"
    assert set(SANDBOX_PLATFORMS) - set(SLUGS) == set(), "pinned, but the registry does not find it"


@pytest.mark.parametrize("slug", SLUGS)
def test_every_adapter_declares_exactly_the_capabilities_the_contract_expects(slug):
    assert slug in EXPECTED_CAPABILITIES, f"{slug} is not pinned in EXPECTED_CAPABILITIES"
    assert set(adapter_class(slug).capabilities) == EXPECTED_CAPABILITIES[slug]


def expects(slug: str, capability: Capability) -> bool:
    """What this file expects of the platform (a platform not pinned yet fails, it never skips)."""
    assert slug in EXPECTED_CAPABILITIES, f"{slug} is not pinned in EXPECTED_CAPABILITIES"
    return capability in EXPECTED_CAPABILITIES[slug]


def is_feed(slug: str) -> bool:
    """A feed (iCal) names its events by UID only and carries no guest, no price and no status."""
    return expects(slug, Capability.SNAPSHOT_FEED)


def day(offset: int) -> dt.date:
    return START + dt.timedelta(days=offset)


def nights(first: int, end: int) -> DayRange:
    return DayRange(day(first), day(end))


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(params=SLUGS)
def slug(request):
    return request.param


@pytest.fixture
def platform(slug):
    assert slug in SANDBOX_PLATFORMS, f"{slug} is not pinned in SANDBOX_PLATFORMS"
    return SANDBOX_PLATFORMS[slug]


@pytest.fixture
def control_slug(slug, platform):
    return platform.control_slug or slug


@pytest.fixture
def listing_id(sandbox, control_slug):
    listing = str(next(_listing_numbers))
    response = requests.post(f"{sandbox}/_control/{control_slug}/listings", json={"listing_id": listing}, timeout=10)
    assert response.status_code in (200, 201), response.text
    return listing


def plain_account(sandbox, slug, platform, listing_id) -> PlatformAccount:
    credentials = platform.credentials
    if platform.control_slug:  # a feed of another platform's listing, served by the sandbox (a credential)
        feed_url = f"{sandbox}/{slug}/{platform.control_slug}/{listing_id}.ics"
        credentials = dataclasses.replace(credentials, feed_url=feed_url)
    return PlatformAccount(
        listing_id=listing_id,
        credentials=credentials,
        base_url=f"{sandbox}/{slug}",
        metadata=dict(platform.metadata),
        oauth_client_id=platform.oauth_client_id,
        oauth_client_secret=platform.oauth_client_secret,
        allow_private_network=True,
    )


def connect(account: PlatformAccount, slug: str) -> PlatformAccount:
    """Run the OAuth code flow the way a person would, and store the tokens on the account."""
    cls = adapter_class(slug)
    url = cls.authorize_url(
        base_url=account.base_url, client_id=account.oauth_client_id, redirect_uri=REDIRECT_URI, state="contract"
    )
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["contract"]
    tokens = cls(account).exchange_code(code=query["code"][0], redirect_uri=REDIRECT_URI)
    return with_tokens(account, tokens)


def with_tokens(account, tokens) -> PlatformAccount:
    credentials = dataclasses.replace(
        account.credentials,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        access_token_expires_at=tokens.expires_at,
    )
    return dataclasses.replace(account, credentials=credentials)


@pytest.fixture
def account(sandbox, slug, platform, listing_id):
    account = plain_account(sandbox, slug, platform, listing_id)
    if expects(slug, Capability.OAUTH):
        account = connect(account, slug)
    return account


@pytest.fixture
def adapter(slug, account):
    return adapter_class(slug)(account)


def needs(adapter, capability: Capability):
    if not expects(adapter.slug, capability):
        pytest.skip(f"{adapter.slug} does not have {capability.value}")


# --- sandbox control and state --------------------------------------------------------------


def book(sandbox, control_slug, listing_id, first, end, guest="Alice Archer") -> str:
    response = requests.post(
        f"{sandbox}/_control/{control_slug}/reservations",
        json={
            "listing_id": listing_id,
            "check_in": day(first).isoformat(),
            "check_out": day(end).isoformat(),
            "guest_name": guest,
            "guest_email": "guest@example.com",
            "guests": 2,
            "total": "480.00",
            "currency": "EUR",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def calendar(sandbox, slug, listing_id, first, end) -> dict[dt.date, dict]:
    response = requests.get(
        f"{sandbox}/_state/{slug}/listings/{listing_id}/calendar",
        params={"start": day(first).isoformat(), "end": day(end).isoformat()},
        timeout=10,
    )
    response.raise_for_status()
    return {dt.date.fromisoformat(d["date"]): d for d in response.json()["days"]}


def requests_total(sandbox, slug) -> int:
    response = requests.get(f"{sandbox}/_state/{slug}/stats", timeout=10)
    response.raise_for_status()
    return response.json()["requests_total"]


def all_bookings(adapter, pages=20):
    found, cursor = [], None
    for _ in range(pages):
        page = adapter.fetch_bookings(cursor=cursor)
        found.extend(page.bookings)
        cursor = page.cursor
        if cursor is None:
            return found
    raise AssertionError(f"still paging after {pages} pages")


# --- bookings -------------------------------------------------------------------------------


def test_it_fetches_one_booking_made_on_the_platform(sandbox, slug, control_slug, listing_id, adapter):
    reservation = book(sandbox, control_slug, listing_id, 1, 4)
    if is_feed(slug):
        # A feed names its events by UID only: find the block by its dates, then fetch it by UID.
        [block] = [b for b in adapter.fetch_bookings().bookings if b.check_in == day(1)]
        reservation = block.channel_booking_id
    booking = adapter.fetch_booking(reservation)
    assert booking.channel_booking_id == reservation
    assert booking.platform == slug
    assert booking.listing_id == listing_id
    assert booking.status is BookingStatus.CONFIRMED
    assert (booking.check_in, booking.check_out) == (day(1), day(4))
    assert booking.version
    if is_feed(slug):
        assert booking.kind == "block"
    else:
        assert booking.kind == "reservation"
        assert "Archer" in booking.guest.name
        assert booking.total_amount == Decimal("480.00")
        assert booking.currency == "EUR"


def test_an_unknown_booking_is_not_found(sandbox, adapter):
    with pytest.raises(BookingNotFoundError) as caught:
        adapter.fetch_booking("987654321")
    assert caught.value.permanent


def test_it_fetches_many_bookings_page_by_page(sandbox, slug, control_slug, listing_id, adapter):
    stays = [(1, 3), (5, 8), (10, 12)]
    made = [book(sandbox, control_slug, listing_id, a, b, guest=f"Guest {i}") for i, (a, b) in enumerate(stays)]
    found = all_bookings(adapter)
    if is_feed(slug):
        assert {(b.check_in, b.check_out) for b in found} >= {(day(a), day(b)) for a, b in stays}
        assert all(b.kind == "block" for b in found)
    else:
        by_id = {b.channel_booking_id: b for b in found}
        assert set(made) <= set(by_id)
        assert [(by_id[r].check_in, by_id[r].check_out) for r in made] == [(day(a), day(b)) for a, b in stays]


def test_modified_and_cancelled_bookings_come_back_changed(sandbox, slug, control_slug, listing_id, adapter):
    moved = book(sandbox, control_slug, listing_id, 1, 3)
    dropped = book(sandbox, control_slug, listing_id, 6, 8)
    before = {b.channel_booking_id: b for b in all_bookings(adapter)}
    control = f"{sandbox}/_control/{control_slug}/reservations"
    requests.post(f"{control}/{moved}/modify", json={"check_out": day(4).isoformat()}, timeout=10).raise_for_status()
    requests.post(f"{control}/{dropped}/cancel", timeout=10).raise_for_status()
    after = all_bookings(adapter)
    if is_feed(slug):
        spans = {(b.check_in, b.check_out) for b in after}
        assert (day(1), day(4)) in spans
        assert (day(6), day(8)) not in spans  # a cancelled stay leaves the feed
        return
    after_by_id = {b.channel_booking_id: b for b in after}
    assert after_by_id[moved].check_out == day(4)
    # Not strictly newer: Booking.com and Expedia version by a timestamp in whole seconds, so a change
    # within the same second keeps the version. Importers may ignore only strictly older versions.
    assert after_by_id[moved].version >= before[moved].version
    assert after_by_id[dropped].status is BookingStatus.CANCELLED


# --- outbound -------------------------------------------------------------------------------


def test_it_pushes_availability_over_several_ranges(sandbox, slug, listing_id, adapter):
    needs(adapter, Capability.PUSH_AVAILABILITY)
    restrictions = expects(adapter.slug, Capability.PUSH_RESTRICTIONS)
    update = AvailabilityUpdate(
        listing_id,
        (
            AvailabilityRange(nights(0, 3), available=False),
            AvailabilityRange(nights(3, 6), available=True, min_stay=2 if restrictions else 1),
            AvailabilityRange(
                nights(8, 10), available=True, closed_to_arrival=restrictions, closed_to_departure=restrictions
            ),
            AvailabilityRange(nights(12, 13), available=True, stop_sell=restrictions),
        ),
    )
    assert adapter.update_availability(update) == 1
    days = calendar(sandbox, slug, listing_id, 0, 13)
    assert [days[day(i)]["available"] for i in range(0, 6)] == [False] * 3 + [True] * 3
    assert days[day(8)]["available"] and days[day(9)]["available"]
    if restrictions:
        assert [days[day(i)]["min_stay"] for i in range(3, 6)] == [2, 2, 2]
        assert days[day(8)]["closed_to_arrival"] and days[day(9)]["closed_to_arrival"]
        assert days[day(8)]["closed_to_departure"]
        assert not days[day(12)]["available"]  # stop-sold: a guest cannot book it


def test_it_splits_a_long_update_into_max_batch_requests(sandbox, slug, listing_id, adapter):
    needs(adapter, Capability.PUSH_AVAILABILITY)
    if adapter.max_batch > 200:
        pytest.skip(f"max_batch {adapter.max_batch} needs too many nights for a live test")
    count = adapter.max_batch + 1
    # Alternating values, so no adapter can merge neighbours into fewer ranges.
    ranges = tuple(AvailabilityRange(nights(i, i + 1), available=i % 2 == 0) for i in range(count))
    before = requests_total(sandbox, slug)
    assert adapter.update_availability(AvailabilityUpdate(listing_id, ranges)) == math.ceil(count / adapter.max_batch)
    assert requests_total(sandbox, slug) - before == 2
    days = calendar(sandbox, slug, listing_id, count - 2, count)
    assert [days[day(i)]["available"] for i in (count - 2, count - 1)] == [(count - 2) % 2 == 0, (count - 1) % 2 == 0]


def test_it_pushes_prices(sandbox, slug, listing_id, adapter):
    needs(adapter, Capability.PUSH_PRICING)
    update = PricingUpdate(
        listing_id,
        (
            PriceRange(nights(0, 5), Decimal("120"), "EUR"),
            PriceRange(nights(5, 7), Decimal("99.50"), "EUR"),
        ),
    )
    assert adapter.update_pricing(update) == 1
    days = calendar(sandbox, slug, listing_id, 0, 7)
    assert [days[day(i)]["price"] for i in range(7)] == ["120.00"] * 5 + ["99.50"] * 2
    assert {days[day(i)]["currency"] for i in range(7)} == {"EUR"}


def test_it_reads_back_the_prices_it_pushed(sandbox, slug, listing_id, adapter):
    """What reconcile compares: the rate the platform holds on each night, none where it has none."""
    needs(adapter, Capability.READ_PRICES)
    prices = (PriceRange(nights(1, 3), Decimal("179"), "EUR"), PriceRange(nights(3, 4), Decimal("99.50"), "EUR"))
    adapter.update_pricing(PricingUpdate(listing_id, prices))
    held = adapter.fetch_prices(start=day(0), end=day(5))
    assert held == {day(1): Decimal(179), day(2): Decimal(179), day(3): Decimal("99.50")}
    # Past Expedia's 365 days per answer, the adapter asks again.
    far = PriceRange(DayRange(day(400), day(401)), Decimal("88"), "EUR")
    adapter.update_pricing(PricingUpdate(listing_id, (far,)))
    assert adapter.fetch_prices(start=day(0), end=day(402))[day(400)] == Decimal(88)


# --- webhooks -------------------------------------------------------------------------------


def webhook_config(sandbox, slug, platform, receiver, *, wrong=False, rotation=False) -> WebhookConfig:
    if platform.webhook_proof == "hmac":
        secrets = ("not-the-secret",) if wrong else platform.webhook_secrets
        return WebhookConfig(secrets=("rotated-out-secret", *secrets) if rotation else secrets)
    if platform.webhook_proof == "credentials":
        password = "not-the-password" if wrong else platform.webhook_password
        return WebhookConfig(username=platform.webhook_username, password=password)
    if platform.webhook_proof == "jwt":
        jwks = requests.get(f"{sandbox}/{slug}/oauth2/v3/certs", timeout=10).json()
        audience = f"{receiver.base_url}/webhooks/{adapter_class(slug).webhook_path}"
        return WebhookConfig(
            audience="https://elsewhere.test/webhooks/google" if wrong else audience,
            service_account_email=GOOGLE_PUSH_ACCOUNT,
            jwks=jwks,
        )
    return WebhookConfig()


def tampered(platform, hook):
    """The same webhook with its proof broken (or, where the body is signed, its body changed)."""
    headers, body = dict(hook.headers), hook.body
    if platform.webhook_proof == "hmac":
        body = body[:-1] + b" " + body[-1:]
    elif platform.webhook_proof == "credentials":
        assert platform.webhook_password.encode() in body
        body = body.replace(platform.webhook_password.encode(), b"forged-password")
    elif platform.webhook_proof == "jwt":
        name = next(k for k in headers if k.lower() == "authorization")
        token = headers[name]
        headers[name] = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    return headers, body


@pytest.fixture
def webhook(sandbox, slug, control_slug, listing_id, adapter, webhook_receiver):
    """The webhook the platform sent for a new reservation: (reservation id, captured request)."""
    needs(adapter, Capability.WEBHOOKS)
    reservation = book(sandbox, control_slug, listing_id, 1, 3)
    # The platform calls the path the adapter declares: a wrong ``webhook_path`` never sees it.
    return reservation, webhook_receiver.wait_for(f"/webhooks/{adapter_class(slug).webhook_path}")


def verify(slug, hook, config, *, now=None, headers=None, body=None):
    adapter_class(slug).verify_webhook_signature(
        headers=hook.headers if headers is None else headers,
        body=hook.body if body is None else body,
        config=config,
        now=now or hook.received_at,
    )


def test_a_captured_webhook_verifies_and_parses(sandbox, slug, platform, webhook, webhook_receiver):
    reservation, hook = webhook
    verify(slug, hook, webhook_config(sandbox, slug, platform, webhook_receiver))
    notifications = adapter_class(slug).parse_webhook(headers=hook.headers, body=hook.body)
    assert notifications
    assert all(n.platform == slug and n.event_key for n in notifications)
    assert any(
        n.channel_booking_id == reservation and n.kind in (NotificationKind.BOOKING_CREATED, NotificationKind.PULL_NOW)
        for n in notifications
    ) or any(n.kind is NotificationKind.PULL_NOW for n in notifications)


def test_a_tampered_webhook_is_rejected(sandbox, slug, platform, webhook, webhook_receiver):
    if not platform.webhook_proof:
        pytest.skip(f"{slug} webhooks carry no proof to tamper with")
    headers, body = tampered(platform, webhook[1])
    with pytest.raises(WebhookSignatureError):
        verify(slug, webhook[1], webhook_config(sandbox, slug, platform, webhook_receiver), headers=headers, body=body)


def test_a_webhook_checked_against_the_wrong_secret_is_rejected(sandbox, slug, platform, webhook, webhook_receiver):
    if not platform.webhook_proof:
        pytest.skip(f"{slug} webhooks carry no proof")
    with pytest.raises(WebhookSignatureError):
        verify(slug, webhook[1], webhook_config(sandbox, slug, platform, webhook_receiver, wrong=True))


def test_a_replayed_webhook_is_rejected(sandbox, slug, platform, webhook, webhook_receiver):
    if platform.replay_window_seconds is None:
        pytest.skip(f"{slug} webhooks carry no timestamp; duplicates are caught by event key")
    later = webhook[1].received_at + dt.timedelta(seconds=platform.replay_window_seconds + 60)
    with pytest.raises(WebhookSignatureError):
        verify(slug, webhook[1], webhook_config(sandbox, slug, platform, webhook_receiver), now=later)


def test_a_webhook_stamped_in_the_future_is_rejected(sandbox, slug, platform, webhook, webhook_receiver):
    if platform.replay_window_seconds is None:
        pytest.skip(f"{slug} webhooks carry no timestamp")
    earlier = webhook[1].received_at - dt.timedelta(seconds=platform.replay_window_seconds + 60)
    with pytest.raises(WebhookSignatureError):
        verify(slug, webhook[1], webhook_config(sandbox, slug, platform, webhook_receiver), now=earlier)


def test_either_secret_verifies_during_a_rotation(sandbox, slug, platform, webhook, webhook_receiver):
    if platform.webhook_proof != "hmac":
        pytest.skip(f"{slug} has no rotating HMAC secret")
    verify(slug, webhook[1], webhook_config(sandbox, slug, platform, webhook_receiver, rotation=True))


def test_a_redelivered_webhook_has_the_same_event_key(sandbox, slug, webhook, webhook_receiver):
    _reservation, first = webhook
    path = f"/webhooks/{adapter_class(slug).webhook_path}"
    requests.post(f"{sandbox}/_control/{slug}/webhooks/replay/1", timeout=10).raise_for_status()
    again = webhook_receiver.wait_for(path, lambda hook: hook is not first and hook.received_at > first.received_at)
    assert again.body == first.body
    parse = adapter_class(slug).parse_webhook
    assert [n.event_key for n in parse(headers=again.headers, body=again.body)] == [
        n.event_key for n in parse(headers=first.headers, body=first.body)
    ]


# --- auth and health ------------------------------------------------------------------------


def test_the_health_check_passes_with_sandbox_credentials(adapter):
    result = adapter.check_health()
    assert result.healthy, result.message


def test_a_platform_outage_is_a_transient_error(sandbox, slug, adapter):
    requests.post(f"{sandbox}/_control/{slug}/faults", json={"down": True}, timeout=10).raise_for_status()
    try:
        with pytest.raises(PlatformAPIError) as caught:
            adapter.fetch_bookings()
        assert not caught.value.permanent
        assert not adapter.check_health().healthy
    finally:
        requests.delete(f"{sandbox}/_control/{slug}/faults", timeout=10)


def test_a_rate_limited_call_is_transient_and_says_when_to_retry(sandbox, slug, platform, adapter):
    if platform.rate_limit is None:
        pytest.skip(f"{slug} has no rate limit")
    allowed, _seconds = platform.rate_limit

    def call(_):
        try:
            adapter.fetch_bookings()
        except PlatformAPIError as exc:
            return exc
        return None

    # Parallel calls, so a slow machine still outruns a per-second limit.
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        errors = [e for e in pool.map(call, range(allowed * 3)) if e is not None]
    assert errors, f"{allowed * 3} calls and no 429"
    assert all(e.status == 429 and not e.permanent for e in errors), [str(e) for e in errors]
    assert all(e.retry_after is not None and e.retry_after > 0 for e in errors)


def test_an_expired_token_is_refreshed_and_the_call_retried(sandbox, slug, account, adapter):
    needs(adapter, Capability.OAUTH)
    requests.post(f"{sandbox}/_control/{slug}/tokens/expire", timeout=10).raise_for_status()
    with pytest.raises(PlatformAPIError) as caught:
        adapter.fetch_bookings()
    assert caught.value.code == "token_expired"
    assert not caught.value.permanent
    tokens = adapter.refresh_access_token()
    assert tokens.access_token != account.credentials.access_token
    assert tokens.refresh_token != account.credentials.refresh_token
    fresh = adapter_class(slug)(with_tokens(account, tokens))
    fresh.fetch_bookings()
    assert fresh.check_health().healthy


def test_a_used_refresh_token_is_refused(sandbox, slug, adapter):
    needs(adapter, Capability.OAUTH)
    adapter.refresh_access_token()
    with pytest.raises(TokenRefreshError) as caught:
        adapter.refresh_access_token()  # the same, now spent, refresh token
    assert caught.value.permanent


def test_an_api_key_platform_has_no_token_to_refresh(adapter):
    if expects(adapter.slug, Capability.OAUTH):
        pytest.skip(f"{adapter.slug} uses OAuth")
    with pytest.raises(TokenRefreshError):
        adapter.refresh_access_token()


def test_a_payload_the_platform_refuses_is_a_permanent_error(sandbox, slug, listing_id, adapter):
    """Overlapping ranges: either the adapter refuses them before sending, or the platform answers
    with its own error format and the adapter surfaces it as permanent (never retried)."""
    needs(adapter, Capability.PUSH_AVAILABILITY)
    before = requests.get(f"{sandbox}/_state/{slug}/stats", timeout=5).json()
    update = AvailabilityUpdate(
        listing_id,
        (AvailabilityRange(nights(0, 5), available=False), AvailabilityRange(nights(3, 8), available=True)),
    )
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_availability(update)
    assert caught.value.permanent
    after = requests.get(f"{sandbox}/_state/{slug}/stats", timeout=5).json()
    sent = after["requests_total"] - before["requests_total"]
    # Nothing half-applied: if it was sent, the platform refused it as invalid.
    assert sent == after["invalid_payloads"] - before["invalid_payloads"]
    assert all(day["available"] for day in calendar(sandbox, slug, listing_id, 0, 8).values())


# --- maximum stay and money per currency ----------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_every_platform_that_takes_a_maximum_stay_pins_its_ceiling(slug):
    ceiling = adapter_class(slug).max_stay_ceiling
    if expects(slug, Capability.PUSH_MAX_STAY):
        assert ceiling == EXPECTED_MAX_STAY_CEILING[slug]
    else:
        assert ceiling is None and slug not in EXPECTED_MAX_STAY_CEILING


def test_it_pushes_the_maximum_stay_up_to_its_ceiling(sandbox, slug, listing_id, adapter):
    """At 1, at 30, at the platform's ceiling, beyond it and unset: beyond and unset go out as the ceiling."""
    needs(adapter, Capability.PUSH_MAX_STAY)
    ceiling = EXPECTED_MAX_STAY_CEILING[slug]
    asked = [1, 30, ceiling, ceiling + 1, None]
    update = AvailabilityUpdate(
        listing_id,
        tuple(
            AvailabilityRange(nights(2 * i, 2 * i + 2), available=True, max_stay=stay) for i, stay in enumerate(asked)
        ),
    )
    assert adapter.update_availability(update) == 1
    days = calendar(sandbox, slug, listing_id, 0, 2 * len(asked))
    expected = [min(stay or ceiling, ceiling) for stay in asked]
    assert [days[day(2 * i)]["max_stay"] for i in range(len(asked))] == expected
    assert [days[day(2 * i + 1)]["max_stay"] for i in range(len(asked))] == expected


def test_a_guest_cannot_book_past_the_pushed_maximum_stay(sandbox, slug, control_slug, listing_id, adapter):
    needs(adapter, Capability.PUSH_MAX_STAY)
    update = AvailabilityUpdate(listing_id, (AvailabilityRange(nights(0, 10), available=True, max_stay=3),))
    adapter.update_availability(update)
    response = requests.post(
        f"{sandbox}/_control/{control_slug}/reservations",
        json={
            "listing_id": listing_id,
            "check_in": day(1).isoformat(),
            "check_out": day(5).isoformat(),
            "guest_name": "Long Stayer",
            "total": "480.00",
        },
        timeout=10,
    )
    assert response.status_code == 409, response.text
    book(sandbox, control_slug, listing_id, 1, 4)  # three nights are fine


@pytest.mark.parametrize(
    ("amount", "currency", "wire"),
    [("12000", "JPY", "12000"), ("12000.000", "JPY", "12000"), ("120.5", "EUR", "120.50"), ("12.345", "KWD", "12.345")],
)
def test_it_pushes_prices_with_exactly_their_currencys_decimals(
    sandbox, slug, listing_id, adapter, amount, currency, wire
):
    """The sandbox takes a price only with its currency's ISO 4217 decimals (JPY 12000, never 12000.00)."""
    needs(adapter, Capability.PUSH_PRICING)
    update = PricingUpdate(listing_id, (PriceRange(nights(0, 3), Decimal(amount), currency),))
    assert adapter.update_pricing(update) == 1
    days = calendar(sandbox, slug, listing_id, 0, 3)
    assert [(days[day(i)]["price"], days[day(i)]["currency"]) for i in range(3)] == [(wire, currency)] * 3


@pytest.mark.parametrize(("amount", "currency"), [("12000.50", "JPY"), ("120.005", "EUR"), ("12.3456", "KWD")])
def test_a_price_with_more_decimals_than_its_currency_is_refused_before_sending(
    sandbox, slug, listing_id, adapter, amount, currency
):
    needs(adapter, Capability.PUSH_PRICING)
    before = requests_total(sandbox, slug)
    with pytest.raises(PlatformAPIError) as caught:
        adapter.update_pricing(PricingUpdate(listing_id, (PriceRange(nights(0, 3), Decimal(amount), currency),)))
    assert caught.value.permanent and currency in str(caught.value)
    assert requests_total(sandbox, slug) == before


def test_it_reads_back_the_maximum_stays_it_holds(sandbox, slug, listing_id, adapter):
    needs(adapter, Capability.READ_RESTRICTIONS)
    ceiling = EXPECTED_MAX_STAY_CEILING[slug]
    update = AvailabilityUpdate(
        listing_id,
        (AvailabilityRange(nights(0, 2), available=True, max_stay=5), AvailabilityRange(nights(2, 3), available=True)),
    )
    adapter.update_availability(update)
    held = adapter.fetch_max_stays(start=day(0), end=day(5))
    assert held == {day(0): 5, day(1): 5, day(2): ceiling}
