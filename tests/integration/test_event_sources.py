"""Three push sources end to end: kfsync's envelope, Adobe I/O Events and Mage-OS Async Events.

20 orders announced through each source (every announcement delivered more than once, as
senders retry) become 20 invoices each in the KashFlow sandbox, exact to the penny, with no
duplicate; every source is only a hint, so the worker re-reads each order over REST.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.settings import Settings
from ingest import create_app
from kfsync.samples import Buyer, Line, make_order
from sandbox.server import SandboxServers
from store.db import session_scope
from store.models import InboundEvent, JobState, SyncJob
from tests.integration.conftest import Stack, fresh_stack
from tests.source_senders import (
    CLIENT_ID,
    KeyServer,
    adobe_event,
    adobe_headers,
    mageos_body,
    mageos_headers,
    new_key,
    pem,
)

pytestmark = pytest.mark.integration

N = 20
KEY1, KEY2, RETIRED = new_key(), new_key(), new_key()
PATH1, PATH2 = "/prod/keys/pub-key-a.pem", "/prod/keys/pub-key-b.pem"
TOKEN = "mageos-integration-token"
BASES = {"magento": 8000, "adobe-io": 8100, "mageos-async": 8200}


@pytest.fixture(scope="module")
def key_host() -> Iterator[KeyServer]:
    server = KeyServer({PATH1: pem(KEY1), PATH2: pem(KEY2)})
    yield server
    server.close()


@pytest.fixture
def sources(stack_env: tuple[str, dict[str, str]], servers: SandboxServers,
            key_host: KeyServer) -> tuple[Stack, FlaskClient]:
    stack = fresh_stack(stack_env, servers)
    settings = Settings.load({**stack.env, "KFSYNC_ADOBE_CLIENT_ID": CLIENT_ID,
                              "KFSYNC_ADOBE_KEY_HOST": key_host.url,
                              "KFSYNC_MAGEOS_TOKENS": TOKEN}, env_file=None)
    return stack, create_app(settings).test_client()


def order(entity_id: int) -> dict[str, Any]:
    buyer = Buyer(f"buyer{entity_id}@example.com", "Ada", f"Shopper{entity_id}")
    lines = [Line("TSHIRT", "T-shirt", Decimal("12.50") + entity_id % 7, 1 + entity_id % 3),
             Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))]
    return make_order(entity_id, buyer, lines)


def announce_adobe(client: FlaskClient, doc: dict[str, Any]) -> list[int]:
    body = adobe_event("sales_order_save_commit_after",
                       {"entity_id": doc["entity_id"], "increment_id": doc["increment_id"]},
                       event_id=f"adobe-{doc['entity_id']}")
    # Half signed with key 1 alone, half verifiable only by key 2 (key 1 being rotated).
    signers = [(KEY1, PATH1)] if doc["entity_id"] % 2 else [(RETIRED, PATH1), (KEY2, PATH2)]
    headers = adobe_headers(body, signers)
    return [client.post("/webhooks/adobe-io", data=body, headers=headers).status_code
            for _ in range(2)]


def announce_mageos(client: FlaskClient, doc: dict[str, Any]) -> list[int]:
    body = mageos_body("sales.order.created", {
        "entity_id": doc["entity_id"], "increment_id": doc["increment_id"],
        "updated_at": "2026-11-24 10:00:03"})
    return [client.post("/webhooks/mageos-async", data=body,
                        headers=mageos_headers(TOKEN, body)).status_code for _ in range(3)]


def test_twenty_orders_through_each_source_become_exact_invoices_once(
        sources: tuple[Stack, FlaskClient]) -> None:
    stack, client = sources
    docs = {src: [order(base + n) for n in range(1, N + 1)] for src, base in BASES.items()}
    for src, batch in docs.items():
        for doc in batch:
            stack.seed_order(doc)
            if src == "magento":
                codes = [stack.send(doc, event_id=f"evt-{doc['entity_id']}") for _ in range(2)]
            elif src == "adobe-io":
                codes = announce_adobe(client, doc)
            else:
                codes = announce_mageos(client, doc)
            assert codes[0] == 202 and set(codes[1:]) == {200}, (src, codes)
    everything = [doc for batch in docs.values() for doc in batch]

    def all_done() -> bool:
        with session_scope(stack.db_url) as s:
            done = s.scalar(select(func.count()).select_from(SyncJob)
                            .where(SyncJob.state == JobState.DONE)) or 0
        return done == len(everything) and stack.events_pending() == 0
    stack.wait_until(all_done, f"{len(everything)} orders to be done", timeout=100)

    invoices = {inv["CustomerReference"]: inv for inv in stack.invoices()}
    assert len(stack.invoices()) == len(invoices) == 3 * N  # one invoice per order
    for doc in everything:
        invoice = invoices[doc["increment_id"]]
        assert Decimal(str(invoice["GrossAmount"])) == doc["grand_total"]
    with session_scope(stack.db_url) as s:
        per_source = {src: n for src, n in s.execute(
            select(InboundEvent.source, func.count()).group_by(InboundEvent.source))}
    assert per_source == {"magento": N, "adobe-io": N, "mageos-async": N}
