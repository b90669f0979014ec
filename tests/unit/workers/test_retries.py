"""Backoff, and which infrastructure failures a task retries (workers/retries.py)."""

import redis
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from celeryconfig import MAX_COUNTDOWN_S, VISIBILITY_TIMEOUT_S
from workers.retries import backoff, connection_lost


@given(st.integers(min_value=0, max_value=50),
       st.one_of(st.none(), st.floats(min_value=0, max_value=10_000)))
def test_backoff_honours_retry_after_and_stays_below_the_visibility_timeout(
        retries: int, retry_after: float | None) -> None:
    delay = backoff(retries, retry_after)
    assert 0 <= delay <= MAX_COUNTDOWN_S < VISIBILITY_TIMEOUT_S
    if retry_after is not None:
        assert delay >= min(retry_after, MAX_COUNTDOWN_S)


@given(st.integers(min_value=0, max_value=8))
def test_backoff_grows_at_most_exponentially(retries: int) -> None:
    assert backoff(retries) <= 2.0 * 2 ** retries


def test_a_lost_database_or_redis_connection_is_transient_and_a_bad_statement_is_not() -> None:
    lost = OperationalError("UPDATE sync_jobs ...", {}, Exception("server closed the connection"))
    invalidated = DBAPIError("SELECT 1", {}, Exception("reset"), connection_invalidated=True)
    assert connection_lost(lost)
    assert connection_lost(invalidated)
    assert connection_lost(redis.ConnectionError("Connection refused"))
    assert connection_lost(redis.TimeoutError("Timeout reading from socket"))
    assert not connection_lost(IntegrityError("INSERT ...", {}, Exception("duplicate key")))
    assert not connection_lost(ValueError("a bug"))
