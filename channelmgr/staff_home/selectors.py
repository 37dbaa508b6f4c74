"""Reads behind the staff home: "is everything all right, and if not, what do I do?"

Plain functions over one organization (None: a superuser's every tenant), returning dataclasses. Times are
shown in the property's timezone with the zone named (``local_time``). Sync lag is read from the database
(a push's SyncLog names the changes it carried; each change's outbox event says when it happened), so it
works in embedded mode without Prometheus.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone

from adapters import registry
from adapters.base import Capability
from channelmgr.inbound.acknowledgements import FALLBACK_AFTER, unacknowledged_bookings
from channelmgr.models import ChannelConnection, SyncLog
from channelmgr.staff_calendar.selectors import properties_for_staff, source_label
from channelmgr.staff_home.notices import Notice, notices
from channelmgr.staff_home.status import Health, age, connection_health, local_time, plain_error
from pms_core.models import Booking, OutboxEvent, Property, Unit
from pms_core.services.stays import find_clash

LAG_WINDOW = dt.timedelta(hours=1)
LAG_SAMPLE = 2000  # the newest pushes of the window: enough for a p95, bounded for a busy hour


NO_ORGANIZATION = 0  # no row has it: a staff user outside every organization sees nothing


def organization_of(user) -> int | None:
    """The organization a staff user's home shows; None for a superuser (every tenant)."""
    if user.is_superuser:
        return None
    return user.organization_id or NO_ORGANIZATION


def _scoped(qs: QuerySet, lookup: str, organization_id: int | None) -> QuerySet:
    return qs if organization_id is None else qs.filter(**{lookup: organization_id})


# --- overbookings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overbooking:
    booking: Booking
    source: str
    clashes_with: Booking | None
    free_unit: Unit | None  # where "move" would put it; None: moving is not possible
    waiting_since: str


def free_unit_for(booking: Booking) -> Unit | None:
    """Another unit of the booking's property whose nights are free, by name."""
    for unit in booking.unit.property.units.exclude(pk=booking.unit_id).order_by("name", "pk"):
        if find_clash(unit_id=unit.pk, check_in=booking.check_in, check_out=booking.check_out) is None:
            return unit
    return None


def overbookings_waiting(organization_id: int | None) -> list[Overbooking]:
    """Overbooked stays no one has decided on yet (an accepted one waits for nothing), oldest first."""
    waiting = Booking.objects.filter(status=Booking.Status.OVERBOOKED, overbooking_accepted_at__isnull=True)
    waiting = _scoped(waiting, "unit__property__organization_id", organization_id)
    rows = waiting.select_related("unit__property", "clashes_with").order_by("overbooked_at", "pk")
    return [
        Overbooking(
            booking=b,
            source=source_label(b.source),
            clashes_with=b.clashes_with,
            free_unit=free_unit_for(b),
            waiting_since=local_time(b.overbooked_at or b.created_at, b.unit.property.timezone),
        )
        for b in rows
    ]


# --- connections --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionRow:
    connection: ChannelConnection
    label: str
    health: Health
    last_push: str  # in the property's zone, or "never" / "takes no pushes"
    last_push_age: str
    last_sync: str
    drift: str  # what the last reconcile found, "" before any
    drift_at: str
    actions: list[str] = field(default_factory=list)  # "reconnect" | "test" | "resume"

    @property
    def needs_attention(self) -> bool:
        return self.connection.status == ChannelConnection.Status.NEEDS_ATTENTION


def _actions(connection: ChannelConnection) -> list[str]:
    if connection.status == ChannelConnection.Status.PAUSED:
        return ["resume"]
    if connection.status != ChannelConnection.Status.NEEDS_ATTENTION:
        return ["test"]
    if connection.closeouts_only:
        return ["resume", "test"]  # a value was refused, not the credentials: fix it, then resume
    capabilities = registry.adapter_class(connection.platform_type).capabilities
    # Credentials refused: reconnect first; then a test (or resume) puts it back to work.
    return ["reconnect", "test", "resume"] if Capability.OAUTH in capabilities else ["test", "resume", "reconnect"]


def connection_row(connection: ChannelConnection) -> ConnectionRow:
    zone = connection.unit.property.timezone
    pushes = Capability.PUSH_AVAILABILITY in registry.adapter_class(connection.platform_type).capabilities
    reconcile = connection.last_reconcile or {}
    return ConnectionRow(
        connection=connection,
        label=source_label(connection.platform_type),
        health=connection_health(connection),
        last_push=local_time(connection.last_push_at, zone) if pushes else "takes no pushes",
        last_push_age=age(connection.last_push_at) if pushes else "",
        last_sync=local_time(connection.last_sync_at, zone),
        drift=reconcile.get("describe", ""),
        drift_at=local_time(connection.last_reconcile_at, zone) if connection.last_reconcile_at else "",
        actions=_actions(connection),
    )


def live_connections(organization_id: int | None) -> QuerySet[ChannelConnection]:
    live = ChannelConnection.objects.exclude(status=ChannelConnection.Status.DELETED)
    return (
        _scoped(live, "organization_id", organization_id)
        .select_related("unit__property")
        .order_by("unit__property__name", "unit__name", "platform_type")
    )


# --- acknowledgements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Unacknowledged:
    booking: Booking
    platform: str
    waiting: str
    overdue: bool  # past the platform's e-mail fallback
    last_error: str


def unacknowledged(organization_id: int | None) -> list[Unacknowledged]:
    now = timezone.now()
    return [
        Unacknowledged(
            booking=row.booking,
            platform=source_label(row.connection.platform_type),
            waiting=age(row.received_at, now),
            overdue=now - row.received_at >= FALLBACK_AFTER,
            last_error=plain_error(row.last_error),
        )
        for row in unacknowledged_bookings(organization_id=organization_id)
    ]


# --- sync lag -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lag:
    platform: str
    label: str
    pushes: int
    p50: float
    p95: float


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of a non-empty list (the value ``share`` of the pushes stayed within)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def sync_lag(organization_id: int | None, now: dt.datetime | None = None) -> list[Lag]:
    """Per platform over the last hour: from a change (its outbox event) to the push that carried it
    finishing. A push's lag is that of the oldest change it carried; requested syncs carry none."""
    now = now or timezone.now()
    pushes = SyncLog.objects.filter(
        direction=SyncLog.Direction.OUTBOUND,
        status=SyncLog.Status.SUCCESS,
        kind__in=[SyncLog.Kind.AVAILABILITY, SyncLog.Kind.PRICING],
        finished_at__gte=now - LAG_WINDOW,
    )
    pushes = _scoped(pushes, "connection__organization_id", organization_id)
    rows = list(
        pushes.order_by("-finished_at").values_list("connection__platform_type", "finished_at", "details")[:LAG_SAMPLE]
    )
    carried = {cid for *_rest, details in rows for cid in (details or {}).get("correlation_ids", [])}
    changed_at: dict[str, dt.datetime] = {}
    ids = sorted(carried)
    for start in range(0, len(ids), 500):  # SQLite limits the parameters of one query
        for cid, created in OutboxEvent.objects.filter(correlation_id__in=ids[start : start + 500]).values_list(
            "correlation_id", "created_at"
        ):
            changed_at[cid] = min(created, changed_at.get(cid, created))
    lags: dict[str, list[float]] = {}
    for platform, finished, details in rows:
        times = [changed_at[cid] for cid in (details or {}).get("correlation_ids", []) if cid in changed_at]
        if times:
            lags.setdefault(platform, []).append(max(0.0, (finished - min(times)).total_seconds()))
    return [
        Lag(slug, source_label(slug), len(values), percentile(values, 0.5), percentile(values, 0.95))
        for slug, values in sorted(lags.items())
    ]


# --- the whole page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Home:
    overbookings: list[Overbooking]
    to_fix: list[ConnectionRow]
    unacknowledged: list[Unacknowledged]
    connections: list[ConnectionRow]
    lag: list[Lag]
    properties: list[Property]
    generated_at: dt.datetime
    notices: list[Notice] = field(default_factory=list)  # other apps' (``staff_home.notices``)

    @property
    def drifting(self) -> list[ConnectionRow]:
        return [row for row in self.connections if row.drift and row.drift != "in step"]

    @property
    def all_right(self) -> bool:
        return not (self.overbookings or self.to_fix or self.unacknowledged or self.drifting or self.notices)


def staff_home(user) -> Home:
    """Everything the home page shows, for ``user``'s organization (a superuser: every tenant).

    A section shows only what the admin lets the user view (bookings, connections, properties), as the
    admin's own pages and the calendar do: being staff alone shows nothing."""
    organization_id = organization_of(user)
    bookings = user.has_perm("pms_core.view_booking")
    linked = user.has_perm("channelmgr.view_channelconnection")
    connections = [connection_row(c) for c in live_connections(organization_id)] if linked else []
    return Home(
        overbookings=overbookings_waiting(organization_id) if bookings else [],
        # Needs attention or paused: each with its error in words and the actions that fix it.
        to_fix=[row for row in connections if row.connection.status != ChannelConnection.Status.ACTIVE],
        unacknowledged=unacknowledged(organization_id) if bookings and linked else [],
        connections=connections,
        lag=sync_lag(organization_id) if linked else [],
        properties=(
            list(properties_for_staff(user).order_by("name", "pk")) if user.has_perm("pms_core.view_property") else []
        ),
        generated_at=timezone.now(),
        notices=notices(organization_id),
    )


def home_counts(home: Home) -> dict[str, int]:
    return {
        "overbookings": len(home.overbookings),
        "connections_to_fix": len(home.to_fix),
        "unacknowledged": len(home.unacknowledged),
        "drift": len(home.drifting),
        "notices": len(home.notices),
    }
