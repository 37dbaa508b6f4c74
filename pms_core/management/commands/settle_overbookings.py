"""Confirm every overbooked stay whose nights are free. Each change on a unit already does this; run it
once after upgrading from a version in which overbookings were never confirmed."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from pms_core.models import Booking, Unit
from pms_core.services.bookings import overbookings_settle
from pms_core.services.stays import lock_unit


class Command(BaseCommand):
    help = "Confirm every overbooked stay whose nights are free; print how many were confirmed."

    def handle(self, *args, **options):
        unit_ids = Booking.objects.filter(status=Booking.Status.OVERBOOKED).values_list("unit_id", flat=True)
        confirmed = 0
        for unit in Unit.objects.filter(pk__in=set(unit_ids)).order_by("pk"):
            with transaction.atomic():
                lock_unit(unit)
                confirmed += len(overbookings_settle(unit=unit, actor="settle_overbookings", reason="operator run"))
        waiting = Booking.objects.filter(status=Booking.Status.OVERBOOKED).count()
        self.stdout.write(f"confirmed {confirmed} overbooking(s); {waiting} still wait for a decision")
