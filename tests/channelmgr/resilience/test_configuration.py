"""Bad limiter configuration fails at start-up (or when built) with the setting's name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from channelmgr.models import ChannelConnection
from channelmgr.resilience.checks import check_rate_limits
from channelmgr.resilience.limiter import limiter_for

MANAGE = Path(__file__).resolve().parents[3] / "manage.py"


@pytest.mark.parametrize(
    "variable, value", [("AIRBNB_RATE_LIMIT", "0"), ("BOOKING_COM_RATE_LIMIT", "-3"), ("EXPEDIA_RATE_WINDOW", "-1")]
)
def test_manage_py_check_refuses_a_limit_or_window_that_is_not_positive(variable, value):
    env = {**os.environ, variable: value}
    done = subprocess.run([sys.executable, str(MANAGE), "check"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert variable in done.stderr


def test_the_system_check_names_a_bad_platform_setting(settings):
    settings.PLATFORMS = {**settings.PLATFORMS, "google": {**settings.PLATFORMS["google"], "rate_window": 0}}
    errors = check_rate_limits()
    assert [e.id for e in errors] == ["channelmgr.E101"]
    assert "GOOGLE_RATE_WINDOW" in errors[0].msg


def test_an_unknown_platform_is_refused_by_name():
    with pytest.raises(ImproperlyConfigured, match="PLATFORMS: unknown platform 'myspace'"):
        limiter_for(platform="myspace", account="app")


def test_a_connection_override_of_zero_is_refused_by_name():
    with pytest.raises(ImproperlyConfigured, match="ChannelConnection 7 rate_limit"):
        limiter_for(platform="airbnb", account="app", connection=ChannelConnection(pk=7, rate_limit=0))


def test_limiter_for_uses_the_platforms_defaults():
    limiter = limiter_for(platform="booking_com", account="hotel-1")
    assert (limiter.limit, limiter.window, limiter.key) == (20, 60.0, "ratelimit:booking_com:hotel-1")
