"""Accounting that matches Magento to the penny: every named fixture, through the pipeline.

Each ``tests/fixtures/magento/acc_*.json`` order is seeded in the Magento sandbox and
announced by webhook; the real worker turns it into a KashFlow invoice (and payments). What an
accountant checks, read back from KashFlow: GrossAmount = grand_total (+ tenders, which are
payments), VATAmount = tax_amount, one priced line per ordered item, and the money received.
All fixtures go through one run per database (sent together, then awaited) to stay fast.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sandbox.server import SandboxServers
from services import studio_preview
from store.models import JobState
from tests.integration.conftest import Stack, fresh_stack

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "magento"
NAMES = sorted(p.stem for p in FIXTURES.glob("acc_*.json"))
LABELLED = ("Shipping", "Rounding", "Discount")  # lines that are not an ordered item
TENDERS = ("customer_balance_amount", "gift_cards_amount", "reward_currency_amount")


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"),
                                     parse_float=Decimal)
    return doc


def ordered_items(doc: dict[str, Any]) -> int:
    """Items a customer ordered, counted from the Magento rows (not by kfsync's code).

    A configurable or fixed-price bundle is one item (its children carry no money); a
    dynamic bundle's children are items of their own (its parent carries no money).
    """
    rows = doc["items"]
    parents = {row["item_id"]: row for row in rows}
    count = 0
    for row in rows:
        parent = parents.get(row.get("parent_item_id"))
        money = any(row.get(k) for k in ("price", "row_total", "tax_amount"))
        top_level_item = parent is None and not (row["product_type"] == "bundle" and not money)
        bundle_child_item = parent is not None and parent["product_type"] == "bundle" and money
        count += top_level_item or bundle_child_item
    return count


def tenders(doc: dict[str, Any]) -> Decimal:
    ext = doc.get("extension_attributes") or {}
    return sum((Decimal(str(ext.get(key, 0))) for key in TENDERS), Decimal(0))


@dataclass
class Outcome:
    state: str
    reason: str | None
    invoice: dict[str, Any] | None
    profile_version: int | None = None
    preview: dict[str, Any] | None = None  # the studio's preview with the job's version


@pytest.fixture(scope="module")
def accounting_run(stack_env: tuple[str, dict[str, str]],
                   servers: SandboxServers) -> Iterator[dict[str, Outcome]]:
    """Send every fixture, wait for all, and keep what KashFlow and the store say."""
    stack = fresh_stack(stack_env, servers)
    docs = {name: load(name) for name in NAMES}
    for doc in docs.values():
        stack.seed_order(doc)
    started = time.monotonic()
    for doc in docs.values():
        stack.send(doc)
    try:
        jobs = {name: stack.wait_settled(int(doc["entity_id"]), timeout=60)
                for name, doc in docs.items()}
    except AssertionError as exc:
        states = {name: getattr(stack.job(int(doc["entity_id"])), "state", None)
                  for name, doc in docs.items()}
        raise AssertionError(f"{exc}; jobs: {states}; events pending: "
                             f"{stack.events_pending()}") from None
    print(f"{len(docs)} orders settled in {time.monotonic() - started:.1f} s")
    by_reference = {inv["CustomerReference"]: inv for inv in stack.invoices()}
    yield {name: Outcome(str(jobs[name].state), jobs[name].reason,
                         by_reference.get(docs[name]["increment_id"]),
                         jobs[name].profile_version, _preview(stack, jobs[name]))
           for name in NAMES}


def _preview(stack: Stack, job: Any) -> dict[str, Any] | None:
    if job.profile_version is None:
        return None
    chosen, _ = studio_preview.preview(stack.db_url, job.id, version=job.profile_version)
    return chosen.body


def test_there_are_at_least_thirty_named_fixtures() -> None:
    assert len(NAMES) >= 30


@pytest.mark.parametrize("name", NAMES)
def test_fixture_reads_back_from_kashflow_to_the_penny(
        accounting_run: dict[str, Outcome], name: str) -> None:
    doc, outcome = load(name), accounting_run[name]
    assert outcome.state == JobState.DONE, outcome.reason
    invoice = outcome.invoice
    assert invoice is not None, f"no KashFlow invoice for {doc['increment_id']}"

    gross, vat = Decimal(str(invoice["GrossAmount"])), Decimal(str(invoice["VATAmount"]))
    assert gross == doc["grand_total"] + tenders(doc)  # tenders are payments, not discounts
    assert vat == doc["tax_amount"]
    assert Decimal(str(invoice["NetAmount"])) + vat == gross
    assert invoice["Currency"]["Code"] == doc["order_currency_code"]
    priced = [line for line in invoice["LineItems"]
              if not str(line["Description"]).startswith(LABELLED)]
    assert len(priced) == ordered_items(doc), [line["Description"] for line in priced]

    paid = Decimal(str(invoice["TotalPaidAmount"]))
    gateway = doc["payment"].get("last_trans_id") is not None
    assert paid == tenders(doc) + (doc["payment"]["amount_paid"] if gateway else 0)
    if gateway or tenders(doc) == gross:
        assert invoice["Status"] == "Paid"


def _same(sent: Any, stored: Any) -> Any:
    """Numbers compared as decimals (the sandbox answers JSON numbers)."""
    if isinstance(sent, dict):
        return {k: _same(v, stored.get(k) if isinstance(stored, dict) else None)
                for k, v in sent.items()}
    if isinstance(sent, list):
        return [_same(v, stored[i] if isinstance(stored, list) and i < len(stored) else None)
                for i, v in enumerate(sent)]
    if isinstance(sent, Decimal | int | float) and not isinstance(sent, bool):
        return Decimal(str(sent)) == Decimal(str(stored))
    return sent == stored


def _all_true(tree: Any) -> bool:
    if isinstance(tree, dict):
        return all(_all_true(v) for v in tree.values())
    if isinstance(tree, list):
        return all(_all_true(v) for v in tree)
    return bool(tree)


@pytest.mark.parametrize("name", NAMES)
def test_the_studio_preview_is_the_invoice_that_was_posted(
        accounting_run: dict[str, Outcome], name: str) -> None:
    """Preview fidelity: the body previewed with the job's profile version is what KashFlow
    received, field for field (every field kfsync sends, line by line)."""
    outcome = accounting_run[name]
    assert outcome.profile_version is not None and outcome.invoice is not None
    assert outcome.preview is not None
    assert len(outcome.preview["LineItems"]) == len(outcome.invoice["LineItems"])
    verdict = _same(outcome.preview, outcome.invoice)
    assert _all_true(verdict), (verdict, outcome.preview, outcome.invoice)


def test_special_cases_read_back_as_the_accountant_expects(
        accounting_run: dict[str, Outcome]) -> None:
    edited = accounting_run["acc_edited_order"].invoice
    assert edited is not None and edited["Number"] == 5099  # the number of the order it replaces
    second_store = accounting_run["acc_second_store_prefix"].invoice
    assert second_store is not None and second_store["Number"] == 5037  # store 2 prefix "2"
    eur = accounting_run["acc_eur"].invoice
    assert eur is not None and Decimal(str(eur["Currency"]["ExchangeRate"])) == Decimal("1.17")
    gift = accounting_run["acc_gift_card"].invoice
    assert gift is not None
    notes = sorted(str(line["Note"]) for line in gift["PaymentLines"])
    assert any("gift card GC-7Q2W-88KD, GC-1M0P-42ZX" in note for note in notes), notes
    rounding = accounting_run["acc_non_exact_unit_price"].invoice
    assert rounding is not None
    assert [(line["Description"], str(line["Quantity"]), str(line["Rate"]))
            for line in rounding["LineItems"][:2]] == [
        ("Enamel Mug (3 for 10.00) (MUG)", "3", "3.33"),
        ("Rounding: Enamel Mug (3 for 10.00) (MUG), 3 for 10.00", "1", "0.01")]


# -- rules are data --------------------------------------------------------------------------

def as_new_order(name: str, entity_id: int, email: str) -> dict[str, Any]:
    doc = load(name)
    doc.update(entity_id=entity_id, increment_id=f"{entity_id:09d}", customer_email=email)
    doc["billing_address"]["email"] = email
    doc["payment"]["last_trans_id"] = f"txn-{entity_id}"
    for item in doc["items"]:
        item["order_id"] = entity_id
    return doc


def write_mapping(path: str, text: str) -> None:
    Path(path).write_text(text, encoding="utf-8")
    later = time.time() + 2  # a new mtime even on coarse-grained file systems
    os.utime(path, (later, later))


def settle(stack: Stack, doc: dict[str, Any]) -> Any:
    stack.seed_order(doc)
    stack.send(doc)
    return stack.wait_settled(int(doc["entity_id"]))


def test_changing_the_mapping_file_changes_the_next_invoice(stack: Stack) -> None:
    path = stack.env["KFSYNC_MAPPING_FILE"]
    original = Path(path).read_text(encoding="utf-8")
    try:
        before = settle(stack, as_new_order("acc_simple_guest", 5101, "first.guest@example.com"))
        write_mapping(path, original + """
skus:
  MUG: {nominal_code: 4010}
payment_methods:
  braintree: {account_id: 1202, method_name: Credit/Debit Card}
guest_policy: shared
shared_guest_code: WEBSALES
""")
        after = settle(stack, as_new_order("acc_simple_guest", 5102, "second.guest@example.com"))
    finally:
        write_mapping(path, original)
    assert before.state == after.state == JobState.DONE, (before.reason, after.reason)
    first, second = sorted(stack.invoices(), key=lambda inv: inv["Number"])

    def mug_nominal(invoice: dict[str, Any]) -> int:
        return next(int(line["NominalCode"]) for line in invoice["LineItems"]
                    if "(MUG)" in line["Description"])

    assert (mug_nominal(first), mug_nominal(second)) == (4000, 4010)
    assert (first["PaymentLines"][0]["AccountId"], second["PaymentLines"][0]["AccountId"]) == (
        1201, 1202)
    assert first["CustomerCode"].startswith("G") and second["CustomerCode"] == "WEBSALES"
    assert second["Address"]["PostCode"] == "LS1 1AA"  # the buyer's address stays on the invoice


# -- invalid rows ----------------------------------------------------------------------------

def test_an_invalid_row_holds_its_order_and_the_others_keep_flowing(stack: Stack) -> None:
    bad, good = load("invalid_zero_qty"), as_new_order("acc_paypal", 5110, "ok@example.com")
    for doc in (bad, good):
        stack.seed_order(doc)
        stack.send(doc)
    held, done = stack.wait_settled(5201), stack.wait_settled(5110)
    assert held.state == JobState.NEEDS_REVIEW
    assert "item MUG: quantity 0 is not positive" in str(held.reason)
    assert done.state == JobState.DONE, done.reason
    assert [inv["CustomerReference"] for inv in stack.invoices()] == [good["increment_id"]]


def test_skip_line_policy_posts_the_rest_and_reports_the_row(stack: Stack) -> None:
    path = stack.env["KFSYNC_MAPPING_FILE"]
    original = Path(path).read_text(encoding="utf-8")
    bad = load("invalid_unknown_vat_rate")
    try:
        write_mapping(path, original + "\ninvalid_lines: skip_line\n")
        job = settle(stack, bad)
    finally:
        write_mapping(path, original)
    assert job.state == JobState.NEEDS_REVIEW
    assert "item CANDLE (10.75): VAT rate 7.5% is not in vat_levels" in str(job.reason)
    [invoice] = stack.invoices()
    assert [line["Description"] for line in invoice["LineItems"]] == [
        "Organic T-shirt (TSHIRT)", "Shipping"]
    assert Decimal(str(invoice["GrossAmount"])) == bad["grand_total"] - Decimal("10.75")
    assert invoice["PaymentLines"] in ([], None)  # no payment until someone has looked


def test_every_other_fixture_order_previews_as_it_was_posted(
        stack_env: tuple[str, dict[str, str]], servers: SandboxServers) -> None:
    """Preview fidelity for the remaining fixture orders (``order_*``, ``invalid_*``): an
    order that was invoiced previews as the invoice KashFlow received; one that was not
    (pending, canceled, held) previews as not posting, or was never stamped."""
    stack = fresh_stack(stack_env, servers)
    names = sorted(p.stem for p in FIXTURES.glob("*.json") if not p.stem.startswith("acc_"))
    docs = {name: load(name) for name in names}
    for doc in docs.values():
        stack.seed_order(doc)
        stack.send(doc)
    jobs = {name: stack.wait_settled(int(doc["entity_id"]), timeout=60)
            for name, doc in docs.items()}
    by_reference = {inv["CustomerReference"]: inv for inv in stack.invoices()}
    invoiced = 0
    for name, job in jobs.items():
        invoice = by_reference.get(docs[name]["increment_id"])
        if invoice is None:
            assert job.state != JobState.DONE or job.profile_version is None, name
            continue
        chosen, _ = studio_preview.preview(stack.db_url, job.id, version=job.profile_version)
        assert chosen.body is not None, (name, chosen.error)
        assert _all_true(_same(chosen.body, invoice)), (name, chosen.body, invoice)
        invoiced += 1
    assert invoiced >= 6
