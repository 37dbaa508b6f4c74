"""A connection's mapping against what its platform declares, at the time it is saved.

``mapping_check`` refuses a listing id, metadata code or credential that breaks one of the adapter's
``mapping_rules`` (lengths, patterns, required values from the platform's published schema), naming the
field and the limit: otherwise the platform would refuse every push built from it. ``connection_validate``
runs it, so the API and the admin form give the same answer.

``settings_ignored`` lists the PMS settings a platform's push cannot carry (by its ``capabilities``), so
staff see at mapping time that, say, closed-to-arrival will not reach it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from adapters import registry
from adapters.base import Capability, MappingRule

LISTING = "platform_listing_id"
METADATA = "platform_metadata"


def mapping_check(
    *,
    platform_type: str,
    platform_listing_id: str,
    platform_metadata: Mapping[str, object],
    credentials: Mapping[str, str],
    creating: bool,
) -> None:
    """Raise ``ValidationError`` ({field: [messages]}) for every value that breaks a rule of the platform.

    Metadata problems are reported on ``platform_metadata`` with the key in the message; credentials are
    checked when they are set (``credentials``), and a required one also when a connection is created
    without it or is cleared.
    """
    platform = registry.adapters().get(platform_type)
    errors: dict[str, list[str]] = {}
    for rule in platform.mapping_rules if platform else ():
        field, label, value, present = _value(rule, platform_listing_id, platform_metadata, credentials, creating)
        if not present:
            continue
        problem = _problem(rule, label, value, clears=field == rule.field and field != LISTING)
        if problem:
            errors.setdefault(field, []).append(problem)
    if errors:
        raise ValidationError(errors)


def _value(rule: MappingRule, listing_id, metadata, credentials, creating):
    """(error field, label, value, whether to check it) for one rule."""
    if rule.field == LISTING:
        return LISTING, LISTING, listing_id, True
    if rule.in_metadata:
        present = isinstance(metadata, Mapping) and rule.field in metadata
        return METADATA, f"{METADATA}.{rule.field}", metadata.get(rule.field) if present else None, present
    if rule.field in credentials:
        return rule.field, rule.field, credentials[rule.field], True
    return rule.field, rule.field, None, creating and rule.required


def _problem(rule: MappingRule, label: str, value: object, *, clears: bool) -> str | None:
    """What is wrong with ``value``, naming the field and the limit; ``clears``: an empty value
    clears a credential, which only a required one refuses."""
    why = f"({rule.source})"
    if value is None or value == "":
        if rule.required:
            return f"{label} is required {why}"
        # An empty code would be sent as is (the adapters fall back only when it is absent).
        return None if clears or not rule.min_length else f"{label} must not be empty {why}"
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return f"{label} must be a string {why}"
    text = str(value)
    if len(text) < rule.min_length:
        return f"{label} must be at least {rule.min_length} characters {why}"
    if rule.max_length is not None and len(text) > rule.max_length:
        return f"{label} must be at most {rule.max_length} characters {why}"
    if rule.pattern and not re.fullmatch(rule.pattern, text):
        return f"{label} must match {rule.pattern} {why}"
    if rule.max_value is not None and (not text.isdigit() or int(text) > rule.max_value):
        return f"{label} must be at most {rule.max_value} {why}"
    return None


# --- what a platform's push cannot carry ----------------------------------------------------------


@dataclass(frozen=True)
class PmsSetting:
    name: str
    label: str
    needs: frozenset[Capability]


def pms_settings() -> tuple[PmsSetting, ...]:
    _arrival = {Capability.PUSH_RESTRICTIONS, Capability.CLOSED_TO_ARRIVAL_DEPARTURE}
    return (
        PmsSetting("price", "nightly price", frozenset({Capability.PUSH_PRICING})),
        PmsSetting(
            "price_per_night",
            "a different price on each night",
            frozenset({Capability.PUSH_PRICING, Capability.PER_NIGHT_PRICE}),
        ),
        PmsSetting("min_stay", "minimum stay", frozenset({Capability.PUSH_RESTRICTIONS})),
        PmsSetting("max_stay", "maximum stay", frozenset({Capability.PUSH_MAX_STAY})),
        PmsSetting("closed_to_arrival", "closed to arrival", frozenset(_arrival)),
        PmsSetting("closed_to_departure", "closed to departure", frozenset(_arrival)),
        PmsSetting("stop_sell", "stop-sell", frozenset({Capability.PUSH_AVAILABILITY})),
    )


def settings_ignored(platform_type: str) -> list[PmsSetting]:
    """The PMS settings that never reach ``platform_type``: its push lacks a capability they need."""
    platform = registry.adapters().get(platform_type)
    capabilities = platform.capabilities if platform else frozenset()
    return [setting for setting in pms_settings() if not setting.needs <= capabilities]
