"""The whole life of an order, as money invariants over random histories (issue 20).

A random sequence of captures (Magento invoices with their gateway transactions), refunds
(online credit memos) and cancellations happens to an order that kfsync invoiced when it was
``processing``. After every event, kfsync's pure functions decide what to post against the
ledger of what it posted before: payments (``mappings.captures``), credit notes for credit
memos (``mappings.refunds``, one per memo) and the ``CX-`` cancellation note
(``mappings.cancellations``). Whatever the history:

- the payments sum to what Magento captured, the refunds to what it refunded;
- the invoice and its credit notes sum to what Magento kept: the grand total, less what was
  cancelled uncaptured, less what was refunded;
- every credit note adds up in KashFlow's own arithmetic to what it credits;
- running the same pass again on the same history posts nothing new (a replay, a repeated
  event, a catch-up pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kfsync.samples import Buyer, Line, make_creditmemo, make_order
from mappings.cancellations import build_cancellation_note, cancellation_due, note_gross
from mappings.captures import captured_total, payment_drafts, payments_due
from mappings.ledger import Posted, ledger_gap
from mappings.magento import parse_order
from mappings.money import ZERO
from mappings.orders import build_invoice_draft
from mappings.refunds import build_credit_note, build_refund_payment
from mappings.rules import Rules

RULES = Rules()
CENT = Decimal("0.01")
BUYER = Buyer("ann@example.com", "Ann", "Lee")
LINES = [Line("MUG", "Mug", Decimal("7.99"), 3), Line("BOOK", "Book", Decimal("12.49"), 2,
                                                      vat=Decimal(0))]


@dataclass
class Shop:
    """Magento's side: the order, its invoices (captures) and credit memos."""

    order: dict[str, Any]
    invoices: list[dict[str, Any]] = field(default_factory=list)
    memos: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gross(self) -> Decimal:
        return Decimal(self.order["grand_total"])

    @property
    def captured(self) -> Decimal:
        return sum((Decimal(i["grand_total"]) for i in self.invoices), ZERO)

    @property
    def refunded(self) -> Decimal:
        return sum((Decimal(m["grand_total"]) for m in self.memos), ZERO)

    def capture(self, cents: int) -> None:
        amount = min(Decimal(cents) * CENT, self.gross - self.captured)
        if amount <= ZERO or self.order["state"] == "canceled":
            return
        n = len(self.invoices) + 1
        self.invoices.append({"entity_id": n, "increment_id": f"INV{n}", "state": 2,
                              "transaction_id": f"cap-{n}", "grand_total": amount,
                              "created_at": f"2026-11-2{n % 9} 10:00:00"})
        self._totals()

    def refund(self, cents: int) -> None:
        amount = min(Decimal(cents) * CENT, self.captured - self.refunded)
        if amount <= ZERO:
            return
        n = len(self.memos) + 1
        memo = make_creditmemo(n, self.order, {}, adjustment_positive=amount,
                               transaction_id=f"ref-{n}")
        self.memos.append(memo)
        self._totals()

    def cancel(self) -> None:
        if self.captured < self.gross:  # Magento cannot cancel what is invoiced in full
            self.order["state"] = self.order["status"] = "canceled"

    def _totals(self) -> None:
        captured = self.captured
        self.order["total_paid"] = self.order["total_invoiced"] = captured
        self.order["total_refunded"] = self.refunded
        payment = self.order["payment"]
        payment["amount_paid"] = captured
        if self.invoices:
            payment["last_trans_id"] = self.invoices[-1]["transaction_id"]


@dataclass
class Books:
    """KashFlow's side as kfsync posted it: the invoice, payments, credit notes."""

    invoice: dict[str, Any]
    payments: dict[str, Decimal] = field(default_factory=dict)
    notes: dict[str, Decimal] = field(default_factory=dict)  # reference -> gross (negative)
    refunds: dict[str, Decimal] = field(default_factory=dict)
    cancelled: Decimal = ZERO

    def posted(self) -> Posted:
        return Posted(Decimal(self.invoice["GrossAmount"]), dict(self.payments), self.cancelled)


def open_books(shop: Shop) -> Books:
    order = parse_order(shop.order)
    body = build_invoice_draft(order, RULES, "C1").body
    gross = sum((Decimal(i["Quantity"]) * Decimal(i["Rate"]) + Decimal(i["VATAmount"])
                 for i in body["LineItems"]), ZERO)
    return Books({**body, "GrossAmount": gross})


def sync(shop: Shop, books: Books) -> int:
    """One kfsync pass over the shop as it stands; returns how many things it posted."""
    order = parse_order(shop.order)
    posted = 0
    drafts = payment_drafts(order, RULES, shop.invoices)
    due = payments_due(drafts, books.payments, Decimal(books.invoice["GrossAmount"]))
    assert due.review is None
    for draft in due.payments:
        books.payments[draft.txn_id] = draft.amount
        posted += 1
    for memo in shop.memos:  # one credit memo job each, done once
        ref = f"CM-{memo['increment_id']}"
        if ref in books.notes:
            continue
        note = build_credit_note(memo, order, RULES, "C1")
        books.notes[ref] = note_gross(note.body["LineItems"])
        assert books.notes[ref] == note.expected_gross
        refund = build_refund_payment(memo, order, RULES)
        assert refund is not None
        books.refunds[refund.txn_id] = refund.amount
        posted += 1
    gross = Decimal(books.invoice["GrossAmount"])
    cancel = cancellation_due(order, gross, captured_total(order, shop.invoices),
                              books.cancelled)
    if cancel.amount > ZERO:
        draft = build_cancellation_note(order, books.invoice, cancel, RULES)
        assert draft.body["CustomerReference"] == f"CX-{order.increment_id}"
        assert note_gross(draft.body["LineItems"]) == draft.expected_gross == -cancel.amount
        books.notes[f"CX-{order.increment_id}"] = draft.expected_gross
        books.cancelled += cancel.amount
        posted += 1
    return posted


EVENTS = st.lists(st.one_of(
    st.tuples(st.just("capture"), st.integers(min_value=1, max_value=6000)),
    st.tuples(st.just("refund"), st.integers(min_value=1, max_value=6000)),
    st.tuples(st.just("cancel"), st.just(0)),
), max_size=8)


def placed(authorise_only: bool) -> Shop:
    shop = Shop(make_order(1, BUYER, LINES))
    if authorise_only:  # nothing captured at checkout
        shop.order["total_paid"] = shop.order["total_invoiced"] = Decimal(0)
        shop.order["payment"]["amount_paid"] = Decimal(0)
        shop.order["payment"].pop("last_trans_id", None)
    else:
        shop.capture(int(shop.gross * 100))
    return shop


def happen(shop: Shop, kind: str, cents: int) -> None:
    getattr(shop, kind)(*((cents,) if kind != "cancel" else ()))


@settings(max_examples=300, deadline=None)
@given(events=EVENTS, authorise_only=st.booleans())
def test_posted_documents_always_sum_to_magentos_totals(
        events: list[tuple[str, int]], authorise_only: bool) -> None:
    shop = placed(authorise_only)
    books = open_books(shop)
    sync(shop, books)
    for kind, cents in events:
        happen(shop, kind, cents)
        sync(shop, books)
        gross = Decimal(books.invoice["GrossAmount"])
        assert sum(books.payments.values(), ZERO) == shop.captured
        assert -sum(books.refunds.values(), ZERO) == shop.refunded
        cancelled = gross - shop.captured if shop.order["state"] == "canceled" else ZERO
        assert gross + sum(books.notes.values(), ZERO) == gross - cancelled - shop.refunded
        assert sync(shop, books) == 0  # the same pass again: nothing new
        assert ledger_gap(parse_order(shop.order), RULES, books.posted()) is None
    # The whole sequence delivered again, late and in order, against what was posted:
    # every state on the way finds its documents posted already.
    again = placed(authorise_only)
    assert sync(again, books) == 0
    for kind, cents in events:
        happen(again, kind, cents)
        assert sync(again, books) == 0


@settings(max_examples=100, deadline=None)
@given(parts=st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=5))
def test_partial_captures_are_one_payment_each_never_over_the_invoice(parts: list[int]) -> None:
    shop = Shop(make_order(2, BUYER, LINES))
    shop.order["payment"]["amount_paid"] = shop.order["total_paid"] = Decimal(0)
    shop.order["payment"].pop("last_trans_id", None)
    books = open_books(shop)
    for cents in parts:
        shop.capture(cents)
        sync(shop, books)
    assert sorted(books.payments) == sorted(i["transaction_id"] for i in shop.invoices)
    assert all(books.payments[i["transaction_id"]] == i["grand_total"] for i in shop.invoices)
    assert sum(books.payments.values(), ZERO) <= Decimal(books.invoice["GrossAmount"])
