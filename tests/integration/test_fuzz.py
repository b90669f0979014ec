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
from tests.source_senders import (
    CLIENT_ID,
    KeyServer,
    adobe_headers,
    mageos_headers,
    new_key,
    pem,
)

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
ADOBE_KEY = new_key()  # the fuzz's Adobe signing key; its public half is served on loopback
ADOBE_KEY_PATH = "/fuzz/pub-key-1.pem"
OTHER_KEY = new_key()
MAGEOS_TOKEN = "fuzz-mageos-token-83b1d0"


@pytest.fixture(scope="module")
def web_server_env() -> Iterator[dict[str, str]]:
    """The Adobe and Mage-OS sources configured, Adobe's key host played on loopback."""
    keys = KeyServer({ADOBE_KEY_PATH: pem(ADOBE_KEY)})
    yield {"KFSYNC_ADOBE_CLIENT_ID": CLIENT_ID, "KFSYNC_ADOBE_KEY_HOST": keys.url,
           "KFSYNC_MAGEOS_TOKENS": MAGEOS_TOKEN}
    keys.close()


@dataclass(frozen=True)
class Source:
    """One webhook source: where it posts, what it sends, and how its sender signs (or a
    mangled signature: every mangle but ``signed`` must be refused)."""

    name: str
    path: str
    bodies: st.SearchStrategy[bytes]
    mangles: tuple[str, ...]
    headers: Callable[[bytes, str], dict[str, str]]  # (body, mangle) -> headers


def _kfsync_headers(event_id: str, body: bytes) -> dict[str, str]:
    ts = int(time.time())
    return {"X-Kfsync-Event-Id": event_id, "X-Kfsync-Timestamp": str(ts),
            "X-Kfsync-Signature": sign(WEBHOOK_SECRET, ts, body),
            "Content-Type": "application/json"}


# Any character, lone surrogates and control characters included.
TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12)
# Deeper than any parser's recursion allows: a 400, never a 500.
DEEP = st.integers(100, 3000).map(lambda n: b"[" * n + b"]" * n)
NOISE = JSON.map(lambda v: simplejson.dumps(v).encode()) | st.binary(max_size=300) | DEEP
PRINTABLE = st.text(st.characters(min_codepoint=32, exclude_categories=("Cs",)), min_size=1,
                    max_size=128)
ENTITY = st.integers(1, 2**31 - 1) | st.integers(-5, 2**63) | TEXT
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
    key = ({"sku": draw(PRINTABLE)} if kind == "product"
           else {"entity_id": draw(st.integers(1, 2**31 - 1))})
    return {"id": draw(st.uuids().map(str) | st.from_regex(r"[!-~]{1,128}", fullmatch=True)),
            "topic": topic, "occurred_at": "2026-11-24T10:00:03Z",
            "resource": {"type": kind, **key}, "data": draw(JSON)}


def _dumps(value: Any) -> bytes:
    return simplejson.dumps(value).encode()


KFSYNC_BODIES = (valid_envelopes().map(_dumps) | ENVELOPES.map(_dumps) | NOISE)


def _kfsync_mangled(body: bytes, mangle: str) -> dict[str, str]:
    try:
        event_id = str(simplejson.loads(body).get("id", "evt"))
    except Exception:
        event_id = "evt"
    if not (event_id.isascii() and event_id.isprintable() and event_id == event_id.strip()):
        event_id = "unsendable-id"  # HTTP cannot carry it in a header; the ids then differ
    headers = _kfsync_headers(event_id, body)
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


# Adobe I/O Events: Commerce events (synced types with an entity id, odd ids, other types),
# wrong recipients, and noise; signed with the served key, another key, a foreign key path.
ADOBE_TYPES = st.sampled_from([f"com.adobe.commerce.observer.{name}" for name in (
    "sales_order_save_commit_after", "sales_order_invoice_save_commit_after",
    "sales_order_creditmemo_save_commit_after", "customer_save_commit_after",
    "cataloginventory_stock_item_save_commit_after", "catalog_product_save_after")]) | TEXT
ADOBE_EVENTS = st.fixed_dictionaries(
    {"type": ADOBE_TYPES, "recipient_client_id": st.just(CLIENT_ID) | TEXT,
     "data": st.fixed_dictionaries({"value": st.fixed_dictionaries(
         {}, optional={"entity_id": ENTITY, "order_id": ENTITY, "sku": PRINTABLE | TEXT,
                       "increment_id": TEXT, "extra": JSON})}) | JSON},
    optional={"event_id": st.uuids().map(str) | TEXT | st.integers(), "id": TEXT})


ADOBE_VALID = st.fixed_dictionaries(
    {"type": ADOBE_TYPES.filter(lambda t: not t.endswith("catalog_product_save_after")),
     "recipient_client_id": st.just(CLIENT_ID), "event_id": st.uuids().map(str),
     "data": st.fixed_dictionaries({"value": st.fixed_dictionaries(
         {"entity_id": st.integers(1, 2**31 - 1), "order_id": st.integers(1, 2**31 - 1),
          "sku": PRINTABLE}, optional={"increment_id": TEXT, "extra": JSON})})})


def _adobe_mangled(body: bytes, mangle: str) -> dict[str, str]:
    key, path = {"wrong-key": (OTHER_KEY, ADOBE_KEY_PATH),
                 "foreign-key-path": (ADOBE_KEY, "//evil.example/pub-key-1.pem")}.get(
        mangle, (ADOBE_KEY, ADOBE_KEY_PATH))
    headers = adobe_headers(body, [(key, path)])
    if mangle == "unsigned":
        headers = {k: v for k, v in headers.items() if "signature" not in k}
    return headers


# Mage-OS Async Events: CloudEvents with a synced or unknown type, odd data; signed with the
# verification token, another token, or not at all.
MAGEOS_EVENTS = st.fixed_dictionaries(
    {"type": st.sampled_from(["sales.order.created", "sales.invoice.paid",
                              "sales.creditmemo.created", "customer.updated",
                              "catalog.product.saved"]) | TEXT,
     "data": st.fixed_dictionaries({}, optional={
         "entity_id": ENTITY, "order_id": ENTITY, "id": ENTITY, "increment_id": TEXT,
         "updated_at": TEXT, "extra": JSON}) | JSON},
    optional={"specversion": st.just("1.0"), "id": TEXT})


MAGEOS_VALID = st.fixed_dictionaries(
    {"type": st.sampled_from(["sales.order.created", "sales.invoice.paid",
                              "sales.creditmemo.created", "customer.updated"]),
     "data": st.fixed_dictionaries(
         {"entity_id": st.integers(1, 2**31 - 1), "order_id": st.integers(1, 2**31 - 1),
          "id": st.integers(1, 2**31 - 1)},
         optional={"increment_id": TEXT, "updated_at": TEXT, "extra": JSON})})


def _mageos_mangled(body: bytes, mangle: str) -> dict[str, str]:
    headers = mageos_headers("not-the-token" if mangle == "wrong-token" else MAGEOS_TOKEN,
                             body)
    if mangle == "unsigned":
        del headers["x-magento-signature"]
    return headers


SOURCES = [
    Source("magento", "/webhooks/magento", KFSYNC_BODIES,
           ("unsigned", "wrong-secret", "stale", "huge-timestamp", "other-event-id"),
           _kfsync_mangled),
    Source("adobe-io", "/webhooks/adobe-io",
           ADOBE_VALID.map(_dumps) | ADOBE_EVENTS.map(_dumps) | NOISE,
           ("unsigned", "wrong-key", "foreign-key-path"), _adobe_mangled),
    Source("mageos-async", "/webhooks/mageos-async",
           MAGEOS_VALID.map(_dumps) | MAGEOS_EVENTS.map(_dumps) | NOISE,
           ("unsigned", "wrong-token"), _mageos_mangled),
]


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_webhooks_never_answer_5xx_and_store_only_what_they_accept(
        web_server: WebServer, http: requests.Session, source: Source) -> None:
    url = web_server.base + source.path
    seen: dict[int, int] = {}

    # Three in four signed as the sender would, the rest each way of getting it wrong.
    mangles = st.sampled_from(["signed"] * 3 * len(source.mangles) + list(source.mangles))

    @given(body=source.bodies, mangle=mangles)
    @fuzz(WEBHOOK_EXAMPLES)
    def run(body: bytes, mangle: str) -> None:
        before = count(web_server.db_url, InboundEvent)
        reply = http.post(url, data=body, headers=source.headers(body, mangle), timeout=10)
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
