import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sandbox.ratelimit import SlidingWindowLimiter, default_limits
from tests.sandbox.conftest import BOOKING_AUTH

FEWO = {"X-Api-Key": "sandbox-fewo-key"}


def test_the_default_limits_are_the_documented_ones():
    assert default_limits() == {
        "airbnb": (10, 1.0),
        "booking_com": (20, 60.0),
        "expedia": (50, 1.0),
        "fewo_direkt": (30, 1.0),
        "google": (100, 1.0),
    }


def test_it_answers_429_with_retry_after_past_the_limit(tuned_sandbox):
    sandbox = tuned_sandbox(rate_limits={"fewo_direkt": (3, 30.0)})
    assert [sandbox.get("/fewo_direkt/v1/ping", headers=FEWO).status_code for _ in range(3)] == [200] * 3
    answer = sandbox.get("/fewo_direkt/v1/ping", headers=FEWO)
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["Retry-After"]) <= 30
    assert answer.json()["errors"][0]["code"] == "RATE_LIMITED"
    assert sandbox.stats("fewo_direkt")["rate_limit_violations"] == 1


def test_the_window_slides(tuned_sandbox):
    clock = [0.0]
    limiter = SlidingWindowLimiter({"airbnb": (2, 1.0)}, clock=lambda: clock[0])
    assert limiter.hit("airbnb", "a") is None
    clock[0] = 0.5
    assert limiter.hit("airbnb", "a") is None
    assert limiter.hit("airbnb", "a") == 1
    clock[0] = 1.0
    assert limiter.hit("airbnb", "a") is None
    assert limiter.hit("airbnb", "a") is not None


def test_accounts_have_their_own_windows():
    limiter = SlidingWindowLimiter({"airbnb": (1, 1.0)}, clock=lambda: 0.0)
    assert limiter.hit("airbnb", "a") is None
    assert limiter.hit("airbnb", "b") is None
    assert limiter.hit("airbnb", "a") is not None


@pytest.mark.parametrize("slug", ["booking_com", "expedia", "google", "airbnb"])
def test_each_platform_answers_429_in_its_own_format(tuned_sandbox, slug):
    sandbox = tuned_sandbox(rate_limits={slug: (1, 30.0)})
    send = {
        "booking_com": lambda: sandbox.get("/booking_com/hotels/ota/OTA_HotelResNotif?hotel_ids=1", auth=BOOKING_AUTH),
        "expedia": lambda: sandbox.post(
            "/expedia/eqc/br",
            data=b'<BookingRetrievalRQ xmlns="http://www.expediaconnect.com/EQC/BR/2014/01">'
            b'<Authentication username="sandbox-expedia" password="sandbox-expedia-pass"/></BookingRetrievalRQ>',
        ),
        "google": lambda: sandbox.get("/google/v1/partner", headers=headers),
        "airbnb": lambda: sandbox.get("/airbnb/v2/users/me", headers=headers),
    }[slug]
    headers = sandbox.bearer(slug) if slug in ("airbnb", "google") else {}
    assert send().status_code == 200
    answer = send()
    assert answer.status_code == 429 and answer.headers["Retry-After"]
    marker = {
        "booking_com": b'Type="12"',
        "expedia": b'code="4000"',
        "google": b"RESOURCE_EXHAUSTED",
        "airbnb": b"rate_limited",
    }
    assert marker[slug] in answer.content


def test_booking_com_allows_20_requests_a_minute_by_default(sandbox):
    codes = [
        sandbox.get("/booking_com/hotels/ota/OTA_HotelResNotif?hotel_ids=1", auth=BOOKING_AUTH).status_code
        for _ in range(21)
    ]
    assert codes == [200] * 20 + [429]
    assert sandbox.stats("booking_com")["rate_limit_violations"] == 1


def test_control_endpoints_are_never_limited(tuned_sandbox):
    sandbox = tuned_sandbox(rate_limits={"airbnb": (1, 30.0)})
    assert all(sandbox.get("/_state/airbnb/stats").status_code == 200 for _ in range(5))


# The control API's rate limit: a benchmark of our engine raises a platform's limit so that it never binds.


def _pings(sandbox, count: int) -> list[int]:
    return [sandbox.get("/fewo_direkt/v1/ping", headers=FEWO).status_code for _ in range(count)]


def test_a_raised_limit_admits_what_the_default_refused_and_delete_restores_it(tuned_sandbox):
    sandbox = tuned_sandbox(rate_limits={"fewo_direkt": (2, 30.0)})
    assert sandbox.get("/_control/fewo_direkt/rate-limit").json() == {"limit": 2, "window": 30.0}
    answer = sandbox.post("/_control/fewo_direkt/rate-limit", json={"limit": 5, "window": 30})
    assert answer.status_code == 200 and answer.json() == {"limit": 5, "window": 30.0}
    assert _pings(sandbox, 6) == [200] * 5 + [429]
    assert sandbox.delete("/_control/fewo_direkt/rate-limit").json() == {"limit": 2, "window": 30.0}
    assert _pings(sandbox, 1) == [429]  # the five already counted are still in the window


def test_reset_brings_the_started_limits_back(sandbox):
    sandbox.post("/_control/booking_com/rate-limit", json={"limit": 1000, "window": 1})
    sandbox.post("/_control/reset")
    assert sandbox.get("/_control/booking_com/rate-limit").json() == {"limit": 20, "window": 60.0}


def test_a_platform_without_a_limit_says_so(sandbox):
    assert sandbox.get("/_control/ical/rate-limit").json() == {"limit": None, "window": None}


@given(
    body=st.one_of(
        st.dictionaries(
            st.sampled_from(["limit", "window", "burst"]),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=3),
            ),
        ),
        st.lists(st.integers(), max_size=2),
        st.text(max_size=5),
    )
)
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_body_is_either_a_valid_limit_or_a_400_that_changes_nothing(sandbox, body):
    sandbox.app.limiter.reset()
    answer = sandbox.post("/_control/airbnb/rate-limit", json=body)
    limit = sandbox.get("/_control/airbnb/rate-limit").json()
    valid = (
        isinstance(body, dict)
        and set(body) == {"limit", "window"}
        and type(body["limit"]) is int
        and 1 <= body["limit"] <= 1_000_000
        and type(body["window"]) in (int, float)
        and 0 < body["window"] <= 86_400
    )
    if valid:
        assert answer.status_code == 200 and limit == {"limit": body["limit"], "window": float(body["window"])}
    else:
        assert answer.status_code == 400 and answer.json()["error"]
        assert limit == {"limit": 10, "window": 1.0}


def test_the_window_reads_its_clock_under_its_lock():
    """Two requests racing: one that read the clock first and took the lock last would put an older time
    behind a newer one, and the window, which only looks at its oldest, kept that request too long."""
    held, made = [], []

    def clock() -> float:
        if made:
            held.append(made[0]._lock.locked())  # noqa: SLF001
        return 0.0

    made.append(SlidingWindowLimiter({"airbnb": (2, 1.0)}, clock=clock))
    made[0].hit("airbnb", "a")
    assert held == [True]


def test_a_refusal_is_recorded_with_what_its_window_held():
    clock = [100.0]
    limiter = SlidingWindowLimiter({"airbnb": (2, 10.0)}, clock=lambda: clock[0])
    limiter.hit("airbnb", "a")
    clock[0] = 103.0
    limiter.hit("airbnb", "a")
    clock[0] = 104.5
    assert limiter.hit("airbnb", "b") is None  # another account's window
    assert limiter.refusals("airbnb") == []
    assert limiter.hit("airbnb", "a") == 6
    (refusal,) = limiter.refusals("airbnb")
    assert refusal["account"] == "a" and refusal["counted"] == 2 and refusal["retry_after"] == 6
    assert (refusal["oldest_age"], refusal["newest_age"]) == (4.5, 1.5)
    # The test's clock stood still for 4.5 s of its own while the wall clock barely moved: that is a
    # step of the wall clock against it of about -4.5 s, which the record says.
    assert -4.6 < refusal["wall_clock_step"] < -4.4
    limiter.reset()
    assert limiter.refusals("airbnb") == []


def test_the_stats_list_the_refusals(tuned_sandbox):
    sandbox = tuned_sandbox(rate_limits={"fewo_direkt": (1, 30.0)})
    assert _pings(sandbox, 3) == [200, 429, 429]
    refusals = sandbox.stats("fewo_direkt")["rate_limit_refusals"]
    assert [r["counted"] for r in refusals] == [1, 1] and all(r["retry_after"] >= 1 for r in refusals)
    assert sandbox.stats("airbnb")["rate_limit_refusals"] == []
