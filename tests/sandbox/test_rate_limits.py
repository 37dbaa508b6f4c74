import pytest

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
