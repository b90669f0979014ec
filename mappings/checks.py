"""Data-quality checks on an order about to be invoiced: findings with a severity, never errors.

The invoice step calls ``run_checks(order, rules, recent)`` and acts on ``worst(findings)``:
``warn`` posts and notes the finding on the job, ``review`` and ``block`` hold the order
(``mappings.rules.CheckRule``). Each check has a fixed id, a severity from the profile
(``rules.checks``; ``off`` skips it) and, where it has one, a threshold: a profile that gives
only a severity keeps the threshold of ``DEFAULT_CHECKS``. A check reports at most one
finding, one line naming the numbers. Checks, in ``DEFAULT_CHECKS`` order:

- ``totals.lines_vs_grand``: ``mappings.orders.checked_lines`` raises (the lines would not add
  up to ``grand_total`` + tenders, the totals do not reconcile, a row cannot be billed under
  ``invalid_lines: hold_order``, an unknown VAT rate ...). Rows skipped under ``skip_line``
  are not a failure.
- ``currency.rate``: a foreign-currency order with no ``base_to_order_rate``, or whose
  ``grand_total / base_grand_total`` is more than threshold percent off that rate (and more
  than ``RATE_ROUNDING`` of base currency off in money: beyond Magento's rounding).
- ``vat.vs_destination``: destination (shipping country, else billing) GB or IM and a Magento
  rate not 20, 5 or 0 %; or another destination charged the UK standard 20 %.
- ``discount.ratio``: the items' discount (net of VAT, without the shipping discount) is over
  threshold x ``subtotal`` by more than a cent per row, or is 100 % yet money was paid.
- ``qty.invalid``: a billed row with ``qty_ordered`` <= 0, or a fractional one whose row says
  ``is_qty_decimal`` false. The order model does not carry that flag yet, and Magento refuses
  a fractional quantity at checkout unless the product allows it, so unknown passes.
- ``price.negative``: any item row with a negative ``price`` or ``row_total``.
- ``dup.near``: an order in ``recent`` (not this one, nor the order this one edits) with the
  same normalised email, ``grand_total`` and SKU multiset, placed within threshold minutes.
- ``payment.amount``: money was taken (``payment.amount_paid`` > 0, and ``total_paid`` or
  ``total_invoiced`` > 0) and ``amount_paid`` is more than threshold off ``grand_total``,
  which is already net of the tenders (store credit, gift cards, points) the gateway does not
  charge. Offline methods report ``amount_paid`` = ``grand_total`` once invoiced, so they pass.

Pure: no I/O; ``recent`` is what the worker kept of recent orders (``summarize``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from mappings.customers import order_email
from mappings.errors import MappingError
from mappings.items import billable_items
from mappings.magento import Order, OrderItem
from mappings.money import CENT, HUNDRED, ZERO, is_integral, plain
from mappings.orders import checked_lines
from mappings.rules import DEFAULT_CHECKS, CheckRule, Rules, Severity

RANKS: Mapping[str, int] = {"warn": 1, "review": 2, "block": 3}
UK_VAT_AREA = frozenset({"GB", "IM"})  # the Isle of Man shares the UK VAT area
UK_RATES = (Decimal(20), Decimal(5), Decimal(0))  # standard, reduced, zero (gov.uk)
UK_STANDARD = Decimal(20)
RATE_MATCH = CENT  # a Magento percentage within 0.01 of a UK rate is that rate
# Magento converts and rounds each figure to the cent, so grand_total may sit a few base cents
# off base_grand_total x rate; a gap this small is rounding, not a wrong rate.
RATE_ROUNDING = Decimal("0.05")  # in the base currency: 5 cents


@dataclass(frozen=True)
class Finding:
    """One check that flagged the order: its id, the profile's severity and a readable line."""

    check: str
    severity: Severity
    message: str


@dataclass(frozen=True)
class OrderSummary:
    """What the worker keeps of a recent order to spot near-duplicates (``dup.near``)."""

    increment_id: str
    email: str  # normalised; "" when the order has none
    grand_total: Decimal
    skus: tuple[tuple[str, Decimal], ...]  # sorted (sku, total qty) of the billed rows
    created_at: datetime


@dataclass(frozen=True)
class _Inputs:
    order: Order
    rules: Rules
    threshold: Decimal  # the check's limit (ZERO for checks that have none)
    recent: Sequence[OrderSummary]


def summarize(order: Order) -> OrderSummary:
    """The ``OrderSummary`` of ``order``: email normalised, SKUs as a sorted multiset."""
    quantities: dict[str, Decimal] = {}
    for billable in billable_items(order):
        quantities[billable.sku] = quantities.get(billable.sku, ZERO) + billable.row.qty_ordered
    skus = tuple(sorted((sku, plain(qty)) for sku, qty in quantities.items()))
    return OrderSummary(order.increment_id, order_email(order) or "", order.grand_total, skus,
                        order.created_at)


def run_checks(order: Order, rules: Rules,
               recent: Sequence[OrderSummary] = ()) -> list[Finding]:
    """Every check not ``off`` in ``rules.checks``, in ``DEFAULT_CHECKS`` order.

    Args:
        order: the parsed order.
        rules: the mapping profile (severities and thresholds in ``rules.checks``).
        recent: summaries of recent orders, for ``dup.near``.

    Returns:
        At most one ``Finding`` per check. Never raises: a check that cannot evaluate the
        order reports that as its finding.
    """
    findings = []
    for check_id, default in DEFAULT_CHECKS.items():
        rule = rules.checks.get(check_id, default)
        if rule.severity == "off":
            continue
        inputs = _Inputs(order, rules, _threshold(rule, default), recent)
        try:
            message = CHECKS[check_id](inputs)
        except (MappingError, ArithmeticError, ValueError, TypeError) as exc:
            message = f"check could not evaluate this order: {exc}"
        if message:
            findings.append(Finding(check_id, rule.severity, message))
    return findings


def worst(findings: Sequence[Finding]) -> Severity | None:
    """The most severe finding's severity (block > review > warn), ``None`` when none."""
    severities = [f.severity for f in findings if f.severity in RANKS]
    return max(severities, key=RANKS.__getitem__, default=None)


def _threshold(rule: CheckRule, default: CheckRule) -> Decimal:
    for value in (rule.threshold, default.threshold):
        if value is not None:
            return value
    return ZERO


def _percent(ratio: Decimal) -> Decimal:
    return (ratio * HUNDRED).quantize(Decimal("0.1"))


def _lines_vs_grand(inputs: _Inputs) -> str | None:
    try:
        checked_lines(inputs.order, inputs.rules)
    except MappingError as exc:
        return str(exc)
    return None


def _currency_rate(inputs: _Inputs) -> str | None:
    order = inputs.order
    code, base_code = order.order_currency_code, order.base_currency_code
    if code.strip().upper() == base_code.strip().upper():
        return None
    rate, base, grand = order.base_to_order_rate, order.base_grand_total, order.grand_total
    if rate is None or rate <= ZERO:
        return f"order in {code} (base {base_code}) has no usable base_to_order_rate ({rate})"
    if base is None or abs(grand - base * rate) <= RATE_ROUNDING * rate:
        return None  # nothing to cross-check with, or only Magento's rounding apart
    if base <= ZERO:
        return (f"grand_total {grand} {code} but base_grand_total {base} {base_code} "
                f"(base_to_order_rate {plain(rate)})")
    implied = grand / base
    off = abs(implied - rate) / rate
    if off * HUNDRED <= inputs.threshold:
        return None
    return (f"grand_total {grand} {code} / base_grand_total {base} {base_code} = rate "
            f"{implied:.4f}, but base_to_order_rate is {plain(rate)} ({plain(_percent(off))}% off, "
            f"threshold {plain(inputs.threshold)}%)")


def _destination(order: Order) -> tuple[str, str] | None:
    for label, address in (("shipping", order.shipping_address),
                           ("billing", order.billing_address)):
        if address is not None and address.country_id and address.country_id.strip():
            return address.country_id.strip().upper(), label
    return None


def _vat_rates(order: Order) -> list[tuple[str, Decimal]]:
    """(what, Magento percentage) for each billed row and the shipping, where Magento says."""
    applied = {entry.item_id: entry.applied_taxes  # the first entry per item, as mappings.vat
               for entry in reversed(order.item_applied_taxes)
               if entry.type == "product" and entry.applied_taxes}
    rates = []
    for billable in billable_items(order):
        taxes = applied.get(billable.row.item_id)
        percent = sum((t.percent for t in taxes), ZERO) if taxes else billable.row.tax_percent
        if percent is not None:
            rates.append((billable.sku, percent))
    shipping = next((entry.applied_taxes for entry in order.item_applied_taxes
                     if entry.type == "shipping" and entry.applied_taxes), None)
    if shipping and order.shipping_amount > ZERO:
        rates.append(("shipping", sum((t.percent for t in shipping), ZERO)))
    return rates


def _vat_vs_destination(inputs: _Inputs) -> str | None:
    destination = _destination(inputs.order)
    if destination is None:
        return None  # no country to judge by
    country, label = destination
    rates = _vat_rates(inputs.order)
    if country in UK_VAT_AREA:
        odd = [(what, rate) for what, rate in rates
               if all(abs(rate - uk) > RATE_MATCH for uk in UK_RATES)]
        if not odd:
            return None
        listed = ", ".join(f"{plain(rate)}% on {what}" for what, rate in odd)
        return (f"{label} country {country}: VAT {listed}, not a UK rate (20, 5 or 0%)")
    standard = [what for what, rate in rates if abs(rate - UK_STANDARD) <= RATE_MATCH]
    if not standard:
        return None
    return (f"{label} country {country} is outside the UK but {', '.join(standard)} "
            f"carry the UK standard 20% VAT: an OSS or export policy should decide")


def _discount_ratio(inputs: _Inputs) -> str | None:
    order = inputs.order
    # the items' discount net of VAT, comparable with the tax-exclusive subtotal
    goods = (-order.discount_amount - order.shipping_discount_amount
             - order.discount_tax_compensation_amount)
    if goods <= ZERO:
        return None
    what = "discount" if goods == -order.discount_amount else "item discount (net of VAT)"
    subtotal = order.subtotal
    if subtotal <= ZERO:
        return f"{what} {goods} on subtotal {subtotal}"
    # Magento rounds each row's discount and the VAT inside it to the cent: a tax-inclusive
    # 50 % discount can come out a cent or so over 50 % of the net, which is not "over 50 %"
    rounding = CENT * max(len(billable_items(order)), 1)
    paid = max(order.total_paid, order.payment.amount_paid if order.payment else ZERO)
    if goods >= subtotal > rounding and paid > ZERO:
        return (f"{what} {goods} takes the whole subtotal {subtotal} (100%), yet {paid} "
                "was paid")
    percent = _percent(goods / subtotal)
    if goods - inputs.threshold * subtotal > rounding:
        return (f"{what} {goods} is {plain(percent)}% of subtotal {subtotal} "
                f"(threshold {plain(_percent(inputs.threshold))}%)")
    return None


def _takes_whole_units(row: OrderItem) -> bool:
    # is_qty_decimal is not in the order model yet: unknown counts as "may be decimal"
    declared = getattr(row, "is_qty_decimal", None)
    return declared is not None and not declared


def _qty_invalid(inputs: _Inputs) -> str | None:
    problems = []
    for billable in billable_items(inputs.order):
        qty = billable.row.qty_ordered
        if qty <= ZERO:
            problems.append(f"item {billable.sku}: qty_ordered {plain(qty)} is not positive")
        elif not is_integral(qty) and _takes_whole_units(billable.row):
            problems.append(f"item {billable.sku}: qty_ordered {plain(qty)} is fractional "
                            "but the product takes whole units (is_qty_decimal 0)")
    return "; ".join(problems) or None


def _price_negative(inputs: _Inputs) -> str | None:
    problems = []
    for row in inputs.order.items:
        negative = [f"{name} {value}" for name, value in
                    (("price", row.price), ("row_total", row.row_total)) if value < ZERO]
        if negative:
            problems.append(f"item {row.sku}: {' and '.join(negative)} negative")
    return "; ".join(problems) or None


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment  # Magento: UTC


def _gap(minutes: Decimal) -> str:
    if minutes == ZERO:
        return "at the same time"
    when = "earlier" if minutes > ZERO else "later"
    return f"{plain(abs(minutes).quantize(Decimal('0.1')))} min {when}"


def _dup_near(inputs: _Inputs) -> str | None:
    order, window = inputs.order, inputs.threshold
    mine = summarize(order)
    if not mine.email:
        return None  # nothing to match a customer by
    parent = order.edit.parent_increment_id if order.edit else None
    matches = []
    for other in inputs.recent:
        if other.increment_id in (mine.increment_id, parent):
            continue
        if (other.email, other.grand_total, other.skus) != (mine.email, mine.grand_total,
                                                              mine.skus):
            continue
        seconds = int((_as_utc(mine.created_at) - _as_utc(other.created_at)).total_seconds())
        minutes = Decimal(seconds) / 60
        if abs(minutes) <= window:
            matches.append(f"{other.increment_id} placed {_gap(minutes)}")
    if not matches:
        return None
    items = ", ".join(f"{sku} x{qty}" for sku, qty in mine.skus)
    return (f"same email, grand_total {mine.grand_total} and items ({items}) as order "
            f"{', '.join(matches)} (window {plain(window)} min): a repeat order or a duplicate?")


def _payment_amount(inputs: _Inputs) -> str | None:
    order, payment = inputs.order, inputs.order.payment
    if payment is None or payment.amount_paid <= ZERO:
        return None
    if order.total_paid <= ZERO and order.total_invoiced <= ZERO:
        return None  # authorised only: nothing taken yet
    if payment.amount_paid == order.total_paid == order.total_invoiced < order.grand_total:
        return None  # a partial capture: each part is posted as it happens (mapping.md §15)
    gap = abs(payment.amount_paid - order.grand_total)
    if gap <= inputs.threshold:
        return None
    message = (f"payment.amount_paid {payment.amount_paid} ({payment.method}) differs from "
               f"grand_total {order.grand_total} by {gap} (threshold {inputs.threshold})")
    tenders = order.tenders.total
    if tenders > ZERO and payment.amount_paid == order.grand_total + tenders:
        message += (f"; it includes the tenders ({tenders:.2f}), which the gateway should "
                    "not charge")
    elif ZERO < order.total_invoiced < order.grand_total:
        message += f"; only {order.total_invoiced} invoiced so far (a partial capture?)"
    return message


CHECKS: Mapping[str, Callable[[_Inputs], str | None]] = {
    "totals.lines_vs_grand": _lines_vs_grand,
    "currency.rate": _currency_rate,
    "vat.vs_destination": _vat_vs_destination,
    "discount.ratio": _discount_ratio,
    "qty.invalid": _qty_invalid,
    "price.negative": _price_negative,
    "dup.near": _dup_near,
    "payment.amount": _payment_amount,
}
