"""The limits OTA 2015B puts on the codes a connection maps to (Booking.com and Google send the same
``OTA_HotelAvailNotifRQ`` / ``OTA_HotelRateAmountNotifRQ``), checked when a connection is saved.

From ``ota/2015B/OTA_CommonTypes.xsd`` and ``OTA_HotelCommonTypes.xsd``: ``HotelCode`` is
``StringLength1to16``, ``StatusApplicationControl@InvTypeCode`` is ``StringLength1to16`` and
``@RatePlanCode`` is ``StringLength1to64`` (``RatePlanCodeTypeGroup``).
"""

from __future__ import annotations

from adapters.base import MappingRule

OTA_MAPPING_RULES = (
    MappingRule("platform_listing_id", "OTA HotelCode (StringLength1to16)", min_length=1, max_length=16),
    MappingRule("room_id", "OTA InvTypeCode (StringLength1to16)", in_metadata=True, min_length=1, max_length=16),
    MappingRule("rate_plan_id", "OTA RatePlanCode (StringLength1to64)", in_metadata=True, min_length=1, max_length=64),
)
