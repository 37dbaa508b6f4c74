"""What happened to a connection, told to whoever listens (staff alerts, integrator webhooks).

Sent synchronously, inside the caller's transaction where there is one; receivers record and return,
they never call the network or raise.
"""

from __future__ import annotations

from django.dispatch import Signal

# kwargs: connection, reason (str, already redacted). Sent on the transition into "needs attention" only.
connection_needs_attention = Signal()
# kwargs: connection. Sent on the transition out of "needs attention" (resumed, or healthy again).
connection_recovered = Signal()
# kwargs: connection, sync_log (the finished row, status failed), error (str, redacted)
sync_failed = Signal()
# kwargs: connection, drift (channelmgr.sync.reconcile.Drift with total > 0)
drift_detected = Signal()
# kwargs: connection, check_in, check_out. A stay imported through ``connection`` was sold on a listing
# it no longer maps (re-mapped while the booking was on its way): the listing it maps now must close
# those nights too, though a new stay's push skips its own platform (that platform "has it").
sold_on_former_listing = Signal()
