"""Moved to ``channelmgr.resilience.platform_calls``, where inbound and sync both reach it.

Only ``channelmgr/sync/reconcile.py`` still imports it from here; delete this module once it doesn't.
"""

from channelmgr.resilience.platform_calls import platform_call

__all__ = ["platform_call"]
