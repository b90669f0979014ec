"""``ingest.safejson``: a body is refused (400) exactly when what it parses to cannot be
stored, whether or not its bytes were walked (a body without a ``\\u`` escape or many
brackets is not)."""

from __future__ import annotations

from typing import Any

import simplejson
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.safejson import MAX_DEPTH, BadJson, check, loads

# Any character, NUL and lone surrogates included; nested a little past MAX_DEPTH at times.
TEXT = st.text(alphabet=st.characters(codec=None), max_size=8)
VALUES = st.recursive(st.none() | st.booleans() | st.integers() | TEXT,
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(TEXT, inner, max_size=3), max_leaves=12)


def _deep(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = [value]
    return value


def _outcome(call: Any) -> str:
    try:
        call()
    except BadJson as exc:
        return str(exc)
    return "ok"


@settings(max_examples=300, deadline=None)
@given(VALUES, st.integers(0, MAX_DEPTH + 3), st.booleans())
def test_a_body_is_refused_exactly_when_its_value_cannot_be_stored(
        value: Any, levels: int, ascii_only: bool) -> None:
    value = _deep(value, levels)
    text = simplejson.dumps(value, ensure_ascii=ascii_only)  # raw UTF-8, or all escaped
    body = text.encode("utf-8", "surrogatepass")  # a raw lone surrogate is not UTF-8
    try:
        body.decode("utf-8")
        unstorable = _outcome(lambda: check(simplejson.loads(text))) != "ok"
    except UnicodeDecodeError:
        unstorable = True
    assert (_outcome(lambda: loads(body)) != "ok") == unstorable


def test_raw_nul_and_surrogate_bytes_are_refused_by_the_parser() -> None:
    for body in (b'{"a": "x\x00y"}', b'{"a": "\xed\xa0\x80"}'):
        assert _outcome(lambda body=body: loads(body)).startswith("Invalid JSON")
