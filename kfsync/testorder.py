"""``kfsync send-test-order``: one new order in the Magento sandbox, announced to kfsync by a
signed webhook exactly as a shop would send it, then followed to KashFlow.

It talks to a ``kfsync run --sandbox`` on this machine (found through ``var/run.json``) or to
the addresses given on the command line; it refuses anything that is not the sandbox, since it
writes an order into the Magento it points at.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
import simplejson

from core.settings import Settings
from ingest.signing import signed_headers
from kfsync.runinfo import SANDBOX_OPS_TOKEN, SANDBOX_WEBHOOK_SECRET, RunInfo
from kfsync.samples import Buyer, Line, make_order

SETTLED = ("done", "waiting", "skipped", "needs_review", "dead", "discarded")
FIRST_TEST_ORDER = 9001


class TestOrderFailed(Exception):
    """The order could not be placed or announced; the message says where and why."""


@dataclass(frozen=True)
class Target:
    web: str             # http://127.0.0.1:8000
    magento_control: str  # http://127.0.0.1:8081/_sandbox
    secret: str          # the webhook secret the web service checks
    ops_token: str       # to follow the job over the ops API


def target_for(running: RunInfo | None, settings: Settings, web: str | None,
               magento_control: str | None) -> Target:
    """Where to send: the running ``kfsync run --sandbox`` (its public sandbox secret and
    token), else the addresses given and the configured secret and token (the sandbox's when
    none is configured)."""
    if running is not None and running.sandbox:
        return Target(web=(web or running.dashboard).rstrip("/"),
                      magento_control=magento_control or control_url(running.magento),
                      secret=SANDBOX_WEBHOOK_SECRET, ops_token=SANDBOX_OPS_TOKEN)
    return Target(
        web=(web or (running.dashboard if running else "http://127.0.0.1:8000")).rstrip("/"),
        magento_control=magento_control or control_url(settings.magento_base_url),
        secret=(settings.webhook_secrets or (SANDBOX_WEBHOOK_SECRET,))[0],
        ops_token=settings.ops_token or SANDBOX_OPS_TOKEN)


def control_url(magento_base_url: str) -> str:
    """The Magento sandbox's control root for its REST base (``.../rest`` -> ``/_sandbox``)."""
    base = magento_base_url.rstrip("/")
    return (base[: -len("/rest")] if base.endswith("/rest") else base) + "/_sandbox"


def place_order(target: Target) -> dict[str, Any]:
    """Seed a new order (next free entity id from 9001) into the Magento sandbox."""
    try:
        state = requests.get(f"{target.magento_control}/state", timeout=5)
        state.raise_for_status()
    except requests.RequestException as exc:
        raise TestOrderFailed(f"no Magento sandbox at {target.magento_control} ({exc}); "
                              "start one with `kfsync run --sandbox`") from None
    taken = {int(o["entity_id"]) for o in state.json().get("orders", [])}
    entity_id = max([FIRST_TEST_ORDER - 1, *taken]) + 1
    buyer = Buyer("test.buyer@example.com", "Terry", "Tester")
    order = make_order(entity_id, buyer, [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2),
                                          Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))])
    reply = requests.post(f"{target.magento_control}/orders", timeout=5,
                          data=simplejson.dumps(order, use_decimal=True),
                          headers={"Content-Type": "application/json"})
    if reply.status_code >= 300:
        raise TestOrderFailed(f"the Magento sandbox refused the order: {reply.status_code}")
    return order


def announce(target: Target, order: dict[str, Any]) -> str:
    """POST the signed ``order.created`` webhook; returns kfsync's answer status."""
    event_id = str(uuid.uuid4())
    body = simplejson.dumps({
        "id": event_id, "topic": "order.created", "occurred_at": "2026-11-24T10:00:03Z",
        "store_id": 1, "data": {},
        "resource": {"type": "order", "entity_id": order["entity_id"],
                     "increment_id": order["increment_id"], "updated_at": order["updated_at"]},
    }).encode()
    try:
        reply = requests.post(f"{target.web}/webhooks/magento", data=body, timeout=10,
                              headers=signed_headers(target.secret, event_id, body))
    except requests.RequestException:
        raise TestOrderFailed(f"kfsync does not answer at {target.web}; is `kfsync run "
                              "--sandbox` running?") from None
    if reply.status_code != 202:
        raise TestOrderFailed(f"kfsync answered the webhook {reply.status_code}: "
                              f"{reply.text[:200]}")
    return str(reply.json().get("status"))


def follow(target: Target, increment_id: str, timeout_s: float) -> dict[str, Any] | None:
    """The order's job once it settles (over the ops API), or None after ``timeout_s``."""
    headers = {"Authorization": f"Bearer {target.ops_token}"}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reply = requests.get(f"{target.web}/api/v1/jobs", params={"q": increment_id},
                             headers=headers, timeout=5)
        if reply.status_code == 401:
            raise TestOrderFailed("the ops API refused the ops token; is KFSYNC_OPS_TOKEN the "
                                  "one the web service uses?")
        items = [j for j in reply.json().get("items", []) if j.get("magento_ref") == increment_id]
        if items and items[0].get("state") in SETTLED:
            return dict(items[0])
        time.sleep(0.5)
    return None


def describe(job: dict[str, Any] | None, increment_id: str, web: str) -> str:
    """One line for the user: where the order ended up and where to look."""
    if job is None:
        return (f"order {increment_id}: not settled yet; watch it on {web}/jobs?q={increment_id}")
    where = f"{web}/jobs/{job['id']}"
    if job["state"] == "done":
        paid = f", payment {job['payment_ref']}" if job.get("payment_ref") else ""
        return (f"order {increment_id}: done: KashFlow invoice {job.get('invoice_number')} for "
                f"customer {job.get('customer_code')}{paid}. See it at {where}")
    return f"order {increment_id}: {job['state']}: {job.get('reason') or ''} See it at {where}"
