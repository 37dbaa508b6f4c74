"""Create, change, pause, test and sync channel connections (keyword-only services).

Credentials pass through here as plain strings and are encrypted by the model field; nothing here logs
them, and every message stored or returned goes through ``redact`` first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from adapters import registry
from adapters.base import Capability, HealthResult, PlatformAPIError, TokenSet
from channelmgr.accounts import redact, secrets_of, sync_window
from channelmgr.models import CREDENTIAL_FIELDS, ChannelConnection, DirtyRange, SyncLog, listing_key
from channelmgr.price_rules import PRICE_RULE_FIELDS, PriceRule, Rounding, price_rule_check, rule_of, unit_prices
from channelmgr.resilience.guard import Backpressure
from channelmgr.resilience.platform_calls import platform_call
from channelmgr.services.connections_health import connection_recover
from channelmgr.services.mapping import mapping_check
from channelmgr.services.sync_logs import sync_log_finish
from config.logging import get_correlation_id
from pms_core.models import Organization, Unit
from pms_core.services.catalog import property_today

log = logging.getLogger(__name__)

SYNC_TYPES = ("full", "availability", "pricing", "bookings")
# What ``connection_update`` may change besides credentials (the unit and platform never change).
UPDATABLE_FIELDS = (
    "platform_listing_id",
    "platform_metadata",
    "token_expires_at",
    "rate_limit",
    "rate_window",
    *PRICE_RULE_FIELDS,
)


class ConnectionStateError(Exception):
    """The connection's status does not allow the operation (the API answers 409)."""


# --- validation ---------------------------------------------------------------------------------


def _validate_platform(platform_type: str, metadata: dict, feed_url: str | None) -> None:
    platform = registry.adapters().get(platform_type)
    if platform is None:
        raise ValidationError({"platform_type": f"unknown platform {platform_type!r}"})
    if not settings.PLATFORMS.get(platform_type, {}).get("enabled", True):
        raise ValidationError({"platform_type": f"{platform_type} is disabled on this installation"})
    if not isinstance(metadata, dict):
        raise ValidationError({"platform_metadata": "must be a JSON object"})
    if "feed_url" in metadata:  # it was once; it carries a secret token, so it is a credential now
        raise ValidationError({"platform_metadata": "feed_url is a credential: send it as the write-only feed_url"})
    if Capability.SNAPSHOT_FEED in platform.capabilities and feed_url is not None:
        # A feed is read whole from its URL, a credential (its token lets anyone read the calendar).
        try:
            url = urlsplit(feed_url)
        except ValueError:  # an unbalanced or non-IP "[...]" host
            url = urlsplit("")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValidationError({"feed_url": f"{platform_type} reads a feed: it needs an http(s) feed_url"})


MAX_METADATA_BYTES = 16_384
MAX_METADATA_DEPTH = 10


def metadata_storable(metadata) -> None:
    """Raises ``ValidationError`` on ``platform_metadata`` for what Postgres' jsonb refuses (NUL
    characters, lone surrogates: a server error otherwise) or what is too large to be a mapping."""
    if not isinstance(metadata, dict):
        raise ValidationError({"platform_metadata": "Must be a JSON object."})
    # First, without recursion: a mapping is a few levels deep, and a deeper one would exhaust the stack
    # of whatever walks it next (the size check here, the database adapter: a server error).
    level, depth = [metadata], 0
    while level:
        depth += 1
        if depth > MAX_METADATA_DEPTH:
            raise ValidationError({"platform_metadata": f"At most {MAX_METADATA_DEPTH} levels of nesting."})
        level = [
            item
            for value in level
            for item in (value.values() if isinstance(value, dict) else value)
            if isinstance(item, dict | list)
        ]
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise ValidationError({"platform_metadata": f"At most {MAX_METADATA_BYTES} bytes."})

    def walk(value, path: str) -> None:
        if isinstance(value, str):
            if "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
                raise ValidationError(
                    {"platform_metadata": f"{path}: NUL characters and lone surrogates are not allowed."}
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key, path)
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for item in value:
                walk(item, path)

    walk(metadata, "platform_metadata")


def connection_validate(
    *,
    unit: Unit,
    platform_type: str,
    platform_listing_id: str,
    platform_metadata: dict,
    credentials: Mapping[str, str] | None = None,
    connection: ChannelConnection | None = None,
    price_rule: PriceRule | None = None,
    feed_url: str | None = None,
) -> None:
    """Raise ``ValidationError`` (field errors) for what ``connection_create`` and ``connection_update``
    refuse: an unknown or disabled platform, bad metadata, a price rule that gives an absurd price for
    one of the unit's prices, or a unit or listing that already has a live connection. ``connection`` is
    the one being changed, if any. Both services run it before they write; a form runs it too, to show
    the errors on its fields. ``feed_url``: the feed URL the connection will have (a credential), checked
    for a feed platform; None leaves it unchecked."""
    metadata_storable(platform_metadata)
    _validate_platform(platform_type, platform_metadata, feed_url)
    # The platform's own limits on codes and credentials (``credentials``: the ones being set).
    mapping_check(
        platform_type=platform_type,
        platform_listing_id=platform_listing_id,
        platform_metadata=platform_metadata,
        credentials=credentials or {},
        creating=connection is None,
    )
    if price_rule is not None and not price_rule.is_identity:
        bases = unit_prices(unit, since=property_today(unit.property))
        price_rule_check(price_rule, bases=bases, currency=unit.property.currency)
    if connection is not None and connection.status == ChannelConnection.Status.DELETED:
        return  # a deleted row holds nothing: the unique constraints leave it out as well
    _validate_unique(
        unit=unit,
        platform_type=platform_type,
        key=listing_key(platform_type, platform_listing_id, platform_metadata),
        exclude_pk=connection.pk if connection is not None else None,
    )


def _validate_unique(*, unit: Unit, platform_type: str, key: str | None, exclude_pk: int | None) -> None:
    """Clean 400s for what the database's unique constraints would refuse."""
    live = ChannelConnection.objects.exclude(status=ChannelConnection.Status.DELETED).exclude(pk=exclude_pk)
    if live.filter(unit=unit, platform_type=platform_type).exists():
        raise ValidationError({"platform_type": f"this unit already has a {platform_type} connection"})
    if key is not None and live.filter(platform_type=platform_type, listing_key=key).exists():
        raise ValidationError({"platform_listing_id": "this listing is already connected"})


def _save(connection: ChannelConnection, **kwargs) -> None:
    try:
        with transaction.atomic():
            connection.save(**kwargs)
    except IntegrityError as exc:
        # A concurrent create won the race past connection_validate: same answer as the check.
        raise ValidationError({"platform_type": "this unit or listing already has a live connection"}) from exc


# --- create, update, delete ---------------------------------------------------------------------


def connection_create(
    *,
    organization: Organization,
    unit: Unit,
    platform_type: str,
    platform_listing_id: str,
    platform_metadata: dict | None = None,
    credentials: dict[str, str] | None = None,
    token_expires_at: dt.datetime | None = None,
    rate_limit: int | None = None,
    rate_window: float | None = None,
    **price_rule,
) -> ChannelConnection:
    """Connect ``unit`` to its listing. Raises ``ValidationError`` (field errors) for bad input.
    ``price_rule``: any of ``PRICE_RULE_FIELDS`` (``channelmgr.price_rules``)."""
    metadata = platform_metadata or {}
    if unit.property.organization_id != organization.pk:
        raise ValidationError({"unit": "unknown unit"})
    unknown = set(price_rule) - set(PRICE_RULE_FIELDS)
    if unknown:
        raise ValidationError({name: "not a field of a connection" for name in unknown})
    rate_override_check(rate_limit=rate_limit, rate_window=rate_window)
    rule = PriceRule(
        percent=Decimal(price_rule.get("price_rule_percent") or 0),
        amount=Decimal(price_rule.get("price_rule_amount") or 0),
        rounding=price_rule.get("price_rule_rounding") or Rounding.NONE,
    )
    connection_validate(
        unit=unit,
        platform_type=platform_type,
        platform_listing_id=platform_listing_id,
        platform_metadata=metadata,
        credentials=credentials,
        price_rule=rule,
        feed_url=(credentials or {}).get("feed_url", ""),
    )
    connection = ChannelConnection(
        organization=organization,
        unit=unit,
        platform_type=platform_type,
        platform_listing_id=platform_listing_id,
        platform_metadata=metadata,
        token_expires_at=token_expires_at,
        rate_limit=rate_limit,
        rate_window=rate_window,
        price_rule_percent=price_rule.get("price_rule_percent"),
        price_rule_amount=price_rule.get("price_rule_amount"),
        price_rule_rounding=rule.rounding,
    )
    for name, value in (credentials or {}).items():
        _set_credential(connection, name, value)
    _save(connection, force_insert=True)
    log.info("connection %s created (%s, unit %s)", connection.pk, platform_type, unit.pk)
    _after_a_former_connection(connection)
    return connection


def _after_a_former_connection(connection: ChannelConnection) -> None:
    """A listing connected again right after its former connection was deleted or re-mapped away: a
    request of that one may still land late, with its unit's nights. The new connection's window goes out
    once more after that (the window's first push is the sync window's, ``channelmgr.sync.window``)."""
    from channelmgr.sync.push import LATE_WRITE_SECONDS, pushed_kinds

    if connection.listing_key is None:
        return
    former = ChannelConnection.objects.filter(
        platform_type=connection.platform_type,
        listing_key=connection.listing_key,
        status=ChannelConnection.Status.DELETED,
        updated_at__gte=timezone.now() - dt.timedelta(seconds=LATE_WRITE_SECONDS),
    )
    if _listing_left_recently(connection.platform_type, connection.listing_key) or former.exists():
        kinds = pushed_kinds(connection.platform_type, [DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING])
        _push_window_again_later(connection, kinds)


def _listing_left(platform_type: str, listing_key: str | None) -> None:
    """A connection re-mapped away from ``listing_key``: its row no longer names the listing, so the cache
    remembers, for as long as a late write of its may land (``_after_a_former_connection``)."""
    from channelmgr.sync.push import LATE_WRITE_SECONDS

    if listing_key:
        try:
            cache.set(_listing_left_key(platform_type, listing_key), 1, timeout=LATE_WRITE_SECONDS + 5)
        except Exception:  # the cache down: the re-map still goes through; only this recheck is lost
            log.exception("could not note that listing %s was left", listing_key)


def _listing_left_key(platform_type: str, listing_key: str) -> str:
    """A listing key is the platform's text, any length and any character: the cache key takes its digest."""
    return f"connections:listing-left:{platform_type}:{hashlib.sha256(listing_key.encode()).hexdigest()}"


def _listing_left_recently(platform_type: str, listing_key: str) -> bool:
    try:
        return bool(cache.get(_listing_left_key(platform_type, listing_key)))
    except Exception:
        return False


def _set_credential(connection: ChannelConnection, name: str, value: str) -> None:
    if name not in CREDENTIAL_FIELDS:
        raise ValidationError({name: "not a credential field"})
    setattr(connection, name, value or "")


# A connection's own rate limit: requests per window seconds, as the API takes them. A zero would make
# every call to the platform fail in the limiter (nothing reaches it again).
RATE_LIMIT_BOUNDS = (1, 1_000_000)
RATE_WINDOW_BOUNDS = (0.001, 86_400.0)


def rate_override_check(*, rate_limit: int | None, rate_window: float | None) -> None:
    """Raises ``ValidationError`` naming the field for an override outside what the API takes."""
    for field, value, (low, high) in (
        ("rate_limit", rate_limit, RATE_LIMIT_BOUNDS),
        ("rate_window", rate_window, RATE_WINDOW_BOUNDS),
    ):
        if value is not None and not low <= value <= high:
            raise ValidationError({field: f"must be between {low:g} and {high:g}"})


def connection_update(*, connection: ChannelConnection, credentials: dict[str, str] | None = None, **fields):
    """Change the listing, metadata, rate limit or credentials.

    ``credentials``: a name left out keeps its value, an empty string clears it. Status, health and
    ownership are not fields of this service (pause/resume and the sync engine change those).
    """
    unknown = set(fields) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "this field cannot be changed" for name in unknown})
    rate_override_check(
        rate_limit=fields.get("rate_limit", connection.rate_limit),
        rate_window=fields.get("rate_window", connection.rate_window),
    )
    rule_before = rule_of(connection)
    mapping_before = (connection.platform_listing_id, connection.platform_metadata)
    listing_key_before = connection.listing_key
    changed = set()
    for name, value in fields.items():
        value = Rounding.NONE if name == "price_rule_rounding" and not value else value
        if getattr(connection, name) != value:
            changed.add(name)
        setattr(connection, name, value)
    connection_validate(
        unit=connection.unit,
        platform_type=connection.platform_type,
        platform_listing_id=connection.platform_listing_id,
        platform_metadata=connection.platform_metadata,
        credentials=credentials,
        connection=connection,
        # Checked when it changes: prices set since may meet an old rule (the push copes: price_rules).
        price_rule=rule_of(connection) if rule_of(connection) != rule_before else None,
        feed_url=(credentials or {}).get("feed_url", connection.feed_url),
    )
    for name, value in (credentials or {}).items():
        _set_credential(connection, name, value)
        changed.add(name)
    with transaction.atomic():
        # Only what this update changes: the row was read before validation, and writing it whole undid
        # what committed meanwhile (a delete brought the connection back; a token refresh's new,
        # single-use refresh token was replaced by the spent one). The lock orders this against them.
        current = ChannelConnection.objects.select_for_update().only("status").get(pk=connection.pk)
        connection.status = current.status
        if changed:
            _save(connection, update_fields=[*changed, "updated_at"])
        if (connection.platform_listing_id, connection.platform_metadata) != mapping_before:
            # Another listing, room or rate plan holds nothing we pushed yet: it gets the whole window. And
            # again once a request of the listing's former connection can no longer land late: staff may
            # just have moved it here from another unit (``push_again_if_handed_over``).
            _push_window(connection, [DirtyRange.Kind.AVAILABILITY, DirtyRange.Kind.PRICING], again=True)
            if listing_key_before != connection.listing_key:
                _listing_left(connection.platform_type, listing_key_before)
            # And its bookings are read whole, at once: the old listing's cursor and time mean nothing there.
            ChannelConnection.objects.filter(pk=connection.pk).update(
                sync_cursor="", pulled_through=None, last_polled_at=None
            )
            log.info("connection %s: now mapped to %s", connection.pk, connection.listing_key)
        elif rule_of(connection) != rule_before:
            # A new price rule changes what the platform should hold on every night.
            _push_window(connection, [DirtyRange.Kind.PRICING])
            log.info("connection %s: price rule now %s", connection.pk, rule_of(connection).describe())
    connection.refresh_from_db()  # what committed meanwhile (its status, its tokens) is what it answers with
    return connection


def _push_window(connection: ChannelConnection, kinds: list[str], *, again: bool = False) -> None:
    """Mark the connection's whole window dirty for those of ``kinds`` its platform takes; ``again``: once
    more after ``LATE_WRITE_SECONDS``."""
    from channelmgr.sync.outbound import mark_dirty  # the sync engine, loaded when first needed
    from channelmgr.sync.push import pushed_kinds

    kinds = pushed_kinds(connection.platform_type, kinds)
    if connection.status == ChannelConnection.Status.DELETED or not kinds:
        return
    start, end = sync_window(connection)
    mark_dirty(connection=connection, kinds=kinds, start=start, end=end)
    if again:
        _push_window_again_later(connection, kinds)


def _push_window_again_later(connection: ChannelConnection, kinds: list[str]) -> None:
    """The connection's whole window once more, after ``LATE_WRITE_SECONDS`` (``push_again_later``): past
    any late write of a former connection of its listing."""
    from channelmgr.sync.push import push_again_later

    start, end = sync_window(connection)
    for kind in kinds:
        push_again_later(connection, kind, [(start, end)], closes=kind == DirtyRange.Kind.AVAILABILITY)


def connection_delete(*, connection: ChannelConnection) -> None:
    """Soft delete: the row and its sync logs stay for the record; the unit may be connected again."""
    ChannelConnection.objects.filter(pk=connection.pk).update(
        status=ChannelConnection.Status.DELETED, updated_at=timezone.now()
    )
    connection.status = ChannelConnection.Status.DELETED


def connection_pause(*, connection: ChannelConnection) -> ChannelConnection:
    """Stop pushing and pulling. Pausing a paused connection changes nothing."""
    # Held to close-outs no more: paused, it gets nothing, and its resume sends the whole window.
    ChannelConnection.objects.filter(pk=connection.pk).exclude(status=ChannelConnection.Status.DELETED).update(
        status=ChannelConnection.Status.PAUSED, closeouts_only=False, updated_at=timezone.now()
    )
    connection.refresh_from_db()
    return connection


def connection_resume(*, connection: ChannelConnection) -> ChannelConnection:
    """Back to active from paused or needs-attention (once a person fixed the cause), then a full
    sync: changes made while it was out were never pushed to it, and bookings may be waiting."""
    # Out of needs-attention through the one transition that tells listeners (connection_recovered).
    now = timezone.now()
    resumed = connection_recover(connection_id=connection.pk) or ChannelConnection.objects.filter(
        pk=connection.pk, status=ChannelConnection.Status.PAUSED
    ).update(
        status=ChannelConnection.Status.ACTIVE, last_error="", closeouts_only=False, updated_at=now, resumed_at=now
    )
    connection.refresh_from_db()
    if resumed:
        _catch_up(connection)
    return connection


def _catch_up(connection: ChannelConnection) -> None:
    """Back to work after being out (paused, needing attention): a full sync. The changes made meanwhile
    were never marked on it (nothing is, on a connection that takes no pushes), and bookings may be
    waiting. A feed takes no pushes: it is read again instead."""
    from channelmgr.sync.requests import sync_request  # the sync engine, loaded when first needed

    pushes = Capability.PUSH_AVAILABILITY in registry.adapter_class(connection.platform_type).capabilities
    sync_request(connection=connection, sync_type="full" if pushes else "bookings")


def connection_store_tokens(*, connection: ChannelConnection, tokens: TokenSet) -> ChannelConnection:
    """Store a new token pair (both: refresh tokens may be single-use) and clear a needs-attention state
    the credentials caused. A connection held to close-outs stays held, with its reason: new tokens say
    nothing of the value the platform refused, which a person fixes and then resumes."""
    connection.refresh_from_db(fields=["status", "closeouts_only", "last_error"])
    connection.access_token = tokens.access_token
    connection.refresh_token = tokens.refresh_token or connection.refresh_token
    connection.token_expires_at = tokens.expires_at
    fields = ["access_token", "refresh_token", "token_expires_at", "updated_at"]
    if not connection.closeouts_only:
        connection.last_error = ""
        fields.append("last_error")
    connection.save(update_fields=fields)
    # Reconnected: back to work, and listeners told. ``whole_only``: a hold set meanwhile stays.
    if not connection.closeouts_only and connection_recover(connection_id=connection.pk, whole_only=True):
        connection.refresh_from_db()
        # What it missed while its credentials were refused (a booking made elsewhere, closing nights on
        # it) was never marked on it; without this it stayed open there for good.
        _catch_up(connection)
    return connection


def ical_feed_change_confirm(*, connection: ChannelConnection, user, stamp: str | None = None) -> int:
    """Staff confirm an iCal feed's held mass removal: cancel the blocks it held back, releasing their
    nights, and put the connection back to active if the hold alone had flagged it. Returns how many
    blocks were cancelled (blocks already gone meanwhile are skipped).

    The removal was held because the feed suddenly lost most of its blocks (see
    ``channelmgr.inbound.importer.ical_removal_is_suspicious``); the next poll seeing the same feed
    confirms it too. Raises ``ConnectionStateError`` when nothing is held (the feed came back, or the
    next poll already applied it), or when ``stamp`` (``ical_hold_stamp`` of the hold staff were shown)
    names another hold than the one held now. The confirmation is recorded as an inbound sync log with
    the user.
    """
    from channelmgr.inbound.importer import HoldChanged, ical_hold_confirm

    if Capability.SNAPSHOT_FEED not in registry.adapter_class(connection.platform_type).capabilities:
        raise ConnectionStateError("only feeds hold removals")
    who = getattr(user, "get_username", lambda: "")() or "staff"
    started = time.monotonic()
    try:
        removed = ical_hold_confirm(connection=connection, actor=who, stamp=stamp)
    except HoldChanged as exc:
        raise ConnectionStateError(f"the feed changed since you looked ({exc}): look again and decide") from None
    if removed is None:
        raise ConnectionStateError("nothing is held: the feed came back or the removal was applied already")
    sync_log = SyncLog.objects.create(
        connection=connection,
        direction=SyncLog.Direction.INBOUND,
        kind=SyncLog.Kind.BOOKINGS,
        correlation_id=get_correlation_id()[:32],
        details={"held_removal_confirmed_by": who, "actions": {"removed": removed}},
    )
    sync_log_finish(sync_log=sync_log, status=SyncLog.Status.SUCCESS, started=started)
    log.info("connection %s: %s confirmed the held iCal removal (%s blocks)", connection.pk, who, removed)
    connection.refresh_from_db()
    return removed


# --- test and sync ------------------------------------------------------------------------------


def _check_health(connection: ChannelConnection) -> HealthResult:
    """One health request through the call gateway: the breaker, the limiter, and the single-use
    token refresh (under its lock) when the platform says the access token expired."""
    return platform_call(connection, lambda adapter: adapter.check_health())


def _not_checked(connection: ChannelConnection, exc: Backpressure) -> str:
    """Why no request was sent, for staff: the breaker is open or the account's limit is used up."""
    platform = connection.get_platform_type_display()
    wait = f"try again in {max(1, round(exc.delay_seconds))}s"
    if exc.reason == "rate_limited":
        return f"not checked: the {platform} rate limit for this account is used up; {wait}"
    state = exc.reason.removeprefix("circuit_").replace("_", "-")
    return f"not checked: calls to {platform} are paused after repeated failures (circuit breaker {state}); {wait}"


def connection_test(*, connection: ChannelConnection) -> HealthResult:
    """Run the adapter's health check and record it (SyncLog kind=health, the health fields).

    Never raises for a platform failure: that is an unhealthy result. The message contains no secret.

    When the platform's breaker is open or the account's rate limit is used up, no request is sent:
    the answer is unhealthy with a message saying so and when to try again, and the SyncLog is
    ``skipped``. The connection's own health fields are left as the last real check set them, since
    nothing was learnt about this connection.
    """
    started = time.monotonic()
    entry = SyncLog.objects.create(
        connection=connection,
        direction=SyncLog.Direction.OUTBOUND,
        kind=SyncLog.Kind.HEALTH,
        correlation_id=get_correlation_id()[:32],
    )
    # No transaction here: the health check is a network call (never inside transaction.atomic()).
    try:
        result = _check_health(connection)
    except Backpressure as exc:
        return _record_not_checked(connection, entry, started, _not_checked(connection, exc))
    except PlatformAPIError as exc:
        result = HealthResult(healthy=False, message=str(exc) or exc.__class__.__name__)
    except Exception as exc:  # an adapter bug must not turn "test" into a 500
        log.warning("connection %s: health check crashed with %s", connection.pk, exc.__class__.__name__)
        result = HealthResult(healthy=False, message=f"health check failed ({exc.__class__.__name__})")
    message = redact(result.message, secrets_of(connection))[:1000]
    now = timezone.now()
    checked = ChannelConnection.objects.filter(pk=connection.pk)
    if (
        result.healthy
        and connection.status == ChannelConnection.Status.NEEDS_ATTENTION
        and (connection.closeouts_only or connection.ical_hold)
    ):
        # Needing attention for what a test cannot see (a refused value, a held feed): the reason staff
        # must act on stays, and so does the health it set; the test answered, that is all it says.
        checked.update(last_health_check_at=now)
    else:
        checked.update(healthy=result.healthy, last_health_check_at=now, last_error="" if result.healthy else message)
    sync_log_finish(
        sync_log=entry,
        status=SyncLog.Status.SUCCESS if result.healthy else SyncLog.Status.FAILED,
        started=started,
        requests=1,
        error="" if result.healthy else message,
    )
    connection.refresh_from_db()
    log.info("connection %s health check: healthy=%s", connection.pk, result.healthy)
    if (
        result.healthy
        and connection.status == ChannelConnection.Status.NEEDS_ATTENTION
        and not connection.ical_hold
        and not connection.closeouts_only
    ):
        # The platform answers again (a person fixed the cause): back to work, as a resume would. A held
        # iCal removal still waits for its own confirmation, and a refused value for a resume: the test
        # says nothing of the value.
        connection_resume(connection=connection)
    return HealthResult(healthy=result.healthy, message=message)


def _record_not_checked(connection: ChannelConnection, entry: SyncLog, started: float, message: str) -> HealthResult:
    sync_log_finish(sync_log=entry, status=SyncLog.Status.SKIPPED, started=started, error=message)
    log.info("connection %s health check not run: %s", connection.pk, message)
    return HealthResult(healthy=False, message=message)


def connection_sync(*, connection: ChannelConnection, sync_type: str) -> list[SyncLog]:
    """Ask the sync engine for a sync of ``sync_type``; returns the SyncLogs it created.

    Raises ``ValidationError`` for an unknown type, ``ConnectionStateError`` for a paused connection.
    """
    if sync_type not in SYNC_TYPES:
        raise ValidationError({"sync_type": f"must be one of {', '.join(SYNC_TYPES)}"})
    if connection.status == ChannelConnection.Status.PAUSED:
        raise ConnectionStateError("the connection is paused: resume it first")
    from channelmgr.sync.requests import sync_request  # the sync engine, loaded when first needed

    return list(sync_request(connection=connection, sync_type=sync_type))
