"""The lease: one holder at a time, renewed while it lives, taken over when it runs out, and a holder
that lost it knows from its own clock (fencing). In memory on a fake clock, and in Redis for real."""

from __future__ import annotations

import random
import time

import pytest

from channelmgr.resilience.lease import Lease, LeaseKeeper, MemoryLeaseStore
from testkit import wait_for

TTL = 10.0


@pytest.fixture
def store(fake_clock):
    return MemoryLeaseStore(fake_clock)


def party(store, clock, name: str, ttl: float = TTL) -> Lease:
    return Lease(store, "scheduler", ttl, owner=name, clock=clock)


# --- the lease, in memory on a fake clock --------------------------------------------------------


def test_one_holder_at_a_time(store, fake_clock):
    a, b = party(store, fake_clock, "a"), party(store, fake_clock, "b")

    assert a.try_acquire().term == 1
    grant = b.try_acquire()

    assert grant.term == 0 and grant.free_in == pytest.approx(TTL)
    assert a.held() and not b.held()
    assert store.holder("scheduler") == "a"


def test_renewal_keeps_the_lease(store, fake_clock):
    a, b = party(store, fake_clock, "a"), party(store, fake_clock, "b")
    a.try_acquire()

    for _ in range(5):
        fake_clock.advance(0.6 * TTL)
        assert a.renew()
        assert not b.try_acquire().term

    assert a.held() and a.remaining() == pytest.approx(TTL - a.margin)


def test_a_holder_that_stops_renewing_knows_it_lost_before_anyone_can_take_over(store, fake_clock):
    a, b = party(store, fake_clock, "a"), party(store, fake_clock, "b")
    a.try_acquire()

    fake_clock.advance(TTL - a.margin)  # a's own clock says it is over: it fences itself at once...
    assert not a.held()
    assert not b.try_acquire().term  # ...while the store still keeps everyone else out
    fake_clock.advance(a.margin)

    assert b.try_acquire().term == 2
    assert b.held() and not a.held()
    assert not a.renew()  # it cannot extend the new holder's lease
    assert not a.release()  # nor give it away
    assert store.holder("scheduler") == "b"


def test_a_released_lease_is_taken_at_once(store, fake_clock):
    a, b = party(store, fake_clock, "a"), party(store, fake_clock, "b")
    a.try_acquire()

    assert a.release() and not a.held()

    assert b.try_acquire().term == 2


def test_an_owner_that_lost_track_gets_its_own_lease_back_in_the_same_term(store, fake_clock):
    a = party(store, fake_clock, "a")
    a.try_acquire()
    a._valid_until = float("-inf")  # say a renewal timed out after the store had run it

    assert a.try_acquire().term == 1 and a.held()


def test_a_lease_needs_a_positive_ttl(store):
    with pytest.raises(ValueError):
        Lease(store, "scheduler", 0)


# --- the keeper ----------------------------------------------------------------------------------


def test_a_standby_takes_over_within_one_lease_of_the_holders_death(store, fake_clock):
    a = LeaseKeeper(party(store, fake_clock, "a"))
    b = LeaseKeeper(party(store, fake_clock, "b"))
    a.step()
    assert a.active

    assert not b.step() > TTL / 3  # standing by, it looks again at least every third of a lease
    assert not b.active
    fake_clock.advance(TTL / 3)
    assert a.step() == pytest.approx(TTL / 3)  # a renews, then dies: no more steps, no release
    died = fake_clock.now
    wait = b.step()
    while not b.active:
        fake_clock.advance(wait)
        wait = b.step()

    assert TTL - 0.05 <= fake_clock.now - died <= TTL + 0.05
    assert b.lease.term == 2 and b.lease.held() and not a.lease.held()


class FlakyStore:
    """A store that can be made unreachable."""

    def __init__(self, store):
        self.store, self.down = store, False

    def __getattr__(self, name):
        def call(*args):
            if self.down:
                raise ConnectionError("store down")
            return getattr(self.store, name)(*args)

        return call


def test_a_store_outage_keeps_the_lease_until_it_runs_out_then_the_holder_stops(store, fake_clock):
    flaky = FlakyStore(store)
    events = []
    keeper = LeaseKeeper(
        party(flaky, fake_clock, "a"),
        on_acquired=lambda lease: events.append(("acquired", lease.term)),
        on_lost=lambda lease: events.append(("lost", lease.term)),
    )
    keeper.step()
    flaky.down = True

    fake_clock.advance(keeper.step())  # a failed renewal: still the holder, retrying soon
    assert keeper.active and keeper.lease.held()
    while keeper.lease.held():
        fake_clock.advance(keeper.step())
    keeper.step()

    assert not keeper.active
    assert events == [("acquired", 1), ("lost", 1)]


def test_a_holder_that_cannot_start_the_work_gives_the_lease_back(store, fake_clock):
    def fail(lease):
        raise RuntimeError("scheduler gone")

    keeper = LeaseKeeper(party(store, fake_clock, "a"), on_acquired=fail)
    keeper.step()

    assert not keeper.active and store.holder("scheduler") is None


def test_never_two_holders_whatever_the_pauses(store, fake_clock):
    """Three keepers, each frozen at random for up to two leases (a SIGSTOP, a GC pause), stepped
    whenever they wake: at no instant do two of them hold the lease, and someone usually does."""
    rng = random.Random(13)
    keepers = [LeaseKeeper(party(store, fake_clock, name)) for name in "abc"]
    wake = {k: fake_clock.now + rng.uniform(0, 1) for k in keepers}
    tick, held_ticks, ticks = TTL / 100, 0, 0
    for _ in range(20_000):
        fake_clock.advance(tick)
        for keeper in keepers:
            if fake_clock.now >= wake[keeper]:
                frozen = rng.uniform(0, 2 * TTL) if rng.random() < 0.02 else 0.0
                wake[keeper] = fake_clock.now + keeper.step() + frozen
        holders = [k.lease.owner for k in keepers if k.lease.held()]
        assert len(holders) <= 1, (fake_clock.now, holders)
        held_ticks += bool(holders)
        ticks += 1

    assert held_ticks / ticks > 0.5
    assert max(k.lease.term for k in keepers) > 3  # the lease did change hands


# --- the same in Redis -----------------------------------------------------------------------------

SHORT = 0.5  # seconds: Redis counts real time


def test_redis_one_holder_renewal_takeover_and_fencing(redis_store):
    a = Lease(redis_store, "scheduler", SHORT, owner="a")
    b = Lease(redis_store, "scheduler", SHORT, owner="b")

    first = a.try_acquire().term
    acquired_at = time.monotonic()
    grant = b.try_acquire()
    assert first >= 1 and grant.term == 0 and 0 < grant.free_in <= SHORT
    time.sleep(SHORT / 5)
    assert a.renew()
    expires_in = redis_store.client.pttl(redis_store.key("scheduler")) / 1000
    assert expires_in > SHORT - (time.monotonic() - acquired_at) + SHORT / 10  # later than the first expiry
    assert not b.try_acquire().term

    # a stops renewing: b gets the lease once it has run out, and by then a's own clock said so.
    assert wait_for(lambda: b.try_acquire().term, timeout=5, interval=0.01) == first + 1
    assert not a.held() and b.held()
    assert not a.renew() and not a.release()
    assert redis_store.holder("scheduler") == "b"

    assert b.release()
    assert redis_store.holder("scheduler") is None
    assert a.try_acquire().term == first + 2


def test_redis_a_standby_keeper_takes_over_when_the_lease_runs_out(redis_store):
    a = LeaseKeeper(Lease(redis_store, "scheduler", SHORT, owner="a"))
    b = LeaseKeeper(Lease(redis_store, "scheduler", SHORT, owner="b"))
    before = time.monotonic()
    a.step()
    after = time.monotonic()  # a never steps again
    assert a.active

    wait = b.step()
    while not b.active:
        time.sleep(wait)
        wait = b.step()

    took_over = time.monotonic()
    assert took_over - before >= SHORT - 0.002  # never before the lease ran out (Redis counts whole ms)...
    assert took_over - after <= SHORT + 0.5  # ...and soon after (the slack is for a loaded machine)
    assert not a.lease.held() and b.lease.held()


def test_redis_keys_share_one_cluster_slot(redis_store):
    """The scripts touch the lease and its term counter: one hash tag keeps them in one slot."""
    Lease(redis_store, "scheduler", SHORT, owner="a").try_acquire()

    keys = sorted(k.decode() for k in redis_store.client.scan_iter(match=f"{redis_store.prefix}*", count=1000))

    assert keys == [f"{redis_store.prefix}{{lease:scheduler}}", f"{redis_store.prefix}{{lease:scheduler}}:term"]
