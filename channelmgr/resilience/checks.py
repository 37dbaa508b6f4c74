"""System check: every platform's rate limit and window are usable, named by their setting."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from channelmgr.resilience.limiter import platform_rate_settings


@checks.register()
def check_rate_limits(app_configs=None, **kwargs):
    errors = []
    for platform, values in getattr(settings, "PLATFORMS", {}).items():
        if values.get("rate_limit") is None and values.get("rate_window") is None:
            continue  # no shared limit declared (a feed): its calls are not rate-limited
        try:
            platform_rate_settings(platform)
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), id="channelmgr.E101"))
    return errors
