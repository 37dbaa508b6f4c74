"""Everything that changes the PMS core goes through these functions (keyword-only arguments).

Each change writes its ``OutboxEvent`` in the same transaction.
"""

from pms_core.services.bookings import (
    booking_cancel,
    booking_change_unit,
    booking_create,
    booking_modify,
    booking_record_cancelled,
    booking_record_version,
    booking_rename_channel_id,
    booking_retire_channel_id,
)
from pms_core.services.calendar import (
    calendar_block,
    calendar_set,
    calendar_set_prices,
    calendar_set_restrictions,
    calendar_unblock,
)

__all__ = [
    "booking_cancel",
    "booking_change_unit",
    "booking_create",
    "booking_modify",
    "booking_record_cancelled",
    "booking_record_version",
    "booking_rename_channel_id",
    "booking_retire_channel_id",
    "calendar_block",
    "calendar_set",
    "calendar_set_prices",
    "calendar_set_restrictions",
    "calendar_unblock",
]
