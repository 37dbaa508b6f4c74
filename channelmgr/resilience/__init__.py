"""Rate limiting and circuit breaking for platform requests, shared by every process through the cache.

``guard.guarded_call`` is what the sync engine uses; ``dramatiq_backpressure.BackpressureRetries``
turns the ``Backpressure`` it raises into a delayed re-enqueue that spends no retry.
"""

# Registers the system check wherever the package is imported (the broker's middleware imports it).
from channelmgr.resilience import checks  # noqa: F401
