"""``kfsync.eta.SteadyRate``: the backfill's ETA follows the steady pace, not its start."""

from __future__ import annotations

import pytest

from kfsync.eta import SteadyRate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(rate: SteadyRate, clock: Clock, seconds: int, per_s: float, done: float) -> float:
    """Advance ``seconds`` at ``per_s`` items a second, one update a second."""
    for _ in range(seconds):
        clock.now += 1
        done += per_s
        rate.update(int(done))
    return done


def test_a_fast_start_does_not_shorten_the_estimate() -> None:
    """200 orders queue and settle in the first 2 s (backlog, full bucket), then 40/s: after
    10% the estimate is the steady one, where a whole-run average is 12% short."""
    clock = Clock()
    rate = SteadyRate(10_000, clock=clock)
    done = run(rate, clock, 2, 100, 0)
    done = run(rate, clock, 20, 40, done)
    assert done == 1000
    left = rate.seconds_left()
    assert left is not None and left == pytest.approx(9000 / 40, rel=0.02)
    assert 9000 / (done / 22) < 0.9 * left  # the average over the run: 12% short


def test_no_estimate_before_there_is_time_to_measure() -> None:
    clock = Clock()
    rate = SteadyRate(100, clock=clock)
    assert rate.seconds_left() is None
    run(rate, clock, 3, 5, 0)
    assert rate.rate() is None  # half of 3 s is under MIN_SPAN_S
    run(rate, clock, 2, 5, 15)
    assert rate.rate() == pytest.approx(5)


def test_the_estimate_follows_a_change_of_pace_within_the_window() -> None:
    clock = Clock()
    rate = SteadyRate(100_000, window_s=30, clock=clock)
    done = run(rate, clock, 200, 50, 0)
    assert rate.rate() == pytest.approx(50)
    run(rate, clock, 30, 20, done)
    assert rate.rate() == pytest.approx(20)


def test_a_resumed_run_counts_its_earlier_orders_as_done_not_as_pace() -> None:
    clock = Clock()
    rate = SteadyRate(1000, 600, clock=clock)
    run(rate, clock, 10, 10, 600)
    assert rate.rate() == pytest.approx(10)
    assert rate.seconds_left() == pytest.approx(300 / 10)


def test_done_is_zero_seconds_left() -> None:
    clock = Clock()
    rate = SteadyRate(10, clock=clock)
    run(rate, clock, 1, 10, 0)
    assert rate.seconds_left() == 0.0
