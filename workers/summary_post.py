"""Summary mode, closing and posting (``docs/accounting-modes.md``).

``close_summaries`` (beat, every ``SUMMARY_CLOSE_S``) closes every open summary of a day that
ended ``summary.close_after_minutes`` ago, and takes over any whose closer died. Closing one
(``close_summary``) is exactly once under retries, as an order's steps are:

1. **claim**: ``open`` -> ``closing`` under a lease (``store.summaries.claim``); from then on
   a late document goes to the next open summary;
2. **count** the post (``begin_post``) and commit, *before* any KashFlow write; a count
   above 0 means an earlier post may have landed, so the document is looked up by its
   deterministic number (``mappings.summary.summary_number``) and adopted when its
   ``CustomerReference`` is this summary's; a ``DuplicateInvoiceNumber`` is adopted the same
   way;
3. **post** the invoice (or credit note) and one payment per gateway into that gateway's
   clearing account (the payment mapping's ``account_id``), each payment's ``Comment``
   naming the summary and method, so a retry finds it in the document's payment lines;
4. **finish**: ``posted``, with what KashFlow answered (number, totals, lines, payments).
   KashFlow's gross must be the summary's to the penny, else the summary stays ``closing``
   with the difference as its error and an alert.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.errors import NotFound, Rejected
from core import pairs
from mappings.money import round_money
from mappings.rules import Rules
from mappings.summary import (
    INVOICE,
    Part,
    PaymentPart,
    SummaryDraft,
    summary_customer_code,
    summary_lines,
    summary_number,
)
from store import summaries
from store.db import read_scope, session_scope
from store.links import add_links
from store.models import utcnow
from store.summary_models import Summary, SummaryState
from workers import context
from workers.alerts import alert
from workers.app import celery_app
from workers.maintenance import exclusive
from workers.numbered import post_once
from workers.payments import bank_account_id, payment_method_id
from workers.runner import find_link

log = logging.getLogger(__name__)

SUMMARY_CLOSE_S = 300.0


@dataclass(frozen=True)
class Away:
    """A late capture's payment this summary carries for an order summary ``home`` holds."""

    home: int
    payment: PaymentPart


CLOSE_LEASE_S = 600  # > posting one summary (a few calls) with the slowest KashFlow


@celery_app.task(name="kfsync.maintenance.close_summaries")
@exclusive("close_summaries")
def close_summaries() -> int:
    """Close and post the summaries that are due, in each pair; the number posted."""
    return context.for_each_pair(lambda: len(close_due(context.db_url())))


@celery_app.task(name="kfsync.maintenance.close_summary")
def close_one(summary_id: int) -> str | None:
    """Close and post summary ``summary_id`` in its own pair (``POST /api/v1/summaries/{id}
    /close``); its state afterwards (None: no such summary). A failure is noted on the
    summary and alerted, as beat's close does, and the next run takes it over."""
    url = context.db_url()
    with read_scope(url) as s:
        row = s.get(Summary, summary_id)
        if row is None:
            return None
        pairs.enter(row.pair)
    try:
        return close_summary(url, summary_id)
    except Exception as exc:
        log.exception("summary %s not posted", summary_id)
        with session_scope(url) as s:
            summaries.note_error(s, summary_id, str(exc))
        alert("summary", f"summary {summary_id} not posted: {exc}")
        return SummaryState.CLOSING


def close_due(url: str, before: date | None = None, now: datetime | None = None) -> list[int]:
    """Close and post this pair's summaries of days before ``before`` (default: days that
    ended ``close_after_minutes`` ago); the ids posted. A summary that fails is alerted and
    left to the next run."""
    now = now or utcnow()
    if before is None:
        grace = context.rules().summary.close_after_minutes
        before = (now - timedelta(minutes=grace)).date()
    with read_scope(url) as s:
        ids = summaries.due(s, before, now, pairs.current())
    posted = []
    for summary_id in ids:
        try:
            if close_summary(url, summary_id) == SummaryState.POSTED:
                posted.append(summary_id)
        except Exception as exc:
            log.exception("summary %s not posted", summary_id)
            with session_scope(url) as s:
                summaries.note_error(s, summary_id, str(exc))
            alert("summary", f"summary {summary_id} not posted: {exc}")
    return posted


def close_summary(url: str, summary_id: int, task: str | None = None) -> str | None:
    """Claim, post and finish summary ``summary_id``; its state afterwards (None: there is
    no such summary).

    Raises:
        connectors.errors.ConnectorError: KashFlow failed (the summary stays ``closing``;
            its lease lapses and the next run takes it over, looking up first).
    """
    task = task or uuid.uuid4().hex
    with session_scope(url) as s:
        if not summaries.claim(s, summary_id, task, utcnow() + timedelta(seconds=CLOSE_LEASE_S)):
            state = s.scalar(Summary.__table__.select().with_only_columns(Summary.state)
                             .where(Summary.id == summary_id))
            return None if state is None else str(state)
    with read_scope(url) as s:
        row = s.get(Summary, summary_id)
        assert row is not None
        summary = {c: getattr(row, c) for c in ("kind", "store", "currency", "day")}
        parts, away = _parts(summaries.entries(s, summary_id), summary_id)
    rules = context.rules().for_store(int(summary["store"]))
    draft = summary_lines(parts, summary["kind"],
                          rules.summary.rounding_nominal_code or rules.default_nominal_code)
    if not draft.lines and not draft.payments and not away:
        with session_scope(url) as s:
            summaries.mark_posted(s, summary_id, net=0, vat=0, gross=0, lines=[], payments=[])
        return SummaryState.POSTED
    with session_scope(url) as s:
        attempts = summaries.begin_post(s, summary_id, task)
    if attempts is None:
        return SummaryState.CLOSING  # another closer took it over
    return _post(url, summary_id, summary, rules, draft, attempts > 0, away)


def _parts(entries: list[Any], summary_id: int) -> tuple[list[Part], list[Away]]:
    """The summary's parts, and the payments of its capture entries for orders held by
    another (closed) summary: those are paid on that summary's invoice (``Away``)."""
    parts, away = [], []
    for e in entries:
        part, home = Part.from_json(e.part), e.part.get("home")
        if home is not None and int(home) != summary_id:
            away += [Away(int(home), p) for p in part.payments]
            part = Part(part.lines)
        parts.append(part)
    return parts, away


def reference(summary: dict[str, Any]) -> str:
    """The summary document's ``CustomerReference``: ``SUM-2026-12-01-1-GBP``."""
    prefix = "SUM" if summary["kind"] == INVOICE else "SUMCN"
    return f"{prefix}-{summary['day'].isoformat()}-{summary['store']}-{summary['currency']}"


def _post(url: str, summary_id: int, summary: dict[str, Any], rules: Rules,
          draft: SummaryDraft, recheck: bool, away: list[Away]) -> str:
    sign = 1 if summary["kind"] == INVOICE else -1
    ref = reference(summary)
    homes = _home_numbers(url, summary_id, away)
    if not draft.lines:  # only captures of orders another summary holds: their payments
        paid = _pay(None, None, ref, summary["day"], draft.payments, away, homes)
        with session_scope(url) as s:
            summaries.mark_posted(s, summary_id, net=0, vat=0, gross=0, lines=[],
                                  payments=paid)
        return SummaryState.POSTED
    code = ensure_summary_customer(url, rules, summary["store"], summary["currency"])
    number = summary_number(rules.summary, summary["kind"], summary_id)
    stamp = f"{summary['day'].isoformat()} 23:59:59"
    body = {"Number": number, "CustomerCode": code, "CustomerReference": ref,
            "IssuedDate": stamp, "DueDate": stamp,
            "Currency": {"Code": summary["currency"], "ExchangeRate": _rate(url, summary_id)},
            "LineItems": [line.to_kashflow() for line in draft.lines]}
    client = context.kashflow()
    document = post_once(client.create_invoice if summary["kind"] == INVOICE
                         else client.create_credit_note, body, ref, recheck=recheck)
    gross = Decimal(str(document["GrossAmount"]))
    if gross != sign * draft.gross:
        raise Rejected(f"penny guard: KashFlow {ref} ({number}) totals {gross} but its "
                       f"documents total {sign * draft.gross}; payments not posted",
                       system="kashflow", reason="SummaryTotalsDiffer")
    paid = _pay(document, number, ref, summary["day"], draft.payments, away, homes)
    with session_scope(url) as s:
        summaries.mark_posted(
            s, summary_id, number=number, customer_code=code, net=sign * draft.net,
            vat=sign * draft.vat, gross=gross,
            lines=[{**line.to_kashflow(), "Kind": line.kind,
                    "Rate": str(line.net), "VATAmount": str(sign * line.vat),
                    "VATLevel": str(line.level), "Quantity": line.sign}
                   for line in draft.lines],
            payments=paid)
    log.info("summary %s posted as KashFlow %s %s (%s)", summary_id, summary["kind"], number,
             gross)
    return SummaryState.POSTED


def _home_numbers(url: str, summary_id: int, away: list[Away]) -> dict[int, int]:
    """The KashFlow invoice numbers of the summaries holding the orders whose late captures
    this summary carries.

    Raises:
        connectors.errors.Rejected: one of them is not posted yet (retried by the next run).
    """
    out = {}
    with read_scope(url) as s:
        for home in {a.home for a in away}:
            number = summaries.posted_number(s, home)
            if number is None:
                raise Rejected(f"summary {summary_id} carries a late capture for summary "
                               f"{home}, which is not posted yet", system="kfsync",
                               reason="HomeSummaryNotPosted")
            out[home] = number
    return out


def _rate(url: str, summary_id: int) -> Decimal:
    """The summary's exchange rate: its orders' gross-weighted rate (1 in home currency)."""
    with read_scope(url) as s:
        rows = [(e.gross, e.part.get("rate")) for e in summaries.entries(s, summary_id)]
    weighted = [(Decimal(str(g)), Decimal(str(r))) for g, r in rows if r]
    home = sum((g / r for g, r in weighted if r), Decimal(0))
    if not weighted or not home:
        return Decimal(1)
    return (sum((g for g, _ in weighted), Decimal(0)) / home).quantize(Decimal("0.000001"))


def _pay(document: dict[str, Any] | None, number: int | None, ref: str, day: date,
         payments: tuple[PaymentPart, ...], away: list[Away], homes: dict[int, int]
         ) -> list[dict[str, Any]]:
    """One payment per method into its clearing account, each once (found by its comment
    in the payment lines of the invoices it pays): this summary's own, allocated to its
    document, plus the late captures it carries, allocated to the invoices of the summaries
    that hold their orders."""
    notes = {str(line.get("Note") or "") for line in (document or {}).get("PaymentLines") or []}
    for home_number in sorted(set(homes.values())):
        lines = context.kashflow().get_invoice(home_number).get("PaymentLines") or []
        notes |= {str(line.get("Note") or "") for line in lines}
    own = {p.magento_method: p for p in payments}
    methods = sorted({*own, *(a.payment.magento_method for a in away)})
    out = []
    for method in methods:
        mine = own.get(method)
        items = [(number, round_money(mine.amount))] if mine is not None and number else []
        items += [(homes[a.home], round_money(a.payment.amount)) for a in away
                  if a.payment.magento_method == method]
        comment = f"{ref} {method}"
        first = mine or next(a.payment for a in away if a.payment.magento_method == method)
        draft = first.draft(comment, day)
        account = bank_account_id(draft)
        if items and comment not in notes:
            context.kashflow().post_invoice_payment(
                date=draft.date, account_id=account, method=payment_method_id(draft),
                comment=comment, items=items)
        out.append({"method": method, "amount": str(sum((x for _, x in items), Decimal(0))),
                    "account_id": account, "comment": comment,
                    "invoices": [n for n, _ in items]})
    return out


def ensure_summary_customer(url: str, rules: Rules, store: str, currency: str) -> str:
    """The summary customer of ``store`` and ``currency``: linked, found, or created."""
    key = f"summary:{store}:{currency}"
    linked = find_link(url, "customer", key)
    if linked is not None:
        return linked
    code = summary_customer_code(rules.summary, store, currency)
    try:
        context.kashflow().get_customer(code)
    except NotFound:
        body = {"Code": code, "Name": f"{rules.summary.customer_name} (store {store}, "
                                      f"{currency})",
                "Email": "", "Contacts": [], "Addresses": [], "Currency": {"Code": currency}}
        try:
            context.kashflow().create_customer(body)
        except Rejected as exc:
            if exc.reason != "DuplicateCustomerCode":
                raise
    with session_scope(url) as s:
        add_links(s, [("customer", key, code)])
    return code


def summary_state(url: str, summary_id: int) -> str | None:
    with read_scope(url) as s:
        row = s.get(Summary, summary_id)
        return None if row is None else row.state

