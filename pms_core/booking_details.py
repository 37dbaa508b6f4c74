"""What a platform told us about a booking beyond the stay: taxes and fees, guests by type, the guest's
special requests, the sub-channel it was sold on, who collects the money, and the platform's own status.

The PMS stores these as they came (``Booking.PLATFORM_DETAIL_FIELDS``); it decides nothing from them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from django.core.exceptions import ValidationError

from pms_core.models import Booking

MAX_AMOUNT = Decimal("999999999999")  # Booking.taxes_amount: 15 digits, 3 of them decimals
MILLS = Decimal("0.001")  # the columns' three decimals
MAX_GUESTS = 32_767  # PositiveSmallIntegerField
MAX_REQUESTS = 50
MAX_REQUEST_LENGTH = 2_000


@dataclass(frozen=True)
class PlatformDetails:
    taxes_amount: Decimal | None = None
    fees_amount: Decimal | None = None
    adults: int | None = None
    children: int | None = None
    infants: int | None = None
    special_requests: tuple[str, ...] = ()
    sub_channel: str = ""
    payment_model: str = ""
    platform_status: str = ""

    def model_fields(self) -> dict:
        """The ``Booking`` fields these set, checked; raises ``ValidationError`` naming the field."""
        for name in ("taxes_amount", "fees_amount"):
            value = getattr(self, name)
            if value is not None and not (value.is_finite() and 0 <= value <= MAX_AMOUNT >= value.quantize(MILLS)):
                raise ValidationError({name: f"must be between 0 and {MAX_AMOUNT}"})
        for name in ("adults", "children", "infants"):
            value = getattr(self, name)
            if value is not None and not (0 <= value <= MAX_GUESTS):
                raise ValidationError({name: f"must be between 0 and {MAX_GUESTS}"})
        if self.payment_model and self.payment_model not in Booking.PaymentModel.values:
            raise ValidationError({"payment_model": f"one of {', '.join(Booking.PaymentModel.values)}"})
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        values["special_requests"] = [
            _storable(text)[:MAX_REQUEST_LENGTH] for text in self.special_requests[:MAX_REQUESTS] if _storable(text)
        ]
        for name in ("taxes_amount", "fees_amount"):
            if values[name] is not None:
                values[name] = values[name].quantize(MILLS)
        values["sub_channel"] = _storable(self.sub_channel)[:64]
        values["platform_status"] = _storable(self.platform_status)[:64]
        return values


def _storable(text: str) -> str:
    """Without NUL characters and lone surrogates, which Postgres refuses in text and jsonb."""
    return "".join(ch for ch in str(text) if ch != "\x00" and not 0xD800 <= ord(ch) <= 0xDFFF).strip()
