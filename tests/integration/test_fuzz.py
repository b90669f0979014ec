"""Fuzzing a real ``kfsync web`` (gunicorn on loopback) the way an attacker or a careless
sender would: schemathesis against the ops API's OpenAPI document, and hypothesis-built
webhook requests (signed and unsigned, well-formed and not) against every webhook source.

The assertion is the issue's: no 5xx ever, and nothing stored for a rejected request. The
budget is small and fixed (examples, not time), so ``make test`` stays quick and repeatable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
import simplejson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from ingest.schemas import RESOURCE_TYPES, TOPIC_TYPES, TOPICS
from ingest.signing import sign
from store.db import session_scope
from store.mapping_models import MappingVersion
from store.models import AuditEntry, InboundEvent
from tests.integration.web_server import OPS_TOKEN, WEBHOOK_SECRET, WebServer, web_server

pytestmark = pytest.mark.integration
__all__ = ["web_server"]  # the fixture, imported for this module's tests
AUTH = {"Authorization": f"Bearer {OPS_TOKEN}"}
API_EXAMPLES = 25  # per operation (23 operations); the unit suite runs 30 each in-process
WEBHOOK_EXAMPLES = 500  # per source


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


def count(url: str, model: Any) -> int:
    with session_scope(url) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# -- the ops API -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api_operations(web_server: WebServer) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{web_server.base}/api/v1/openapi.json",
                                           headers=AUTH)
    return [result.ok() for result in schema.get_all_operations()]


def test_the_ops_api_answers_schemathesis_without_a_5xx(web_server: WebServer,
                                                        api_operations: list[Any]) -> None:
    """Every operation, fed generated requests (valid and invalid) over HTTP: no 5xx, the
    documented statuses and bodies, and a refused write leaves no audit entry or version."""
    assert len(api_operations) >= 23
    started = time.monotonic()
    for operation in api_operations:

        @given(case=operation.as_strategy())
        @fuzz(API_EXAMPLES)
        def run(case: Any) -> None:
            before = (count(web_server.db_url, AuditEntry),
                      count(web_server.db_url, MappingVersion))
            response = case.call_and_validate(
                headers=AUTH, checks=[not_a_server_error, status_code_conformance,
                                      content_type_conformance, response_schema_conformance])
            if response.status_code >= 400:
                after = (count(web_server.db_url, AuditEntry),
                         count(web_server.db_url, MappingVersion))
                assert after == before, (case.method, case.path, response.status_code)

        run()
    assert time.monotonic() - started < 90


# -- webhooks ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """One webhook source: where it posts and how a sender signs. #15's sources join the list
    with their own signing (Adobe I/O's RSA, Mage-OS's body HMAC)."""

    name: str
    path: str
    signed: Callable[[str, bytes], dict[str, str]]  # (event id, body) -> headers


def _kfsync_headers(event_id: str, body: bytes) -> dict[str, str]:
    ts = int(time.time())
    return {"X-Kfsync-Event-Id": event_id, "X-Kfsync-Timestamp": str(ts),
            "X-Kfsync-Signature": sign(WEBHOOK_SECRET, ts, body),
            "Content-Type": "application/json"}


SOURCES = [Source("magento", "/webhooks/magento", _kfsync_headers)]

# Any character, lone surrogates and control characters included.
TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12)
ENVELOPES = st.fixed_dictionaries(
    {"id": st.uuids().map(str) | TEXT,
     "topic": st.sampled_from([*TOPICS, "wishlist.updated"]) | TEXT,
     "occurred_at": st.sampled_from(["2026-11-24T10:00:03Z", "2026-11-24 10:00"]) | TEXT,
     "resource": st.fixed_dictionaries(
         {"type": st.sampled_from(RESOURCE_TYPES) | TEXT},
         optional={"entity_id": st.integers(min_value=-5, max_value=2**63) | TEXT,
                   "sku": TEXT, "increment_id": TEXT, "updated_at": TEXT})},
    optional={"store_id": st.integers() | TEXT, "data": JSON})


@st.composite
def valid_envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """Envelopes that should be accepted (or ignored, or found duplicate): the fuzz reaches
    the database with odd ``data``, ids and keys."""
    topic = draw(st.sampled_from(sorted(TOPIC_TYPES)))
    kind = draw(st.sampled_from(TOPIC_TYPES[topic]))
    key = ({"sku": draw(st.text(st.characters(min_codepoint=32, exclude_categories=("Cs",)),
                                min_size=1, max_size=128))} if kind == "product"
           else {"entity_id": draw(st.integers(1, 2**31 - 1))})
    return {"id": draw(st.uuids().map(str) | st.from_regex(r"[!-~]{1,128}", fullmatch=True)),
            "topic": topic, "occurred_at": "2026-11-24T10:00:03Z",
            "resource": {"type": kind, **key}, "data": draw(JSON)}


BODIES = (valid_envelopes().map(lambda e: simplejson.dumps(e).encode())
          | ENVELOPES.map(lambda e: simplejson.dumps(e).encode())
          | JSON.map(lambda v: simplejson.dumps(v).encode()) | st.binary(max_size=300))
MANGLE = st.sampled_from(["signed", "signed", "signed", "unsigned", "wrong-secret", "stale",
                          "huge-timestamp", "other-event-id"])


def _headers(source: Source, body: bytes, mangle: str) -> dict[str, str]:
    try:
        event_id = str(simplejson.loads(body).get("id", "evt"))
    except Exception:
        event_id = "evt"
    if not (event_id.isascii() and event_id.isprintable() and event_id == event_id.strip()):
        event_id = "unsendable-id"  # HTTP cannot carry it in a header; the ids then differ
    headers = source.signed(event_id, body)
    if mangle == "unsigned":
        headers = {k: v for k, v in headers.items() if "Signature" not in k}
    elif mangle == "wrong-secret":
        headers["X-Kfsync-Signature"] = sign("not-the-secret", headers["X-Kfsync-Timestamp"],
                                             body)
    elif mangle == "stale":
        ts = int(time.time()) - 3600
        headers.update({"X-Kfsync-Timestamp": str(ts),
                        "X-Kfsync-Signature": sign(WEBHOOK_SECRET, ts, body)})
    elif mangle == "huge-timestamp":
        headers["X-Kfsync-Timestamp"] = "9" * 400
    elif mangle == "other-event-id":
        headers["X-Kfsync-Event-Id"] = "some-other-id"
    return headers


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_webhooks_never_answer_5xx_and_store_only_what_they_accept(
        web_server: WebServer, http: requests.Session, source: Source) -> None:
    url = web_server.base + source.path
    seen: dict[int, int] = {}

    @given(body=BODIES, mangle=MANGLE)
    @fuzz(WEBHOOK_EXAMPLES)
    def run(body: bytes, mangle: str) -> None:
        before = count(web_server.db_url, InboundEvent)
        reply = http.post(url, data=body, headers=_headers(source, body, mangle), timeout=10)
        seen[reply.status_code] = seen.get(reply.status_code, 0) + 1
        assert reply.status_code < 500, reply.text[:300]
        stored = count(web_server.db_url, InboundEvent) - before
        assert stored == (1 if reply.status_code == 202 else 0), (reply.status_code, body[:200])
        if mangle != "signed":
            assert reply.status_code in (400, 401), (mangle, reply.status_code)

    run()
    # The budget reached past the signature: some were accepted, some refused as malformed.
    print(f"{source.name}: statuses {sorted(seen.items())}")
    assert {202, 400, 401} <= set(seen), seen


def test_a_chunked_body_over_one_mebibyte_is_413_over_http(web_server: WebServer) -> None:
    body = simplejson.dumps({"id": "evt-big", "data": "x" * (1024 * 1024 + 10)}).encode()
    headers = _kfsync_headers("evt-big", body)

    def chunks() -> Iterator[bytes]:  # requests sends a generator chunked, without a length
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    before = count(web_server.db_url, InboundEvent)
    reply = requests.post(f"{web_server.base}/webhooks/magento", data=chunks(),
                          headers=headers, timeout=10)
    assert reply.status_code == 413
    assert count(web_server.db_url, InboundEvent) == before
