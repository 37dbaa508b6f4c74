"""Properties and units: create and change them.

A unit's defaults are every night's value where no day overrides them, so changing one records the
outbox event that makes channels push again.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

import money
from pms_core.models import CalendarDay, Organization, OutboxEvent, Property, Unit
from pms_core.outbox import outbox_record
from pms_core.signals import property_currency_check, property_timezone_changed


def property_today(prop: Property) -> dt.date:
    """ "Today" is the property's today, in its timezone."""
    try:
        return timezone.now().astimezone(zoneinfo.ZoneInfo(prop.timezone)).date()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.localdate()


def property_create(*, organization: Organization, **fields) -> Property:
    prop = Property(organization=organization, **fields)
    prop.full_clean()
    property_validate(prop=prop)
    prop.save()
    return prop


def property_update(*, prop: Property, **fields) -> Property:
    """Change a property. A new currency must fit every price its units hold (JPY has no decimals), and
    is announced for every unit's window: the platforms hold its prices in the old currency. So is a new
    time zone: the property's today may move back a day, and that night was never pushed (it was past)."""
    with transaction.atomic():
        # The row as it is now, under its lock: checked with the fields given, and only those written. A
        # copy read earlier was checked with values another writer had changed meanwhile, and its whole-row
        # save wrote them back (an admin rename, another PATCH).
        prop = Property.objects.select_for_update().get(pk=prop.pk)
        currency_before, timezone_before = prop.currency, prop.timezone
        for name, value in fields.items():
            setattr(prop, name, value)
        prop.full_clean()
        property_validate(prop=prop)
        if prop.timezone != timezone_before:
            announced = [OutboxEvent.Type.PRICING_UPDATED, OutboxEvent.Type.AVAILABILITY_UPDATED]
        else:
            announced = [OutboxEvent.Type.PRICING_UPDATED] if prop.currency != currency_before else []
        if fields:
            prop.save(update_fields=list(fields))
        if prop.timezone != timezone_before:
            property_timezone_changed.send(sender=Property, prop=prop)
        for unit in Unit.objects.filter(property=prop).select_related("property") if announced else ():
            _announce_window(unit, announced)
    return prop


MAX_MINOR_UNITS = 3


def _a_place(zone: str) -> bool:
    """A zone of a place: not the host's own ("localtime", whose meaning moves with the server), nor tzdata's
    placeholder ("Factory") or its alternative trees."""
    return zone not in {"localtime", "Factory"} and not zone.startswith(("posix/", "right/"))


def property_validate(*, prop: Property) -> None:
    """Raises ``ValidationError`` on ``timezone`` for a zone that is not an IANA name (its "today" and
    sync window would silently be the server's), and on ``currency`` when a price its units hold does
    not fit it."""
    if prop.timezone not in zoneinfo.available_timezones() or not _a_place(prop.timezone):
        raise ValidationError({"timezone": "Unknown time zone."})
    if money.is_currency(prop.currency) and money.minor_units(prop.currency) > MAX_MINOR_UNITS:
        # CLF, UYW: OTA Money and EQC rates carry 3 decimals at most, so a rule's price would be refused.
        raise ValidationError(
            {"currency": f"{prop.currency} has {money.minor_units(prop.currency)} decimals; platforms take at most 3"}
        )
    if prop.pk is None:
        return
    stored = Property.objects.filter(pk=prop.pk).values_list("currency", flat=True).first()
    if stored is not None and stored != prop.currency:
        # Who else holds amounts in this currency (a channel's price rule) may refuse it: ValidationError.
        property_currency_check.send(sender=Property, prop=prop)
    amounts = [
        *Unit.objects.filter(property=prop).values_list("base_price", flat=True),
        *CalendarDay.objects.filter(unit__property=prop, price__isnull=False).values_list("price", flat=True),
    ]
    for amount in amounts:
        try:
            money.exact(amount, prop.currency)
        except money.MoneyError as exc:
            raise ValidationError({"currency": f"a price of its units does not fit: {exc}"}) from None


def _announce_window(unit: Unit, event_types: list[str]) -> None:
    """Every night of ``unit``'s window changed in these ways: its connections push them all."""
    start = property_today(unit.property)
    end = start + dt.timedelta(days=settings.SYNC_WINDOW_DAYS)
    for event_type in event_types:
        outbox_record(event_type=event_type, unit=unit, start=start, end=end)


# (lowest, highest) of a unit's bounded fields, as the platforms take them (the API's fields use these).
UNIT_BOUNDS = {"default_min_stay": (1, 365), "default_max_stay": (1, 1125), "max_guests": (1, 100)}


def unit_validate(*, unit: Unit) -> None:
    """Raises ``ValidationError`` naming the field: a base price with more decimals than the property's
    currency has, or a default maximum stay below the minimum stay (on the unit or on a stored night)."""
    try:
        unit.base_price = money.exact(unit.base_price, unit.property.currency)
    except money.MoneyError as exc:
        raise ValidationError({"base_price": str(exc)}) from None
    if unit.base_price <= 0:  # every night without a price of its own is pushed at it
        raise ValidationError({"base_price": "must be more than 0 (no platform takes a night for nothing)"})
    for field, (low, high) in UNIT_BOUNDS.items():  # what the API takes, so the admin cannot send more
        value = getattr(unit, field)
        if value is not None and not low <= value <= high:
            raise ValidationError({field: f"must be between {low} and {high}"})
    if unit.default_max_stay is not None and unit.default_max_stay < unit.default_min_stay:
        raise ValidationError({"default_max_stay": "must not be below default_min_stay"})
    if unit.pk is None:
        return
    stored = Unit.objects.filter(pk=unit.pk).values_list("property__organization_id", "property__currency").first()
    tenant, currency = stored or (unit.property.organization_id, unit.property.currency)
    if tenant != unit.property.organization_id:
        # Its bookings, nights and connections (credentials, pushes) are its organization's.
        raise ValidationError({"property": "a unit stays in its organization"})
    if currency != unit.property.currency:  # moved to a property of another currency: its nights' prices move too
        for price in CalendarDay.objects.filter(unit=unit, price__isnull=False).values_list("price", flat=True):
            try:
                money.exact(price, unit.property.currency)
            except money.MoneyError as exc:
                raise ValidationError({"property": f"a price of its nights does not fit: {exc}"}) from None
    clash = (
        CalendarDay.objects.filter(unit=unit)
        .filter(
            Q(max_stay__isnull=False, min_stay__isnull=False, max_stay__lt=F("min_stay"))
            | Q(max_stay__isnull=False, min_stay__isnull=True, max_stay__lt=unit.default_min_stay)
            | (
                Q(max_stay__isnull=True, min_stay__gt=unit.default_max_stay)
                if unit.default_max_stay is not None
                else Q(pk__in=[])
            )
        )
        .order_by("date")
        .first()
    )
    if clash is not None:
        field = "default_max_stay" if clash.max_stay is None else "default_min_stay"
        raise ValidationError({field: f"the night of {clash.date} would have a maximum stay below its minimum stay"})


def unit_create(*, prop: Property, **fields) -> Unit:
    unit = Unit(property=prop, **fields)
    unit_validate(unit=unit)
    unit.full_clean()
    unit.save()
    return unit


def unit_update(*, unit: Unit, **fields) -> Unit:
    """Change a unit; a new base price, default min stay or property (its currency may differ) is
    announced for the sync window."""
    with transaction.atomic():
        # As ``property_update``: the row as it is now, under its lock, checked with the fields given and
        # only those written. Checked on an older copy, two PATCHes at once (min stay 5, max stay 3) passed
        # their checks and the database refused the second: a server error.
        unit = Unit.objects.select_for_update().select_related("property").get(pk=unit.pk)
        price_changed = any(
            name in fields and fields[name] != getattr(unit, name) for name in ("base_price", "property")
        )
        stay_changed = any(
            name in fields and fields[name] != getattr(unit, name) for name in ("default_min_stay", "default_max_stay")
        )
        timezone_before = unit.property.timezone if unit.property_id else None
        for name, value in fields.items():
            setattr(unit, name, value)
        unit_validate(unit=unit)
        unit.full_clean()
        # Moved to a property in another time zone: as a property's own change of zone (``property_update``),
        # its today may step back a day, and that night, past until now, was never pushed.
        moved_zone = timezone_before is not None and unit.property.timezone != timezone_before
        stay_changed = stay_changed or moved_zone
        if fields:
            unit.save(update_fields=list(fields))
        if moved_zone:
            property_timezone_changed.send(sender=Unit, prop=unit.property, unit=unit)
        _announce_window(
            unit,
            [OutboxEvent.Type.PRICING_UPDATED] * price_changed + [OutboxEvent.Type.AVAILABILITY_UPDATED] * stay_changed,
        )
    return unit
