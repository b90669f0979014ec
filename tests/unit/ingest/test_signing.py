import hashlib
import hmac
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.signing import SignatureError, sign, verify

BODY = b'{"id": "e1"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, BODY) == f"v1={expected}"


def test_valid_signature_passes() -> None:
    now = int(time.time())
    verify(["s3cret"], str(now), sign("s3cret", now, BODY), BODY)


def test_second_secret_during_rotation_passes() -> None:
    now = int(time.time())
    verify(["old", "new"], str(now), sign("new", now, BODY), BODY)


def test_one_of_several_offered_values_may_match() -> None:
    now = int(time.time())
    header = f"v1=deadbeef, {sign('s3cret', now, BODY)}"
    verify(["s3cret"], str(now), header, BODY)


@pytest.mark.parametrize("age", [301, 600, -301])
def test_timestamp_outside_window_fails(age: int) -> None:
    ts = int(time.time()) - age
    with pytest.raises(SignatureError, match="window"):
        verify(["s3cret"], str(ts), sign("s3cret", ts, BODY), BODY)


def test_wrong_secret_fails() -> None:
    now = int(time.time())
    with pytest.raises(SignatureError, match="does not match"):
        verify(["s3cret"], str(now), sign("other", now, BODY), BODY)


@pytest.mark.parametrize("header", [None, "", "sha256=abc", "v2=abc"])
def test_missing_or_foreign_header_fails(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify(["s3cret"], str(int(time.time())), header, BODY)


@given(st.binary(max_size=200), st.binary(min_size=1, max_size=200))
def test_any_change_to_the_body_breaks_the_signature(body: bytes, tail: bytes) -> None:
    now = int(time.time())
    with pytest.raises(SignatureError):
        verify(["s3cret"], str(now), sign("s3cret", now, body), body + tail)


@pytest.mark.parametrize("timestamp", [
    "9" * 309, "1" * 13, "\u0661\u0667" + "\u0660" * 8, "17e8", "-1", "0x10"])
def test_a_timestamp_that_is_no_unix_seconds_is_refused_not_crashed(timestamp: str) -> None:
    """Issue #17 (1): 309 digits overflowed ``time.time() - ts`` (a 500 for anyone)."""
    with pytest.raises(SignatureError, match="not unix seconds"):
        verify(["s3cret"], timestamp, "v1=00", BODY)
