"""Summary mode, pure: which orders are summarised, what each order or credit memo adds to
its summary, and the summary invoice's (or credit note's) lines.

An order in summary mode (``in_summary_mode``) is not invoiced on its own: its would-be
invoice lines (``mappings.orders.checked_lines``, the same lines and VAT a per-order invoice
has) are kept as its *part* of the summary for its (store, currency, day), grouped by
(kind, nominal code, VAT level), with its payments by gateway (``mappings.orders
.build_payments``). A credit memo's part is its credit note's lines
(``mappings.refunds.build_credit_note``) and its online refund.

``summary_lines`` turns the parts of one summary into KashFlow lines: one line per
(kind, nominal, VAT level) at quantity 1 (-1 on a credit note) whose VAT is KashFlow's own
rounding of the line; then, per VAT level whose orders' VAT differs from those lines' VAT
(each order's VAT was rounded on its own), one "VAT rounding" line carrying the difference
exactly, and one 0% "VAT rounding offset" line taking back the net those rounding lines
needed. So the summary's net, VAT and gross equal the sums of its orders' to the penny,
and every line is one KashFlow accepts (VAT within 0.01 of its net at its level).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from mappings.errors import MappingError
from mappings.magento import Order
from mappings.money import ZERO, plain, round_money, to_decimal
from mappings.orders import build_payments, checked_lines
from mappings.refunds import build_credit_note, build_refund_payment
from mappings.rules import Rules, SummaryRule
from mappings.tenders import PaymentDraft

INVOICE, CREDIT = "invoice", "credit"
KIND_OF_LINE = {"item": "sales", "rounding": "sales", "shipping": "shipping",
                "discount": "discount"}
LABELS = {INVOICE: {"sales": "Sales", "shipping": "Shipping", "discount": "Discounts"},
          CREDIT: {"sales": "Refunds", "shipping": "Shipping refunded",
                   "discount": "Discounts refunded", "adjustment": "Refund adjustments"}}
HUNDRED = Decimal(100)
MAX_CODE = 20


@dataclass(frozen=True)
class LinePart:
    """One (kind, nominal, VAT level) group of one document: its net and VAT (positive on
    an invoice, positive refunded amounts on a credit note)."""

    kind: str
    nominal: int
    level: Decimal
    net: Decimal
    vat: Decimal

    @property
    def key(self) -> tuple[str, int, Decimal]:
        return self.kind, self.nominal, self.level


@dataclass(frozen=True)
class PaymentPart:
    """Money received (or refunded) by one method: summed per summary by ``method_key``."""

    magento_method: str
    amount: Decimal
    account_id: int | None = None
    method_id: int | None = None
    method_name: str | None = None
    kind: str = "gateway"

    @property
    def method_key(self) -> str:
        return self.magento_method

    def draft(self, comment: str, day: date) -> PaymentDraft:
        """This payment as a ``PaymentDraft`` (the workers resolve its ids as for orders)."""
        return PaymentDraft(amount=self.amount, date=f"{day.isoformat()} 23:59:59",
                            comment=comment, txn_id=comment, magento_method=self.magento_method,
                            method_id=self.method_id, account_id=self.account_id,
                            method_name=self.method_name, kind=self.kind)


@dataclass(frozen=True)
class Part:
    """What one order (or credit memo) adds to its summary."""

    lines: tuple[LinePart, ...]
    payments: tuple[PaymentPart, ...] = ()

    @property
    def net(self) -> Decimal:
        return sum((p.net for p in self.lines), ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((p.vat for p in self.lines), ZERO)

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat

    def to_json(self) -> dict[str, Any]:
        return {"lines": [{"kind": p.kind, "nominal": p.nominal, "level": str(p.level),
                           "net": str(p.net), "vat": str(p.vat)} for p in self.lines],
                "payments": [{"method": p.magento_method, "amount": str(p.amount),
                              "account_id": p.account_id, "method_id": p.method_id,
                              "method_name": p.method_name, "kind": p.kind}
                             for p in self.payments]}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Part:
        lines = tuple(LinePart(str(x["kind"]), int(x["nominal"]), to_decimal(x["level"]),
                               to_decimal(x["net"]), to_decimal(x["vat"]))
                      for x in doc.get("lines") or ())
        pays = tuple(PaymentPart(str(x["method"]), to_decimal(x["amount"]), x.get("account_id"),
                                 x.get("method_id"), x.get("method_name"),
                                 str(x.get("kind") or "gateway"))
                     for x in doc.get("payments") or ())
        return cls(lines, pays)


@dataclass(frozen=True)
class SummaryLine:
    """One line of a summary document, as KashFlow takes it (``to_kashflow``)."""

    description: str
    kind: str  # sales, shipping, discount, adjustment, vat_rounding, offset
    nominal: int
    level: Decimal
    net: Decimal
    vat: Decimal
    sign: int = 1  # -1 on a credit note: quantity -1, VAT negative

    def to_kashflow(self) -> dict[str, Any]:
        return {"Description": self.description, "Quantity": self.sign, "Rate": self.net,
                "VATLevel": plain(self.level), "VATAmount": self.sign * self.vat,
                "NominalCode": self.nominal}


@dataclass(frozen=True)
class SummaryDraft:
    lines: tuple[SummaryLine, ...]
    net: Decimal
    vat: Decimal
    payments: tuple[PaymentPart, ...] = field(default=())

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


def in_summary_mode(order: Order, rules: Rules, customer_group: int | None) -> bool:
    """Whether ``order`` is booked in a summary (``SummaryRule``) rather than on its own."""
    rule = rules.summary
    method = order.payment.method if order.payment else ""
    if not rule.enabled or method in rule.per_order_payment_methods:
        return False
    if customer_group is not None and customer_group in rule.per_order_customer_groups:
        return False
    store = str(order.store_id) if order.store_id is not None else ""
    return "*" in rule.stores or store in rule.stores or method in rule.payment_methods


def summary_customer_code(rule: SummaryRule, store: str, currency: str) -> str:
    """The summary customer of one store and currency: ``SUM1GBP``."""
    return f"{rule.customer_code_prefix}{store}{currency.upper()}"[:MAX_CODE]


def summary_number(rule: SummaryRule, kind: str, summary_id: int) -> int:
    """The summary document's ``Number``: deterministic per period (its row's id)."""
    offset = rule.invoice_number_offset if kind == INVOICE else rule.credit_note_number_offset
    return offset + summary_id


def _grouped(parts: Iterable[LinePart]) -> tuple[LinePart, ...]:
    sums: dict[tuple[str, int, Decimal], tuple[Decimal, Decimal]] = {}
    for p in parts:
        net, vat = sums.get(p.key, (ZERO, ZERO))
        sums[p.key] = (net + p.net, vat + p.vat)
    return tuple(LinePart(k[0], k[1], k[2], net, vat) for k, (net, vat) in sums.items()
                 if net or vat)


def _payments(drafts: Iterable[PaymentDraft]) -> tuple[PaymentPart, ...]:
    return tuple(PaymentPart(d.magento_method, d.amount, d.account_id, d.method_id,
                             d.method_name, d.kind) for d in drafts if d.amount)


def order_part(order: Order, rules: Rules) -> Part:
    """What ``order`` adds to its summary invoice: its invoice lines and its payments.

    Raises:
        MappingError: as ``checked_lines`` (the order cannot be invoiced as it stands).
    """
    lines, skipped, _ = checked_lines(order, rules)
    if skipped:
        raise MappingError("summary mode takes whole orders only: "
                           + "; ".join(f"{s.label}: {s.reason}" for s in skipped))
    level_parts = (LinePart(KIND_OF_LINE.get(x.kind, "sales"), x.nominal_code, x.vat_level,
                            x.net, x.vat_amount) for x in lines)
    return Part(_grouped(level_parts), _payments(build_payments(order, rules)))


def memo_part(memo: Mapping[str, Any], order: Order, rules: Rules) -> Part:
    """What credit memo ``memo`` of ``order`` adds to its summary credit note.

    Raises:
        MappingError: as ``build_credit_note``.
    """
    draft = build_credit_note(memo, order, rules, "")
    parts = []
    for x in draft.body["LineItems"]:
        text = str(x["Description"])
        kind = ("shipping" if text == "Refund: shipping" else
                "adjustment" if text.startswith("Adjustment") else "sales")
        net = -round_money(Decimal(x["Quantity"]) * Decimal(x["Rate"]))
        parts.append(LinePart(kind, int(x["NominalCode"]), Decimal(x["VATLevel"]), net,
                              -Decimal(x["VATAmount"])))
    refund = build_refund_payment(memo, order, rules)
    return Part(_grouped(parts), _payments([refund] if refund else []))  # negative already


def _line_vat(net: Decimal, level: Decimal) -> Decimal:
    return round_money(net * level / HUNDRED)


def summary_lines(parts: Sequence[Part], kind: str, rounding_nominal: int) -> SummaryDraft:
    """The lines of one summary from its documents' parts (see the module docstring).

    Raises:
        MappingError: VAT on a 0% group (a difference no line can carry).
    """
    sign = 1 if kind == INVOICE else -1
    labels = LABELS[kind]
    groups = sorted(_grouped(p for part in parts for p in part.lines),
                    key=lambda g: (g.kind, g.nominal, g.level))
    out = [SummaryLine(f"{labels.get(g.kind, g.kind)} at {plain(g.level)}% "
                       f"(nominal {g.nominal})", g.kind, g.nominal, g.level, g.net,
                       _line_vat(g.net, g.level), sign) for g in groups]
    offset = ZERO
    for level in sorted({g.level for g in groups}):
        wanted = sum((g.vat for g in groups if g.level == level), ZERO)
        diff = wanted - sum((x.vat for x in out if x.level == level), ZERO)
        if not diff:
            continue
        if not level:
            raise MappingError(f"{diff} of VAT on 0% lines: no summary line can carry it")
        net = round_money(diff * HUNDRED / level)
        out.append(SummaryLine(f"VAT rounding {plain(level)}%", "vat_rounding",
                               rounding_nominal, level, net, diff, sign))
        offset += net
    if offset:
        out.append(SummaryLine("VAT rounding offset (0%)", "offset", rounding_nominal, ZERO,
                               -offset, ZERO, sign))
    return SummaryDraft(tuple(out), sum((g.net for g in groups), ZERO),
                        sum((g.vat for g in groups), ZERO), summed_payments(parts))


def summed_payments(parts: Iterable[Part]) -> tuple[PaymentPart, ...]:
    """The payments of a summary: one per method, in method order."""
    by: dict[str, PaymentPart] = {}
    for part in parts:
        for p in part.payments:
            seen = by.get(p.method_key)
            by[p.method_key] = p if seen is None else PaymentPart(
                seen.magento_method, seen.amount + p.amount, seen.account_id, seen.method_id,
                seen.method_name, seen.kind)
    return tuple(by[k] for k in sorted(by) if by[k].amount)
