from hypothesis import given
from hypothesis import strategies as st

from celeryconfig import MAX_COUNTDOWN_S, VISIBILITY_TIMEOUT_S
from workers.steps import backoff


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
