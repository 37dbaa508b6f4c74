"""Prices and restrictions reach the platforms, driven by random sequences (a Hypothesis state machine).

Invariant, checked whenever the system is quiet (the ``settle_and_check`` rule and the end of every run):
for every active connection and every night of its sync window, the platform holds the price (through the
connection's price rule, in the property's currency) and every restriction it takes (min stay, max stay up
to its ceiling, closed to arrival/departure, stop-sell or closed) that the PMS holds for that unit and night.
FeWo-direkt may refuse for good a minimum stay over a limit the run sets (``fewo_limits_the_minimum_stay``):
its connection is then held to close-outs, and on it every night a stay holds must still be closed, until
staff resume it (``staff_resume_held_connections``). Booking.com never refuses: its connections stay active.

Two units of one property, each on FeWo-direkt and on Booking.com (one hotel, a room type each, so
Booking.com pushes are account-batched). Every step is a PMS or staff action through the real services;
``settle`` (from ``test_prices_reach_platforms``) is the outbox consumer, the scheduler's window-edge job and
sweep, and every connection's pushes. The fake platforms apply each request as it lands.

The expected values come from a model the test keeps on its own, with the PMS's storage rule (a night
stores a value only where it differs from the unit's default *when it is set*: setting a night to the
default, or ``None``, makes it follow the default from then on). The price rule and each platform's wire
rules are re-implemented here (``_expected_price``), not taken from ``channelmgr.price_rules``.

CI runs 25 examples; ``PRICES_STATE_MACHINE_EXAMPLES=200`` (and ``PRICES_STATE_MACHINE_STEPS``) hunt longer.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import zoneinfo
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import pytest
import responses
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from channelmgr.models import ChannelConnection, DirtyRange
from channelmgr.services.connections import connection_resume, connection_update
from pms_core.errors import BookingClash
from pms_core.models import Booking, OutboxEvent, Property, Unit
from pms_core.selectors import calendar_nights
from pms_core.services import booking_cancel, booking_create, calendar_set_prices
from pms_core.services.calendar import calendar_set_restrictions
from pms_core.services.catalog import property_update, unit_update
from tests.channelmgr.sync.test_prices_reach_platforms import (
    FakePlatforms,
    fake_platform_routes,
    settle,
)

SYNC_WINDOW_DAYS = 20
NOW = dt.datetime(2027, 6, 20, 10, 0, tzinfo=dt.UTC)
TZ = "Europe/Berlin"
# A property's today runs from UTC-11 to UTC+14 (``change_timezone``).
TIMEZONES = ["Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Los_Angeles"]
EXAMPLES = int(os.environ.get("PRICES_STATE_MACHINE_EXAMPLES", "25"))
STEPS = int(os.environ.get("PRICES_STATE_MACHINE_STEPS", "20"))

# ISO 4217 minor units of the currencies the property may switch between.
MINOR_UNITS = {"EUR": 2, "CHF": 2, "GBP": 2, "JPY": 0, "KWD": 3}
# The platforms' longest maximum stay (docs/platforms.md): a longer one, or none, goes out as this.
MAX_STAY_CEILING = {"fewo_direkt": 365, "booking_com": 90}
MAX_FACTOR = 100  # docs of channelmgr.price_rules: a rule price above 100x the base is not applied
SETTLE_ROUNDS = 6  # settle()'s own 4, and two more for a night entering the window as it ends
KEEP = "keep"  # a restriction left out of the call
RESTRICTIONS = ("min_stay", "max_stay", "closed_to_arrival", "closed_to_departure", "stop_sell")
DEFAULTS_OFF = {"closed_to_arrival": False, "closed_to_departure": False, "stop_sell": False}

offsets = st.integers(min_value=-2, max_value=SYNC_WINDOW_DAYS + 8)  # from the property's today
lengths = st.integers(min_value=1, max_value=8)
# A price: a whole amount, or one in the currency's minor units.
prices = st.one_of(
    st.tuples(st.just("whole"), st.integers(min_value=1, max_value=9)),  # where a rule may give nothing sane
    st.tuples(st.just("whole"), st.integers(min_value=10, max_value=600)),
    st.tuples(st.just("minor"), st.integers(min_value=1, max_value=60000)),
)
flags = st.sampled_from([KEEP, None, True, False])
# A connection's price rule: percent, amount (as typed; None: none) and rounding. Some are refused.
price_rules = st.tuples(
    st.sampled_from([None, "0", "10", "12.5", "-20", "-50", "33.333", "-99.999", "250", "10000"]),
    st.sampled_from([None, "0", "5", "-5", "0.50", "0.005", "-60", "-120", "1000"]),
    st.sampled_from(["none", "whole", "x9", "x99"]),
)


# --- the price rule and the wire, written here from the docs ------------------------------------------


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


def _up_to_ending(price: Decimal, step: int, ending: int) -> Decimal:
    """The smallest whole amount ``n >= price`` with ``n % step == ending``."""
    n = int(price.to_integral_value(rounding=ROUND_CEILING))
    return Decimal(n + (ending - n % step) % step)


def _expected_price(base: Decimal, rule: tuple[Decimal, Decimal, str], currency: str) -> Decimal:
    """What a platform should receive for a night priced ``base``: ``base * (1 + percent/100) + amount``,
    rounded; where that is not above 0 and at most 100x the base, ``base`` itself."""
    percent, amount, rounding = rule
    if not percent and not amount and rounding == "none":
        return base
    marked = base * (1 + percent / 100) + amount
    quantum = _quantum(currency)
    if rounding == "whole":
        price = marked.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    elif rounding == "x9":
        price = _up_to_ending(marked, 10, 9)
    elif rounding == "x99" and quantum >= 1:
        price = _up_to_ending(marked, 100, 99)
    elif rounding == "x99":
        whole = marked.to_integral_value(rounding=ROUND_CEILING) - 1  # the .99 at or above ``marked``
        price = whole + Decimal("0.99") if whole + Decimal("0.99") >= marked else whole + Decimal("1.99")
    else:
        price = marked.quantize(quantum, rounding=ROUND_HALF_UP)
    return price if 0 < price <= base * MAX_FACTOR else base


def _wire(amount: Decimal, currency: str) -> str:
    return f"{amount.quantize(_quantum(currency)):f}"


def _fits(amount: Decimal, currency: str) -> bool:
    return amount == amount.quantize(_quantum(currency))


class PricesReachPlatforms(RuleBasedStateMachine):
    """Fresh property, units and connections in a savepoint each run, rolled back at its end."""

    organization = None
    clock = None
    platforms: FakePlatforms | None = None
    ids = itertools.count(1)

    def __init__(self):
        super().__init__()
        self.clock.move_to(NOW)
        cache.clear()  # debounce flags, limiter and breaker state of the previous run
        self.platforms.held.clear()
        self.platforms.longest_min_stay, self.platforms.refusals = None, 0
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        n = next(self.ids)
        self.prop = Property.objects.create(organization=self.organization, name=f"Haus {n}", timezone=TZ)
        self.units = [
            Unit.objects.create(property=self.prop, name="A", base_price=Decimal("150.00"), default_min_stay=2),
            Unit.objects.create(property=self.prop, name="B", base_price=Decimal("90.00"), default_min_stay=1),
        ]
        self.connections: list[ChannelConnection] = []
        for index, unit in enumerate(self.units):
            room = "AB"[index]
            self.connections.append(
                ChannelConnection.objects.create(
                    organization=self.organization,
                    unit=unit,
                    platform_type="fewo_direkt",
                    platform_listing_id=f"L-{room}",
                    api_key="fewo-key",
                    rate_limit=1000,
                    rate_window=1.0,
                )
            )
            self.connections.append(
                ChannelConnection.objects.create(
                    organization=self.organization,
                    unit=unit,
                    platform_type="booking_com",
                    platform_listing_id="H1",
                    platform_metadata={"room_id": f"R{room}", "rate_plan_id": "BAR"},
                    username="bdc-user",
                    password="bdc-pass",
                    rate_limit=500,
                    rate_window=60.0,
                )
            )
        # --- the model ---
        self.currency = "EUR"
        self.tz = TZ
        self.base = {u.pk: u.base_price for u in self.units}
        self.min_default = {u.pk: u.default_min_stay for u in self.units}
        self.max_default: dict[int, int | None] = {u.pk: None for u in self.units}
        # (unit id, night) -> {field: value}; a field absent or None follows the unit's default
        self.days: dict[tuple[int, dt.date], dict] = {}
        self.stays: dict[int, tuple[int, dt.date, dt.date]] = {}  # booking id -> (unit id, check-in, check-out)
        self.rules = {c.pk: (Decimal(0), Decimal(0), "none") for c in self.connections}

    def teardown(self):
        try:
            self._settle()
            self._check()
        finally:
            transaction.set_rollback(True)
            self._savepoint.__exit__(None, None, None)

    # --- helpers -----------------------------------------------------------------------------------

    def _today(self) -> dt.date:
        return timezone.now().astimezone(zoneinfo.ZoneInfo(self.tz)).date()

    def _span(self, start: int, length: int) -> tuple[dt.date, dt.date]:
        first = self._today() + dt.timedelta(days=start)
        return first, first + dt.timedelta(days=length)

    def _price(self, drawn: tuple[str, int]) -> Decimal:
        kind, n = drawn
        return Decimal(n) if kind == "whole" else Decimal(n).scaleb(-MINOR_UNITS[self.currency])

    def _unit(self, index: int) -> Unit:
        return Unit.objects.select_related("property").get(pk=self.units[index].pk)

    def _defaults(self, unit_id: int) -> dict:
        return {
            "price": self.base[unit_id],
            "min_stay": self.min_default[unit_id],
            "max_stay": self.max_default[unit_id],
            **DEFAULTS_OFF,
        }

    def _night(self, unit_id: int, night: dt.date) -> dict:
        """What the PMS holds for the night, by the model."""
        row = self.days.get((unit_id, night), {})
        values = {
            name: row.get(name) if row.get(name) is not None else default
            for name, default in self._defaults(unit_id).items()
        }
        values["booked"] = any(u == unit_id and a <= night < b for u, a, b in self.stays.values())
        return values

    def _stays_clash(self, rows: dict, unit_id: int, dmin: int, dmax: int | None) -> bool:
        """A night whose maximum stay (as it applies) is below its minimum stay."""
        for (u, _night), row in rows.items():
            if u != unit_id:
                continue
            low = row.get("min_stay") if row.get("min_stay") is not None else dmin
            high = row.get("max_stay") if row.get("max_stay") is not None else dmax
            if high is not None and high < low:
                return True
        return False

    def _set(self, unit_id: int, start: dt.date, end: dt.date, values: dict) -> dict:
        """The model's nights after ``calendar_set(values)`` on ``[start, end)``: a value equal to the
        unit's default (or None) is stored as "follow the default"."""
        defaults = self._defaults(unit_id)
        rows = dict(self.days)
        night = start
        while night < end:
            row = dict(rows.get((unit_id, night), {}))
            for name, value in values.items():
                row[name] = None if value is None or value == defaults[name] else value
            rows[(unit_id, night)] = row
            night += dt.timedelta(days=1)
        return rows

    def _quiet(self) -> bool:
        """Nothing left to do: every event consumed, nothing dirty that a push would send (a connection held
        to close-outs keeps its prices dirty for its resume), every window marked to its end."""
        ends = {c.pk: self._today() + dt.timedelta(days=SYNC_WINDOW_DAYS) for c in self.connections}
        marked = dict(ChannelConnection.objects.filter(pk__in=ends).values_list("pk", "window_marked_until"))
        return (
            not OutboxEvent.objects.filter(consumed_at__isnull=True).exists()
            and not DirtyRange.objects.filter(DirtyRange.pushed(), connection_id__in=ends).exists()
            and all(marked[pk] is not None and marked[pk] >= end for pk, end in ends.items())
        )

    def _settle(self):
        """``settle`` a round at a time until quiet (each round moves the clock on, which may carry a night
        into the window: then it is not quiet yet). Quiet at last, or the invariant could not hold."""
        for _ in range(SETTLE_ROUNDS):
            settle(self.connections, self.clock, rounds=1)
            if self._quiet():
                return
        dirty = list(DirtyRange.objects.filter(connection__in=self.connections).values_list("connection_id", "kind"))
        raise AssertionError(f"not quiet after {SETTLE_ROUNDS} rounds of settle: dirty {dirty}")

    # --- rules: PMS and staff actions ---------------------------------------------------------------

    @rule(unit=st.integers(0, 1), start=offsets, length=lengths, price=prices)
    def set_prices(self, unit, start, length, price):
        first, end = self._span(start, length)
        amount = self._price(price)
        target = self._unit(unit)
        calendar_set_prices(unit=target, start=first, end=end, price=amount)
        self.days = self._set(target.pk, first, end, {"price": amount})

    @rule(unit=st.integers(0, 1), start=offsets, length=lengths)
    def reset_prices(self, unit, start, length):
        first, end = self._span(start, length)
        target = self._unit(unit)
        calendar_set_prices(unit=target, start=first, end=end, price=None)
        self.days = self._set(target.pk, first, end, {"price": None})

    @rule(
        unit=st.integers(0, 1),
        start=offsets,
        length=lengths,
        min_stay=st.sampled_from([KEEP, None, 1, 2, 3, 5, 7]),
        max_stay=st.sampled_from([KEEP, None, 1, 3, 7, 30, 90, 91, 120, 400]),
        cta=flags,
        ctd=flags,
        stop_sell=flags,
    )
    def set_restrictions(self, unit, start, length, min_stay, max_stay, cta, ctd, stop_sell):
        first, end = self._span(start, length)
        target = self._unit(unit)
        given = dict(
            zip(RESTRICTIONS, (min_stay, max_stay, cta, ctd, stop_sell), strict=True),
        )
        values = {name: value for name, value in given.items() if value != KEEP}
        rows = self._set(target.pk, first, end, values)
        refused = bool({"min_stay", "max_stay"} & set(values)) and self._stays_clash(
            {k: v for k, v in rows.items() if first <= k[1] < end},
            target.pk,
            self.min_default[target.pk],
            self.max_default[target.pk],
        )
        try:
            calendar_set_restrictions(unit=target, start=first, end=end, **values)
        except ValidationError:
            assert refused, "refused although no night's maximum stay would be below its minimum"
            return
        assert not refused, "accepted a maximum stay below the minimum stay"
        self.days = rows

    @rule(
        unit=st.integers(0, 1),
        base=st.one_of(st.just(KEEP), prices),
        min_stay=st.sampled_from([KEEP, 1, 2, 3, 4]),
        max_stay=st.sampled_from([KEEP, None, 3, 14, 120]),
    )
    def change_unit_defaults(self, unit, base, min_stay, max_stay):
        target = self._unit(unit)
        fields = {}
        if base != KEEP:
            fields["base_price"] = self._price(base)
        if min_stay != KEEP:
            fields["default_min_stay"] = min_stay
        if max_stay != KEEP:
            fields["default_max_stay"] = max_stay
        if not fields:
            return
        dmin = fields.get("default_min_stay", self.min_default[target.pk])
        dmax = fields.get("default_max_stay", self.max_default[target.pk])
        refused = (dmax is not None and dmax < dmin) or self._stays_clash(self.days, target.pk, dmin, dmax)
        try:
            unit_update(unit=target, **fields)
        except ValidationError:
            assert refused, "refused defaults that every night can take"
            return
        assert not refused, "accepted defaults that give a night a maximum stay below its minimum"
        self.base[target.pk] = fields.get("base_price", self.base[target.pk])
        self.min_default[target.pk], self.max_default[target.pk] = dmin, dmax

    def _price_rule(self, index: int, percent: str | None, amount: str | None, rounding: str) -> None:
        """A refused rule (``price_rule_check``) changes nothing."""
        target = ChannelConnection.objects.select_related("unit__property").get(pk=self.connections[index].pk)
        percent = None if percent is None else Decimal(percent)
        amount = None if amount is None else Decimal(amount)
        try:
            connection_update(
                connection=target,
                price_rule_percent=percent,
                price_rule_amount=amount,
                price_rule_rounding=rounding,
            )
        except ValidationError:
            return
        self.rules[target.pk] = (percent or Decimal(0), amount or Decimal(0), rounding)

    @initialize(rules=st.lists(price_rules, min_size=4, max_size=4))
    def start_with_price_rules(self, rules):
        for index, (percent, amount, rounding) in enumerate(rules):
            self._price_rule(index, percent, amount, rounding)

    @rule(connection=st.integers(0, 3), price_rule=price_rules)
    def change_price_rule(self, connection, price_rule):
        self._price_rule(connection, *price_rule)

    @rule(unit=st.integers(0, 1), start=st.integers(-1, SYNC_WINDOW_DAYS + 5), length=st.integers(1, 5))
    def book_direct(self, unit, start, length):
        check_in, check_out = self._span(start, length)
        target = self._unit(unit)
        clash = any(u == target.pk and a < check_out and check_in < b for u, a, b in self.stays.values())
        try:
            booking = booking_create(unit=target, check_in=check_in, check_out=check_out)
        except BookingClash:
            assert clash, "refused although the nights were free"
            return
        assert not clash, "accepted onto held nights"
        self.stays[booking.pk] = (target.pk, check_in, check_out)

    @precondition(lambda self: self.stays)
    @rule(data=st.data())
    def cancel_direct(self, data):
        pk = data.draw(st.sampled_from(sorted(self.stays)))
        booking_cancel(booking=Booking.objects.get(pk=pk), actor="test")
        del self.stays[pk]

    @rule(days=st.integers(0, 40), hours=st.integers(0, 23))
    def move_clock(self, days, hours):
        self.clock.shift(dt.timedelta(days=days, hours=hours))

    @rule(data=st.data())
    def change_currency(self, data):
        amounts = [*self.base.values(), *(row["price"] for row in self.days.values() if row.get("price") is not None)]
        fitting = sorted(c for c in MINOR_UNITS if all(_fits(a, c) for a in amounts))
        currency = data.draw(st.sampled_from(fitting), label="currency")
        # A rule adding an amount the currency cannot carry (+0.50 in JPY) is refused with it, not rounded.
        refused = any(not _fits(amount, currency) for _percent, amount, _rounding in self.rules.values())
        try:
            property_update(prop=Property.objects.get(pk=self.prop.pk), currency=currency)
        except ValidationError:
            assert refused, "refused a currency every price and rule fits"
            return
        assert not refused, "accepted a currency a price rule's amount does not fit"
        self.currency = currency

    @rule(tz=st.sampled_from(TIMEZONES))
    def change_timezone(self, tz):
        property_update(prop=Property.objects.get(pk=self.prop.pk), timezone=tz)
        self.tz = tz

    @initialize(longest=st.sampled_from([None, 2, 3]))
    def fewo_limits_the_minimum_stay_from_the_start(self, longest):
        self.platforms.longest_min_stay = longest

    @rule(longest=st.sampled_from([None, 2, 3, 5]))
    def fewo_limits_the_minimum_stay(self, longest):
        """FeWo-direkt starts (or stops) refusing for good a minimum stay over ``longest``: the connection is
        held to close-outs, and every night a stay holds must still be closed there."""
        self.platforms.longest_min_stay = longest

    @rule()
    def staff_resume_held_connections(self):
        for connection in ChannelConnection.objects.filter(pk__in=[c.pk for c in self.connections]):
            if connection.status == ChannelConnection.Status.NEEDS_ATTENTION:
                connection_resume(connection=connection)

    @rule()
    def settle_and_check(self):
        self._settle()
        self._check()

    # --- the invariant --------------------------------------------------------------------------------

    def _expected(self, connection: ChannelConnection, night: dt.date) -> dict:
        pms = self._night(connection.unit_id, night)
        price = _expected_price(pms["price"], self.rules[connection.pk], self.currency)
        ceiling = MAX_STAY_CEILING[connection.platform_type]
        values = {
            "price": _wire(price, self.currency),
            "currency": self.currency,
            "min_stay": pms["min_stay"],
            "max_stay": ceiling if pms["max_stay"] is None else min(pms["max_stay"], ceiling),
            "cta": pms["closed_to_arrival"],
            "ctd": pms["closed_to_departure"],
        }
        open_ = not pms["booked"] and not pms["stop_sell"]
        if connection.platform_type == "fewo_direkt":  # no stop-sell on the wire: a stop-sold night is closed
            values["status"] = "AVAILABLE" if open_ else "UNAVAILABLE"
        else:
            values["booking_limit"] = 1 if open_ else 0
            values["stop_sell"] = pms["stop_sell"]
        return values

    def _key(self, connection: ChannelConnection) -> str:
        if connection.platform_type == "fewo_direkt":
            return connection.platform_listing_id
        meta = connection.platform_metadata
        return f"{connection.platform_listing_id}/{meta['room_id']}/{meta['rate_plan_id']}"

    def _check(self):
        today = self._today()
        window = [today + dt.timedelta(days=i) for i in range(SYNC_WINDOW_DAYS)]
        # The model says what the PMS says (else a mismatch below is the model's, not the sync's).
        for unit in self.units:
            fresh = Unit.objects.get(pk=unit.pk)
            for night in calendar_nights(unit=fresh, start=window[0], end=window[-1] + dt.timedelta(days=1)):
                ours = self._night(unit.pk, night.date)
                theirs = {
                    "price": night.price,
                    "min_stay": night.min_stay,
                    "max_stay": night.max_stay,
                    "closed_to_arrival": night.closed_to_arrival,
                    "closed_to_departure": night.closed_to_departure,
                    "stop_sell": night.stop_sell,
                    "booked": night.booking is not None,
                }
                assert theirs == ours, f"model and PMS differ on unit {unit.name} {night.date}: {theirs} != {ours}"
        wrong = []
        for connection in ChannelConnection.objects.filter(pk__in=[c.pk for c in self.connections]):
            key = self._key(connection)
            if connection.status != ChannelConnection.Status.ACTIVE:
                # Only FeWo-direkt refuses anything here, and only what it was told to: then the connection is
                # held to close-outs (its close-outs are never refused), and every night a stay holds is
                # closed there all the same.
                assert connection.platform_type == "fewo_direkt" and self.platforms.refusals, connection.status
                assert connection.closeouts_only, f"{key} stopped whole: {connection.last_error}"
                event("checked a connection held to close-outs")
                for night in window:
                    if self._night(connection.unit_id, night)["booked"]:
                        if self.platforms.night(key, night).get("status") != "UNAVAILABLE":
                            wrong.append(f"held {key} {night}: a stay holds it and it is open there")
                continue
            for night in window:
                expected = self._expected(connection, night)
                held = self.platforms.night(key, night)
                got = {name: held.get(name) for name in expected}
                if got != expected:
                    diff = {name: (got[name], expected[name]) for name in expected if got[name] != expected[name]}
                    wrong.append(f"{connection.platform_type} {key} {night}: (held, expected) {diff}")
        assert not wrong, f"{len(wrong)} night(s) differ (today {today}):\n" + "\n".join(wrong[:12])


@pytest.mark.django_db
# Passing takes seconds; a failure is shrunk for up to Hypothesis's five minutes, which the default 300 s
# timeout would cut short, reporting the timeout instead of the minimal sequence.
@pytest.mark.timeout(900)
def test_random_sequences_keep_every_platform_in_step(org_a, request):
    django_settings = request.getfixturevalue("settings")  # pytest-django's (``settings`` is Hypothesis's here)
    django_settings.PUSH_DEBOUNCE_SECONDS = 0.0
    django_settings.SYNC_WINDOW_DAYS = SYNC_WINDOW_DAYS
    traveller = time_machine.travel(NOW, tick=False)
    clock = traveller.start()
    fake = FakePlatforms()
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
            fake_platform_routes(fake, http)
            PricesReachPlatforms.organization = org_a
            PricesReachPlatforms.clock = clock
            PricesReachPlatforms.platforms = fake
            run_state_machine_as_test(
                PricesReachPlatforms,
                settings=settings(
                    max_examples=EXAMPLES,
                    stateful_step_count=STEPS,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                ),
            )
    finally:
        traveller.stop()
