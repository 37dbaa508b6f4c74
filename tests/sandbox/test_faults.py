import threading
import time

from testkit import wait_for

FEWO = {"X-Api-Key": "sandbox-fewo-key"}


def test_down_answers_every_api_request_with_503(sandbox):
    sandbox.post("/_control/fewo_direkt/faults", json={"down": True})
    assert sandbox.get("/fewo_direkt/v1/ping", headers=FEWO).status_code == 503
    assert sandbox.get("/_state/fewo_direkt/stats").status_code == 200
    sandbox.delete("/_control/fewo_direkt/faults")
    assert sandbox.get("/fewo_direkt/v1/ping", headers=FEWO).status_code == 200


def test_an_error_rate_of_one_answers_with_the_chosen_status(sandbox):
    sandbox.post("/_control/fewo_direkt/faults", json={"error_rate": 1, "status": 502})
    answer = sandbox.get("/fewo_direkt/v1/ping", headers=FEWO)
    assert answer.status_code == 502 and answer.json()["errors"]


def test_an_error_rate_hits_about_that_share(sandbox):
    sandbox.post("/_control/fewo_direkt/faults", json={"error_rate": 0.5})
    codes = [sandbox.get("/fewo_direkt/v1/ping", headers=FEWO).status_code for _ in range(25)]
    assert 0 < codes.count(500) < 25


def test_latency_delays_the_answer(sandbox):
    sandbox.post("/_control/fewo_direkt/faults", json={"latency_ms": 150})
    started = time.monotonic()
    sandbox.get("/fewo_direkt/v1/ping", headers=FEWO)
    assert time.monotonic() - started >= 0.15


def test_invalid_fault_settings_are_refused(sandbox):
    assert sandbox.post("/_control/airbnb/faults", json={"error_rate": 2}).status_code == 400
    assert sandbox.post("/_control/airbnb/faults", json={"down": "yes"}).status_code == 400


def test_a_fault_can_be_limited_to_named_endpoints(sandbox):
    sandbox.post("/_control/fewo_direkt/faults", json={"error_rate": 1, "status": 409, "endpoints": ["availability"]})
    assert sandbox.get("/fewo_direkt/v1/ping", headers=FEWO).status_code == 200  # another endpoint: untouched
    answer = sandbox.put("/fewo_direkt/v1/listings/FW-1/availability", headers=FEWO, json={"days": []})
    assert answer.status_code == 409  # the injected status, not the endpoint's own answer
    assert sandbox.get("/_control/fewo_direkt/faults").json()["endpoints"] == ["availability"]
    assert sandbox.post("/_control/airbnb/faults", json={"endpoints": "bc"}).status_code == 400


def test_a_slow_answer_counts_against_the_limit_when_the_request_arrives(sandbox):
    """A platform counts a request as it arrives, however long it takes to answer. (The sandbox counted it
    after the delay: a request the client had given up on landed in a later window than the client's
    limiter had put it, and the soak read that as a violation of the limit.)"""
    sandbox.post("/_control/fewo_direkt/rate-limit", json={"limit": 1, "window": 60})
    sandbox.post("/_control/fewo_direkt/faults", json={"latency_ms": 1500, "endpoints": ["ping"]})
    before = sandbox.stats("fewo_direkt")["requests"].get("GET ping", 0)
    slow = threading.Thread(target=lambda: sandbox.get("/fewo_direkt/v1/ping", headers=FEWO))
    slow.start()
    try:
        assert wait_for(lambda: sandbox.stats("fewo_direkt")["requests"].get("GET ping", 0) > before, timeout=5)
        # The first is still being answered: the second (to an endpoint answering at once), within the same
        # window, is over the limit now.
        answer = sandbox.get("/fewo_direkt/v1/listings/FW-1/reservations", headers=FEWO)
        assert answer.status_code == 429, answer.text
    finally:
        slow.join()
        sandbox.delete("/_control/fewo_direkt/rate-limit")
