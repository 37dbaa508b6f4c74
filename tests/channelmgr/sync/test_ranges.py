import datetime as dt

from adapters.base import batches
from channelmgr.sync.ranges import clip, merge, runs

D = dt.date(2027, 7, 1)


def d(n):
    return D + dt.timedelta(days=n)


def test_merge_joins_overlapping_and_touching_ranges_but_keeps_gaps():
    assert merge([(d(5), d(7)), (d(0), d(3)), (d(3), d(4)), (d(6), d(9)), (d(20), d(21))]) == [
        (d(0), d(4)),
        (d(5), d(9)),
        (d(20), d(21)),
    ]


def test_clip_drops_ranges_outside_the_window():
    assert clip([(d(-5), d(-1)), (d(-2), d(3)), (d(8), d(12))], d(0), d(10)) == [(d(0), d(3)), (d(8), d(10))]


def test_runs_collapse_equal_consecutive_nights():
    nights = [(d(0), 100), (d(1), 100), (d(2), 120), (d(3), 100), (d(5), 100)]
    result = runs(nights, date_of=lambda n: n[0], key=lambda n: n[1])
    assert [(s, e, n[1]) for s, e, n in result] == [
        (d(0), d(2), 100),
        (d(2), d(3), 120),
        (d(3), d(4), 100),
        (d(5), d(6), 100),  # a gap starts a new run even with an equal value
    ]


def test_batches_respect_the_batch_size():
    assert [len(c) for c in batches(list(range(250)), 100)] == [100, 100, 50]
    assert list(batches([], 100)) == []
