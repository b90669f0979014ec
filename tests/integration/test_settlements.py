"""Gateway settlement import on real parts: a Stripe payout CSV with matched, unmatched, fee
and payout rows imports with a correct summary."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from kfsync.samples import Buyer, Line, make_creditmemo, make_order
from store.models import JobState
from tests.integration.conftest import Stack
from tests.integration.helpers import seed, send_event, wait_job

pytestmark = pytest.mark.integration

BUYER = Buyer("sam.settle@example.com", "Sam", "Settle")
LINES = [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2)]  # 35.00 with shipping

STRIPE = """id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Description
txn_1,charge,txn-6101-a1b2,35.00,0.78,34.22,gbp,2026-11-24 10:00,Order 000006101
txn_2,charge,txn-6102-a1b2,35.00,0.78,34.22,gbp,2026-11-24 10:05,Order 000006102
txn_3,refund,re_6111,-15.00,0.00,-15.00,gbp,2026-11-25 09:00,Refund
txn_4,charge,ch_not_ours,10.00,0.50,9.50,gbp,2026-11-25 09:30,Someone else
txn_5,stripe_fee,,-2.00,0.00,-2.00,gbp,2026-11-25 23:00,Radar fees
po_1,payout,,-60.94,0.00,-60.94,gbp,2026-11-26 02:00,STRIPE PAYOUT
"""


def test_stripe_settlement_matches_by_transaction_id(stack: Stack, tmp_path: Path) -> None:
    for entity_id in (6101, 6102):
        order = make_order(entity_id, BUYER, LINES)
        stack.seed_order(order)
        stack.send(order)
        assert stack.wait_settled(entity_id).state == JobState.DONE
    memo = make_creditmemo(6111, make_order(6101, BUYER, LINES), {"TSHIRT": 1},
                           transaction_id="re_6111")
    seed(stack, "creditmemos", memo)
    send_event(stack, "creditmemo.created", "creditmemo", 6111, memo["increment_id"])
    assert wait_job(stack, "creditmemo", 6111).state == JobState.DONE
    export = tmp_path / "stripe-payout.csv"
    export.write_text(STRIPE, encoding="utf-8")

    done = stack.cli("reconcile", "settlement", str(export), "--format", "json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout, parse_float=Decimal)
    assert summary["format"] == "stripe" and summary["rows"] == 6
    assert summary["matched"] == 3 and summary["refunds_matched"] == 1
    assert summary["matched_gross"] == Decimal("55.00")
    assert summary["fees"] == Decimal("4.06")  # 0.78 + 0.78 + 0.50 + 2.00
    assert summary["payouts"] == 1 and summary["payout_total"] == Decimal("-60.94")
    assert summary["net"] == Decimal("60.94")  # what the payout carried to the bank
    assert [(u["line"], u["txn_id"]) for u in summary["unmatched"]] == [(5, "ch_not_ours")]
    numbers = {m["txn_id"]: m["kashflow_number"] for m in summary["matches"]}
    assert numbers == {"txn-6101-a1b2": 6101, "txn-6102-a1b2": 6102, "re_6111": 900006111}


def test_a_file_that_is_no_settlement_export_is_one_readable_error(
        stack: Stack, tmp_path: Path) -> None:
    export = tmp_path / "orders.csv"
    export.write_text("order,amount\n1,2\n", encoding="utf-8")
    done = stack.cli("reconcile", "settlement", str(export))
    assert done.returncode == 1 and "not a Stripe or PayPal settlement export" in done.stderr
