"""Update shapes every XML adapter test sends: one date, many ranges, a restriction-only change, a closure."""

import datetime as dt
from decimal import Decimal

from adapters.base import AvailabilityRange, AvailabilityUpdate, DayRange, PriceRange, PricingUpdate

START = dt.date(2027, 7, 1)


def night(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def avail(a: int, b: int, **fields) -> AvailabilityRange:
    fields.setdefault("available", True)
    return AvailabilityRange(range=DayRange(night(a), night(b)), **fields)


def price(a: int, b: int, amount: str = "120.00", currency: str = "EUR") -> PriceRange:
    return PriceRange(range=DayRange(night(a), night(b)), price=Decimal(amount), currency=currency)


def availability_shapes(listing: str) -> dict[str, AvailabilityUpdate]:
    return {
        "one date": AvailabilityUpdate(listing, (avail(0, 1),)),
        "many ranges": AvailabilityUpdate(
            listing,
            tuple(avail(2 * i, 2 * i + 2, available=i % 2 == 0, min_stay=1 + i % 3) for i in range(12)),
        ),
        "restriction only": AvailabilityUpdate(
            listing, (avail(0, 5, min_stay=3, closed_to_arrival=True, closed_to_departure=True),)
        ),
        "closure": AvailabilityUpdate(listing, (avail(0, 3, available=False), avail(3, 7, stop_sell=True))),
        # At 1, at 30, at each platform's ceiling (Expedia 28, Booking.com 90, Google and FeWo-direkt 365,
        # Airbnb 1125), beyond every ceiling and unset: each adapter caps at its own.
        "max stay": AvailabilityUpdate(
            listing,
            tuple(
                avail(2 * i, 2 * i + 2, min_stay=1, max_stay=stay)
                for i, stay in enumerate([1, 30, 28, 90, 365, 1125, 5000, None])
            ),
        ),
    }


def pricing_shapes(listing: str) -> dict[str, PricingUpdate]:
    return {
        "one date": PricingUpdate(listing, (price(0, 1),)),
        "many ranges": PricingUpdate(listing, tuple(price(i, i + 1, f"{100 + i}.50") for i in range(12))),
        # Each currency with exactly its ISO 4217 decimals: JPY none, KWD three.
        "yen": PricingUpdate(listing, (price(0, 1, "12000", "JPY"), price(1, 2, "12000.000", "JPY"))),
        "dinar": PricingUpdate(listing, (price(0, 1, "12.345", "KWD"),)),
    }
