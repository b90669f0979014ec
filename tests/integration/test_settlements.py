"""Gateway settlement import on real parts: a Stripe payout CSV with matched, unmatched, fee
and payout rows imports with a correct summary; a payout whose payments went into the Stripe
clearing account gets the journal that brings that account back to 0.00."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.settings import Settings
from ingest import create_app
from kfsync.samples import Buyer, Line, make_creditmemo, make_order
from store.models import JobState
from tests.integration.conftest import Stack
from tests.integration.helpers import seed, send_event, wait_job

pytestmark = pytest.mark.integration
OPS_TOKEN = "settlement-ops-token-4d1a"

BUYER = Buyer("sam.settle@example.com", "Sam", "Settle")
LINES = [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2)]  # 36.00 with shipping and VAT

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
    assert done.returncode == 1
    assert "not a Stripe, PayPal or Braintree settlement export" in done.stderr


CLEARING = {"Id": 1203, "Code": 1220}  # the sandbox's "Stripe Clearing" bank account
PAYOUT = """id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Description
txn_1,charge,txn-6201-a1b2,36.00,0.80,35.20,gbp,2026-11-24 10:00,Order 000006201
txn_2,charge,txn-6202-a1b2,36.00,0.80,35.20,gbp,2026-11-24 10:05,Order 000006202
txn_3,refund,re_6211,-15.00,0.00,-15.00,gbp,2026-11-25 09:00,Refund
txn_5,stripe_fee,,-2.00,0.00,-2.00,gbp,2026-11-25 23:00,Radar fees
po_2,payout,,-53.40,0.00,-53.40,gbp,2026-11-26 02:00,STRIPE PAYOUT
"""


def _stripe_into_clearing(stack: Stack) -> str:
    """Point the stripe_payments mapping at the clearing account; returns the file as it was."""
    path = Path(stack.env["KFSYNC_MAPPING_FILE"])
    original = path.read_text(encoding="utf-8")
    data = yaml.safe_load(original) or {}
    data["payment_methods"] = {"stripe_payments": {"account_id": CLEARING["Id"],
                                                   "method_name": "Credit/Debit Card"}}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return original


def _journal(stack: Stack, payout_id: int, out: Path) -> list[dict[str, Any]]:
    done = stack.cli("reconcile", "journal", str(payout_id), "--out", str(out))
    assert done.returncode == 0, done.stderr
    import csv

    with out.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _money(text: str) -> Decimal:
    return Decimal(text) if text else Decimal("0")


def test_a_stripe_payout_journal_returns_the_clearing_account_to_zero(
        stack: Stack, tmp_path: Path) -> None:
    mapping = Path(stack.env["KFSYNC_MAPPING_FILE"])
    original = _stripe_into_clearing(stack)
    try:
        _clearing_payout(stack, tmp_path)
    finally:
        mapping.write_text(original, encoding="utf-8")


def _clearing_payout(stack: Stack, tmp_path: Path) -> None:
    for entity_id in (6201, 6202):
        order = make_order(entity_id, BUYER, LINES, method="stripe_payments")
        stack.seed_order(order)
        stack.send(order)
        assert stack.wait_settled(entity_id).state == JobState.DONE
    memo = make_creditmemo(6211, make_order(6201, BUYER, LINES, method="stripe_payments"),
                           {"TSHIRT": 1}, transaction_id="re_6211")
    seed(stack, "creditmemos", memo)
    send_event(stack, "creditmemo.created", "creditmemo", 6211, memo["increment_id"])
    assert wait_job(stack, "creditmemo", 6211).state == JobState.DONE
    export = tmp_path / "stripe-payout.csv"
    export.write_text(PAYOUT, encoding="utf-8")

    done = stack.cli("reconcile", "settlement", str(export), "--export", "stripe",
                     "--format", "json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout, parse_float=Decimal)
    assert (summary["matched"], summary["unmatched"]) == (3, [])
    assert summary["matched_gross"] == Decimal("57.00") and summary["fees"] == Decimal("3.60")
    again = stack.cli("reconcile", "settlement", str(export), "--format", "json")
    assert json.loads(again.stdout)["already_imported"] is True
    assert json.loads(again.stdout)["payout_id"] == summary["payout_id"]
    settings = Settings.load({**stack.env, "KFSYNC_OPS_TOKEN": OPS_TOKEN}, env_file=None)
    reply = create_app(settings).test_client().get(
        f"/api/v1/settlements/{summary['payout_id']}",
        headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert reply.status_code == 200, reply.get_json()
    payout = reply.get_json()
    assert (payout["payout_ref"], payout["payout_amount"], payout["fees"]) == (
        "po_2", "53.40", "3.60")
    assert [r["kashflow_number"] for r in payout["rows"]] == [6201, 6202, 900006211, None,
                                                               None]

    lines = _journal(stack, summary["payout_id"], tmp_path / "journal.csv")
    table = [(r["Nominal"], _money(r["Debit"]), _money(r["Credit"])) for r in lines]
    assert table == [("1200", Decimal("53.40"), 0),     # the bank: what the payout brought
                     ("7900", Decimal("3.60"), 0),      # Stripe's fees
                     ("1220", 0, Decimal("57.00"))]     # the clearing account, emptied
    assert sum(d for _, d, _ in table) == sum(c for _, _, c in table)
    assert {r["Date"] for r in lines} == {"2026-11-26"}

    # The clearing account as KashFlow holds it: the two payments in, the refund out...
    clearing = sum((Decimal(str(line["Amount"])) for invoice in stack.invoices()
                    for line in invoice.get("PaymentLines") or []
                    if line["AccountId"] == CLEARING["Id"]), Decimal("0"))
    assert clearing == Decimal("57.00")  # 36.00 + 36.00 - 15.00
    # ...and with the journal posted by the accountant, back to zero for the period.
    moved = sum((_money(r["Debit"]) - _money(r["Credit"]) for r in lines
                 if r["Nominal"] == str(CLEARING["Code"])), Decimal("0"))
    assert clearing + moved == Decimal("0.00")


def test_a_generic_csv_with_a_column_mapping(stack: Stack, tmp_path: Path) -> None:
    order = make_order(6301, BUYER, LINES)
    stack.seed_order(order)
    stack.send(order)
    assert stack.wait_settled(6301).state == JobState.DONE
    export = tmp_path / "acquirer.csv"
    export.write_text("Ref;Gross;Cost\ntxn-6301-a1b2;36.00;0.50\nunknown-1;4.00;0.10\n"
                      .replace(";", ","), encoding="utf-8")
    done = stack.cli("reconcile", "settlement", str(export), "--export", "csv", "--columns",
                     "txn_id=Ref,gross=Gross,fee=Cost", "--gateway", "braintree",
                     "--format", "json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout, parse_float=Decimal)
    assert summary["format"] == "csv" and summary["matched"] == 1
    assert summary["net"] == Decimal("39.40") and summary["fees"] == Decimal("0.60")
    assert [u["txn_id"] for u in summary["unmatched"]] == ["unknown-1"]
    # Braintree's payments went to the default account: no clearing account, a clear refusal.
    refused = stack.cli("reconcile", "journal", str(summary["payout_id"]))
    assert refused.returncode == 1 and "point the gateway's payment mapping" in refused.stderr
    lines = stack.cli("reconcile", "journal", str(summary["payout_id"]),
                      "--clearing-account", "1202")
    assert lines.returncode == 0, lines.stderr
    assert "9998,Suspense,,4.00" in lines.stdout  # the row kfsync never posted


def test_cli_mistakes_are_usage_errors(stack: Stack, tmp_path: Path) -> None:
    export = tmp_path / "any.csv"
    export.write_text("a,b\n1,2\n", encoding="utf-8")
    for args in (["--export", "csv"], ["--export", "csv", "--columns", "gross=b"],
                 ["--export", "stripe", "--columns", "txn_id=a,gross=b"]):
        done = stack.cli("reconcile", "settlement", str(export), *args)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    missing = stack.cli("reconcile", "journal", "99999")
    assert missing.returncode == 1 and "no settlement payout with id 99999" in missing.stderr
