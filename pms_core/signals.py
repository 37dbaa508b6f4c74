"""What changed in the PMS, told to whoever listens (staff alerts, integrator webhooks, the revision feed).

``booking_changed`` is sent inside the transaction that makes the change, after the row is written: a
receiver that records something (an outbox row, a revision) commits or rolls back with the change, so
nothing is announced that did not happen and nothing that happened goes unannounced. Receivers must not
call the network or raise; they run while the unit's lock is held.
"""

from __future__ import annotations

from django.dispatch import Signal

# The ``change`` a receiver is told, in integrators' words (``booking.<change>`` events).
CREATED = "created"
MODIFIED = "modified"
CANCELLED = "cancelled"
OVERBOOKED = "overbooked"  # it holds nights another stay holds too: staff must decide
RESOLVED = "resolved"  # an overbooking ended: confirmed, moved, accepted or cancelled
CHANGES = (CREATED, MODIFIED, CANCELLED, OVERBOOKED, RESOLVED)

# kwargs: booking (the row as it is after the change), change (one of CHANGES), actor (str)
booking_changed = Signal()


def booking_announce(*, booking, change: str, actor: str = "system") -> None:
    assert change in CHANGES, change
    booking_changed.send(sender=type(booking), booking=booking, change=change, actor=actor)


# kwargs: prop (a property with a new currency, not yet saved). Sent by ``property_validate``; unlike the
# signal above, a receiver refuses the change by raising ``ValidationError`` naming ``currency`` (a
# channel's price rule adds an amount the new currency cannot carry).
property_currency_check = Signal()

# kwargs: prop (a property just saved with a new time zone), inside the transaction that saves it; and
# unit, when only that unit changed zone (moved to ``prop``, a property in another zone). A receiver may
# record what it needs to (the channels' window marks); it must not raise or call the network.
property_timezone_changed = Signal()
