import base64
import hashlib
import hmac
import json
import time

import jwt

from tests.sandbox.conftest import FAST_BACKOFF


def book(sandbox, slug, listing="W1"):
    sandbox.listing(slug, listing)
    answer = sandbox.book(slug, listing, "2027-12-01", "2027-12-03")
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_airbnb_webhooks_carry_a_valid_hmac_signature(sandbox, receiver):
    code = book(sandbox, "airbnb")
    hook = receiver.wait_for(1, "/webhooks/airbnb")[0]
    parts = dict(p.split("=", 1) for p in hook["headers"]["X-Airbnb-Signature"].split(","))
    expected = hmac.new(
        b"sandbox-airbnb-webhook", parts["t"].encode() + b"." + hook["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(int(parts["t"]) - time.time()) < 60
    event = json.loads(hook["body"])
    assert event["type"] == "reservation.created" and event["confirmation_code"] == code and event["version"] == 1


def test_fewo_webhooks_carry_a_base64_signature_over_timestamp_newline_body(sandbox, receiver):
    rid = book(sandbox, "fewo_direkt")
    hook = receiver.wait_for(1, "/webhooks/fewo-direkt")[0]
    stamp = hook["headers"]["X-FeWo-Timestamp"]
    digest = hmac.new(b"sandbox-fewo-webhook", stamp.encode() + b"\n" + hook["body"], hashlib.sha256).digest()
    assert hook["headers"]["X-FeWo-Signature"] == base64.b64encode(digest).decode()
    event = json.loads(hook["body"])
    assert event["eventType"] == "RESERVATION_CREATED" and event["reservationId"] == rid


def test_google_pushes_carry_a_jwt_that_verifies_against_the_jwks(sandbox, receiver):
    rid = book(sandbox, "google")
    hook = receiver.wait_for(1, "/webhooks/google")[0]
    token = hook["headers"]["Authorization"].removeprefix("Bearer ")
    jwks = jwt.PyJWKSet.from_dict(sandbox.get("/google/oauth2/v3/certs").json())
    key = next(k for k in jwks.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=f"{receiver.base_url}/webhooks/google",
        issuer="https://accounts.google.com",
    )
    assert claims["email"] == "pubsub@sandbox-vr.iam.gserviceaccount.com" and claims["email_verified"] is True
    assert claims["exp"] - claims["iat"] == 3600
    push = json.loads(hook["body"])
    assert push["subscription"] == "projects/sandbox/subscriptions/vr"
    data = json.loads(base64.b64decode(push["message"]["data"]))
    assert data == {"eventType": "RESERVATION_CREATED", "reservationId": rid, "listingId": "W1", "revision": 1}
    assert push["message"]["attributes"] == {"eventType": "RESERVATION_CREATED"}
    assert push["message"]["messageId"] and push["message"]["publishTime"]


def test_modify_and_cancel_send_updated_and_cancelled_events(sandbox, receiver):
    code = book(sandbox, "airbnb")
    sandbox.post(f"/_control/airbnb/reservations/{code}/modify", json={"guest_name": "Grace Hopper"})
    sandbox.post(f"/_control/airbnb/reservations/{code}/cancel")
    events = sorted((json.loads(h["body"])["version"], json.loads(h["body"])["type"]) for h in receiver.wait_for(3))
    assert events == [(1, "reservation.created"), (2, "reservation.updated"), (3, "reservation.cancelled")]


def test_failed_deliveries_are_retried_and_counted(sandbox, receiver):
    receiver.statuses = [500, 503]
    book(sandbox, "airbnb")
    tries = receiver.wait_for(3, "/webhooks/airbnb")
    assert len({t["body"] for t in tries}) == 1
    time.sleep(0.05)
    stats = sandbox.stats("airbnb")
    assert (stats["webhooks_failed"], stats["webhooks_sent"]) == (2, 1)


def test_it_gives_up_after_five_tries(sandbox, receiver):
    receiver.statuses = [500] * 10
    book(sandbox, "fewo_direkt")
    time.sleep(sum(FAST_BACKOFF) + 0.5)
    assert len(receiver.received) == 5
    assert sandbox.stats("fewo_direkt")["webhooks_failed"] == 5


def test_a_replay_sends_the_same_bytes_and_headers_again(sandbox, receiver):
    book(sandbox, "airbnb")
    first = receiver.wait_for(1, "/webhooks/airbnb")[0]
    assert sandbox.post("/_control/airbnb/webhooks/replay/1").json() == {"replayed": 1}
    second = receiver.wait_for(2, "/webhooks/airbnb")[1]
    assert second["body"] == first["body"]
    assert second["headers"]["X-Airbnb-Signature"] == first["headers"]["X-Airbnb-Signature"]


def test_a_slow_receiver_does_not_slow_the_control_api(sandbox, receiver):
    receiver.delay = 1.0
    started = time.monotonic()
    book(sandbox, "airbnb")
    assert time.monotonic() - started < 0.5


def test_lost_webhooks_are_logged_as_sent_and_never_delivered(sandbox, receiver):
    """The ``webhooks_lost`` fault: the platform sent it, our side never got it (a secret rotated on one
    side only, an outage longer than the retries). Only a pull can then find the booking."""
    assert sandbox.post("/_control/airbnb/faults", json={"webhooks_lost": True}).status_code == 200
    book(sandbox, "airbnb")
    stats = sandbox.stats("airbnb")
    assert (stats["webhooks_failed"], stats["webhooks_sent"]) == (1, 0)  # counted as it is sent, not queued
    assert len(sandbox.get("/_state/airbnb/webhooks").json()) == 1  # the platform's log still shows it

    sandbox.delete("/_control/airbnb/faults")
    assert sandbox.post("/_control/airbnb/webhooks/replay/1").json() == {"replayed": 1}
    receiver.wait_for(1, "/webhooks/airbnb")
    assert len([r for r in receiver.received if r["path"] == "/webhooks/airbnb"]) == 1  # the replay alone


def test_webhooks_lost_must_be_true_or_false(sandbox):
    answer = sandbox.post("/_control/airbnb/faults", json={"webhooks_lost": "yes"})
    assert answer.status_code == 400 and "webhooks_lost" in answer.text
