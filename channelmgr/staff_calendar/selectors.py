"""Reads behind the staff calendar: plain functions returning dataclasses, no HTTP.

The PMS state of a night is the same for every platform; what differs per connection is whether the
platform took the booking itself, whether it receives pushes at all, and whether it has been told yet
(a night still in one of its ``DirtyRange`` rows is "not yet pushed").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet
from django.template.defaultfilters import truncatechars

from adapters import registry
from adapters.base import Capability
from adapters.registry import adapter_class
from channelmgr.accounts import sync_window
from channelmgr.models import ChannelConnection, DirtyRange, IcalExport
from channelmgr.price_rules import channel_price, rule_of
from channelmgr.staff_home.status import NEVER_CHECKED, Health, connection_health, local_time
from pms_core.models import Booking, OutboxEvent, Property, Unit
from pms_core.selectors import Night, calendar_nights, held_stays
from pms_core.templatetags.amounts import amount

DEFAULT_DAYS = 30
MAX_DAYS = 92
DIRECT_COLOUR = "#2e7d32"
ERROR_CHARS = 80


def source_labels() -> dict[str, str]:
    return {"direct": "Direct", **{slug: cls.display_name for slug, cls in registry.adapters().items()}}


def source_label(source: str) -> str:
    """Called per calendar cell: one registry look-up, not a new table each time."""
    cls = registry.adapters().get(source)
    return cls.display_name if cls is not None else source_labels().get(source, source)


def _text_on(background: str) -> str:
    """Dark text on a light background, white on a dark one (relative luminance of ``#rrggbb``)."""
    red, green, blue = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "#222" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.6 else "#fff"


def source_colours() -> list[tuple[str, str, str]]:
    """(source, background, text colour) for each booking source, from each adapter's ``colour``."""
    colours = [("direct", DIRECT_COLOUR)] + [(slug, cls.colour) for slug, cls in registry.adapters().items()]
    return [(source, background, _text_on(background)) for source, background in colours]


def properties_for_staff(user) -> QuerySet[Property]:
    """Superusers see every property; other staff only their organization's (none without one)."""
    if user.is_superuser:
        return Property.objects.all()
    if not user.is_staff or user.organization_id is None:
        return Property.objects.none()
    return Property.objects.filter(organization_id=user.organization_id)


@dataclass(frozen=True)
class ConnectionSync:
    id: int
    platform: str
    label: str
    listing_id: str
    status: str
    healthy: bool | None
    last_error: str
    last_push_at: dt.datetime | None
    last_sync_at: dt.datetime | None
    health: Health = Health(NEVER_CHECKED)
    last_push: str = "never"  # in the property's zone, the zone named
    last_sync: str = "never"


@dataclass(frozen=True)
class Cell:
    date: dt.date
    state: str  # "open" | "booked" | "block" | "stop_sell"
    source: str = ""
    booking_id: int | None = None
    label: str = ""  # shown on the first night of a stay
    title: str = ""
    overbooked: bool = False
    restricted: bool = False  # min stay above the unit's default, CTA or CTD

    @property
    def css(self) -> str:
        classes = [f"night-{self.state}"]
        if self.state == "booked":
            classes.append(f"src-{self.source}")
        if self.overbooked:
            classes.append("overbooked")
        if self.restricted:
            classes.append("restricted")
        return " ".join(classes)


@dataclass(frozen=True)
class UnitRow:
    unit: Unit
    cells: list[Cell]
    connections: list[ConnectionSync]


@dataclass(frozen=True)
class PropertyCalendar:
    property: Property
    start: dt.date
    end: dt.date  # exclusive: the nights are [start, end)
    dates: list[dt.date]
    rows: list[UnitRow]
    legend: list[tuple[str, str]] = field(default_factory=lambda: list(source_labels().items()))

    @property
    def last(self) -> dt.date:
        """The last night shown: what the header names, so no named day is left off the grid."""
        return self.dates[-1]

    @property
    def previous_start(self) -> dt.date:
        return self.start - dt.timedelta(days=len(self.dates))

    @property
    def next_start(self) -> dt.date:
        return self.end


def _connections(unit: Unit) -> list[ChannelConnection]:
    return list(unit.connections.exclude(status=ChannelConnection.Status.DELETED).order_by("platform_type"))


def _connection_sync(connection: ChannelConnection) -> ConnectionSync:
    return ConnectionSync(
        id=connection.pk,
        platform=connection.platform_type,
        label=source_label(connection.platform_type),
        listing_id=connection.platform_listing_id,
        status=connection.status,
        healthy=connection.healthy,
        last_error=truncatechars(connection.last_error, ERROR_CHARS),
        last_push_at=connection.last_push_at,
        last_sync_at=connection.last_sync_at,
        health=connection_health(connection),
        last_push=local_time(connection.last_push_at, connection.unit.property.timezone),
        last_sync=local_time(connection.last_sync_at, connection.unit.property.timezone),
    )


def _overbooked(unit: Unit, start: dt.date, end: dt.date) -> list[Booking]:
    return list(held_stays(unit=unit, start=start, end=end).filter(status=Booking.Status.OVERBOOKED))


def _cell(night: Night, overbooked: list[Booking], start: dt.date, unit: Unit) -> Cell:
    clashes = [b for b in overbooked if b.covers(night.date)]
    shorter = night.max_stay is not None and night.max_stay != unit.default_max_stay  # a max stay of its own
    flags = {
        "overbooked": bool(clashes),
        "restricted": night.min_stay > unit.default_min_stay
        or shorter
        or night.closed_to_arrival
        or night.closed_to_departure,
    }
    clash_text = "; ".join(f"OVERBOOKED #{b.pk} from {source_label(b.source)}" for b in clashes)
    stay = night.booking
    if stay is None:
        state = "stop_sell" if night.stop_sell else "open"
        price = amount(night.price, unit.property.currency)
        return Cell(night.date, state, title=clash_text or f"{state.replace('_', '-')}, {price}", **flags)
    state = "block" if stay.kind == Booking.Kind.BLOCK else "booked"
    label = ""
    if night.date in (stay.check_in, start):  # a stay is labelled on its first visible night
        label = (stay.guest_name or source_label(stay.source)) if state == "booked" else block_label(stay)
    who = stay.guest_name if state == "booked" else f"block: {stay.note or 'no note'}"
    title = f"{source_label(stay.source)} #{stay.pk} {who}".strip()
    return Cell(night.date, state, stay.source, stay.pk, label, "; ".join(filter(None, [title, clash_text])), **flags)


def block_label(stay: Booking) -> str:
    """A block's label in the timeline: an owner's note as written; a platform's block as "<platform>
    blocked", since its summary is the platform's wording ("Airbnb (Not available)") and would be cut
    off. The full summary stays in the night's tooltip and explanation."""
    note = (stay.note or "").strip()
    if stay.source == Booking.DIRECT:
        return note or "Block"
    # A feed's summary names the platform that exported it before any "(...)": "Airbnb (Not available)".
    named = note.split("(", 1)[0].strip() if "(" in note else ""
    return f"{named or source_label(stay.source)} blocked"


def property_calendar(*, property: Property, start: dt.date, days: int = DEFAULT_DAYS) -> PropertyCalendar:
    """The property's units by nights ``[start, start + days)`` with each connection's sync status."""
    days = max(1, min(days, MAX_DAYS))
    end = start + dt.timedelta(days=days)
    rows = []
    for unit in property.units.order_by("name", "pk"):
        overbooked = _overbooked(unit, start, end)
        nights = calendar_nights(unit=unit, start=start, end=end)
        cells = [_cell(night, overbooked, start, unit) for night in nights]
        rows.append(UnitRow(unit, cells, [_connection_sync(c) for c in _connections(unit)]))
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    return PropertyCalendar(property=property, start=start, end=end, dates=dates, rows=rows)


# --- one night, explained per platform -----------------------------------------------------------


@dataclass(frozen=True)
class PlatformNight:
    """One connection's view of one night: what the platform holds for it as far as we know (``state``),
    why, and when it was last told.

    ``state`` claims "open" or "closed" only when the platform was told and nothing newer waits for it:
    - "closing" / "opening": the change has not reached it yet (``pending``);
    - "not_told": the connection gets nothing (paused, stopped): the platform keeps whatever it had;
    - "not_opened": held to close-outs, it gets no openings, so a night open here may be closed there;
    - "beyond": past the sync window, never sent;
    - "export_closed" / "export_open": an iCal platform reads our export on its own schedule;
      "not_exported": no export URL was ever made, so it has read nothing of ours."""

    connection: ConnectionSync
    open: bool  # the PMS's answer, which the platform should hold
    reasons: list[str]
    receives_pushes: bool
    last_push_at: dt.datetime | None
    pending: list[str]  # the kinds ("availability", "pricing") not yet pushed for this night
    # What the platform receives for the night's price through the connection's rule (None: no prices
    # pushed there), and the rule in words ("none" without one).
    price: Decimal | None = None
    price_rule: str = "none"
    state: str = ""

    @property
    def state_text(self) -> str:
        return STATE_TEXT.get(self.state, self.state)


STATE_TEXT = {
    "open": "open",
    "closed": "closed",
    "opening": "opening: not yet pushed",
    "closing": "closing: not yet pushed",
    "not_told": "unknown: not told while the connection is out",
    "not_opened": "not opened there: openings wait for a resume",
    "beyond": "not sent: beyond the sync window",
    "export_open": "open in our export",
    "export_closed": "closed in our export",
    "not_exported": "not exported: no export URL was made",
}


@dataclass(frozen=True)
class NightExplanation:
    unit: Unit
    night: Night
    reasons: list[str]  # the PMS's own reasons, before any platform
    overbooked: list[Booking]
    platforms: list[PlatformNight]

    @property
    def open(self) -> bool:
        return self.night.available


def _stay_reason(stay: Booking) -> str:
    if stay.kind == Booking.Kind.BLOCK:
        return f"blocked ({stay.note or 'no note'}; source {source_label(stay.source)}; block #{stay.pk})"
    guest = f", guest {stay.guest_name}" if stay.guest_name else ""
    channel_id = f" ({stay.channel_booking_id})" if stay.channel_booking_id else ""
    stay_dates = f"{stay.check_in} to {stay.check_out}"
    # An overbooked stay holds its nights too: a guest has them on a platform.
    held = (
        " (overbooked: it holds the night until it is confirmed or resolved)"
        if stay.status == Booking.Status.OVERBOOKED
        else ""
    )
    return f"booked by {source_label(stay.source)}: booking #{stay.pk}{channel_id}{guest}, {stay_dates}{held}"


def night_reasons(night: Night) -> list[str]:
    """Why the PMS has this night closed, or what limits it while open. Empty means plainly open."""
    reasons = []
    if night.booking is not None:
        reasons.append(_stay_reason(night.booking))
    if night.stop_sell:
        reasons.append("stop-sell")
    if night.min_stay > 1:
        reasons.append(f"min stay {night.min_stay} nights")
    if night.max_stay is not None:
        reasons.append(f"max stay {night.max_stay} nights")
    if night.closed_to_arrival:
        reasons.append("closed to arrival")
    if night.closed_to_departure:
        reasons.append("closed to departure")
    return reasons


def _pending(connection: ChannelConnection, date: dt.date) -> list[str]:
    """The kinds of change waiting to reach the connection for ``date``: its dirty ranges, and the unit's
    changes the outbox worker has not marked on any connection yet."""
    from channelmgr.sync.outbound import EVENT_KINDS, ORIGIN_KNOWS, event_ranges  # the sync engine's rules

    kinds = set(
        DirtyRange.objects.filter(connection=connection, start__lte=date, end__gt=date).values_list("kind", flat=True)
    )
    unconsumed = OutboxEvent.objects.filter(
        unit_id=connection.unit_id, consumed_at__isnull=True, start__lte=date, end__gt=date
    )
    for event in unconsumed:
        if event.event_type in ORIGIN_KNOWS and event.source == connection.platform_type:
            continue  # the platform that sold the stay has it
        if any(start <= date < end for start, end in event_ranges(event)):
            kinds.update(EVENT_KINDS[event.event_type])
    return sorted(kinds)


def _state(connection: ChannelConnection, night: Night, pending: list[str]) -> str:
    if Capability.PUSH_AVAILABILITY not in adapter_class(connection.platform_type).capabilities:
        if not IcalExport.objects.filter(unit_id=connection.unit_id).exists():
            return "not_exported"
        # Its platform reads the export without the blocks imported from it (``ical_feed(without=)``).
        from channelmgr.inbound.importer import ical_blocks

        held = held_stays(unit=connection.unit, start=night.date, end=night.date + dt.timedelta(days=1))
        own = set(ical_blocks(connection).values_list("pk", flat=True))
        closed = night.stop_sell or any(stay.pk not in own for stay in held)
        return "export_closed" if closed else "export_open"
    start, end = sync_window(connection)
    if not start <= night.date < end:
        return "beyond"
    if not connection.receives(DirtyRange.Kind.AVAILABILITY):
        return "not_told"
    if night.available and not connection.receives(DirtyRange.Kind.PRICING):
        return "not_opened"  # held to close-outs: nothing that opens a night is sent
    if DirtyRange.Kind.AVAILABILITY in pending:
        return "opening" if night.available else "closing"
    return "open" if night.available else "closed"


def _platform_night(connection: ChannelConnection, night: Night, reasons: list[str]) -> PlatformNight:
    capabilities = adapter_class(connection.platform_type).capabilities
    receives = Capability.PUSH_AVAILABILITY in capabilities
    own = list(reasons)
    stay = night.booking
    if stay is not None and stay.source == connection.platform_type:
        own[0] = f"{own[0]} (taken on this platform, so it holds the booking itself)"
    if not receives:
        own.append("import only: this platform reads our iCal export rather than receiving pushes")
    elif connection.closeouts_only and connection.status == ChannelConnection.Status.NEEDS_ATTENTION:
        own.append("connection needs attention: receives close-outs only (nights booked elsewhere, as closed)")
    elif connection.status != ChannelConnection.Status.ACTIVE:
        own.append(f"connection {connection.status}: receives no updates")
    if receives and night.max_stay is not None:
        if Capability.PUSH_MAX_STAY not in capabilities:
            own.append(f"max stay {night.max_stay} nights: this platform cannot carry it")
        elif night.max_stay > (ceiling := adapter_class(connection.platform_type).max_stay_ceiling):
            own.append(f"max stay sent as {ceiling} nights, its longest")
    currency = connection.unit.property.currency
    rule = rule_of(connection)
    pending = _pending(connection, night.date) if receives else []
    # A price only where one is sent: a paused or held connection keeps the one it had.
    priced = Capability.PUSH_PRICING in capabilities and connection.receives(DirtyRange.Kind.PRICING)
    return PlatformNight(
        connection=_connection_sync(connection),
        open=night.available,
        reasons=own,
        receives_pushes=receives,
        last_push_at=connection.last_push_at,
        pending=pending,
        price=channel_price(rule, night.price, currency) if priced else None,
        price_rule=rule.describe(currency),
        state=_state(connection, night, pending),
    )


def night_explanation(*, unit: Unit, date: dt.date) -> NightExplanation:
    """Why ``date`` on ``unit`` is open or closed, per connection, and when each platform last got it."""
    night = calendar_nights(unit=unit, start=date, end=date + dt.timedelta(days=1))[0]
    reasons = night_reasons(night)
    overbooked = _overbooked(unit, date, date + dt.timedelta(days=1))
    for booking in overbooked:
        clash = f"#{booking.clashes_with_id}" if booking.clashes_with_id else "an earlier stay"
        reasons.append(
            f"OVERBOOKED: booking #{booking.pk} from {source_label(booking.source)}"
            f"{' (' + booking.guest_name + ')' if booking.guest_name else ''} clashes with {clash}"
        )
    platforms = [_platform_night(c, night, reasons) for c in _connections(unit)]
    return NightExplanation(unit=unit, night=night, reasons=reasons, overbooked=overbooked, platforms=platforms)
