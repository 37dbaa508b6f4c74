"""Every platform refuses a value of ours for good as a permanent error, and still takes a close-out.

The push engine relies on both (``push.push_refused``): a push refused for good holds its connection to
close-outs, which go out as closed nights with no restriction to refuse. Here each adapter meets the
sandbox's ``longest_min_stay`` fault (a platform that takes no minimum stay over 3 nights).
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from adapters.base import AvailabilityRange, AvailabilityUpdate, DayRange, PlatformAPIError
from tests.adapters.test_wire_limits import PUSH_SLUGS, sandbox_adapter, sandbox_calendar

LONGEST = 3


START = dt.date.today() + dt.timedelta(days=10)


def _update(listing: str, **values) -> AvailabilityUpdate:
    start = START
    return AvailabilityUpdate(
        listing, (AvailabilityRange(range=DayRange(start, start + dt.timedelta(days=2)), **values),)
    )


@pytest.mark.parametrize("slug", PUSH_SLUGS)
def test_a_refused_minimum_stay_is_permanent_and_a_closeout_still_goes(sandbox, slug):
    adapter, listing = sandbox_adapter(sandbox, slug)
    fault = requests.post(f"{sandbox}/_control/{slug}/faults", json={"longest_min_stay": LONGEST}, timeout=10)
    assert fault.status_code == 200, fault.text

    with pytest.raises(PlatformAPIError) as refused:
        adapter.update_availability(_update(listing, available=True, min_stay=LONGEST + 2))
    assert refused.value.permanent, refused.value

    adapter.update_availability(_update(listing, available=False))  # the close-outs form
    night = sandbox_calendar(sandbox, slug, listing, START, START + dt.timedelta(days=1))[0]
    assert night["available"] is False, night
    adapter.update_availability(_update(listing, available=True, min_stay=LONGEST))
    night = sandbox_calendar(sandbox, slug, listing, START, START + dt.timedelta(days=1))[0]
    assert (night["available"], night["min_stay"]) == (True, LONGEST), night


def test_the_fault_is_checked(sandbox):
    for bad in ({"longest_min_stay": 0}, {"longest_min_stay": True}, {"longest_min_stay": "3"}):
        answer = requests.post(f"{sandbox}/_control/fewo_direkt/faults", json=bad, timeout=10)
        assert answer.status_code == 400, (bad, answer.text)
