"""The daily payment reconciliation on beat, on real parts: beat's task on a real worker finds
yesterday's capture with no payment and payment with no capture, queues them once however
often it runs, and raises the reconciliation alert."""

from __future__ import annotations

import json

import pytest
import redis

from tests.integration.conftest import INTEGRATION_REDIS_URL, Stack
from tests.integration.reconcile_findings import (
    CAPTURED_NOT_PAID,
    PAID_NO_CAPTURE,
    TOTAL,
    make_findings,
    run_beat_reconciliation,
    yesterday,
)
from workers.reconcile_queue import LAST_RUN_KEY

pytestmark = pytest.mark.integration


def test_beat_queues_a_capture_without_payment_and_a_payment_without_capture(
        stack: Stack) -> None:
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    client.delete("kfsync:alert:window:reconciliation")
    make_findings(stack)

    items = run_beat_reconciliation(stack)
    assert set(items) == {"missing_payment", "unknown_transaction"}
    missing, unknown = items["missing_payment"], items["unknown_transaction"]
    assert (missing.order_key, missing.txn_id) == (str(CAPTURED_NOT_PAID), "txn-7102-late")
    assert missing.magento_amount == TOTAL and missing.kashflow_amount is None
    assert missing.invoice_number == CAPTURED_NOT_PAID and str(missing.day) == yesterday()
    assert unknown.order_key == str(PAID_NO_CAPTURE)
    assert unknown.kashflow_amount == TOTAL and unknown.magento_amount is None
    # The run raised the reconciliation alert (its de-duplication window is open in Redis).
    assert client.exists("kfsync:alert:window:reconciliation")

    # Beat runs again (tomorrow covers yesterday again; a second beat, a redelivery): the
    # same two items, no more.
    again = run_beat_reconciliation(stack)
    assert {i.id for i in again.values()} == {missing.id, unknown.id}
    done = stack.cli("reconcile", "items")
    assert done.returncode == 0 and "2 item(s)" in done.stdout
    run = json.loads(redis.Redis.from_url(INTEGRATION_REDIS_URL).get(LAST_RUN_KEY) or "{}")
    assert run["last_day"] == yesterday() and run["open_items"] == 2
