"""Properties and units: create and change them.

A unit's defaults are every night's value where no day overrides them, so changing one records the
outbox event that makes channels push again.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pms_core.models import Organization, OutboxEvent, Property, Unit
from pms_core.outbox import outbox_record


def property_today(prop: Property) -> dt.date:
    """ "Today" is the property's today, in its timezone."""
    try:
        return timezone.now().astimezone(zoneinfo.ZoneInfo(prop.timezone)).date()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.localdate()


def property_create(*, organization: Organization, **fields) -> Property:
    prop = Property(organization=organization, **fields)
    prop.full_clean()
    prop.save()
    return prop


def property_update(*, prop: Property, **fields) -> Property:
    for name, value in fields.items():
        setattr(prop, name, value)
    prop.full_clean()
    prop.save()
    return prop


def unit_create(*, prop: Property, **fields) -> Unit:
    unit = Unit(property=prop, **fields)
    unit.full_clean()
    unit.save()
    return unit


def unit_update(*, unit: Unit, **fields) -> Unit:
    """Change a unit; a new base price or default min stay is announced for the sync window."""
    price_changed = "base_price" in fields and fields["base_price"] != unit.base_price
    stay_changed = "default_min_stay" in fields and fields["default_min_stay"] != unit.default_min_stay
    for name, value in fields.items():
        setattr(unit, name, value)
    unit.full_clean()
    with transaction.atomic():
        unit.save()
        start = property_today(unit.property)
        end = start + dt.timedelta(days=settings.SYNC_WINDOW_DAYS)
        if price_changed:
            outbox_record(event_type=OutboxEvent.Type.PRICING_UPDATED, unit=unit, start=start, end=end)
        if stay_changed:
            outbox_record(event_type=OutboxEvent.Type.AVAILABILITY_UPDATED, unit=unit, start=start, end=end)
    return unit
