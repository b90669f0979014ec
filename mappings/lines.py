"""Invoice lines: Magento rows -> KashFlow ``LineItems`` that add up to the order, to the penny.

One priced line per ordered item (``mappings.items`` decides which rows), plus, as configured:
a labelled rounding line where no 2-decimal unit price hits the row (``mappings.pricing``), the
shipping line with its own VAT, and discount lines. Discounts (``discounts`` rule):

- ``reduce_lines``: each row is billed at its net after discount
  (``row_total - discount_amount + discount_tax_compensation_amount``), shipping likewise;
- ``discount_line``: rows at full price, then one negative "Discount" line per VAT level
  holding the rows' and the shipping's discounts (net of the VAT inside them).

VAT is Magento's: each row's ``tax_amount`` (reduce_lines) or each level's total tax
(discount_line) is spread over its lines within KashFlow's 0.01 tolerance, so the lines' VAT
adds up to ``tax_amount`` and nets + VAT to ``grand_total`` (+ tenders, which are payments).
A row that cannot be billed follows ``invalid_lines``: skipped and reported, or the order held.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mappings.errors import MappingError
from mappings.items import BillableItem, billable_items
from mappings.magento import Order
from mappings.money import ZERO, plain, round_money
from mappings.pricing import ONE, PricePart, allocate_vat, price_parts
from mappings.routing import route
from mappings.rules import DEFAULT_LINE_TEMPLATE, Rules
from mappings.skus import map_sku
from mappings.validation import reconcile, row_problem, tax_problem
from mappings.vat import item_vat_level, shipping_vat_level


@dataclass(frozen=True)
class InvoiceLine:
    """One KashFlow invoice line; ``rate`` at 2 decimals, ``vat_amount`` at 2 decimals."""

    description: str
    quantity: Decimal
    rate: Decimal
    vat_level: Decimal
    vat_amount: Decimal
    nominal_code: int
    product_code: str | None = None
    kind: str = "item"  # item, rounding, shipping, discount
    rule: str = ""  # the mapping rule that chose the nominal/product (the studio preview)
    sku: str | None = None
    how: str = ""  # item lines: how the SKU was mapped (``mappings.skus.HOWS``)

    @property
    def net(self) -> Decimal:
        """The net KashFlow computes for this line."""
        return round_money(self.quantity * self.rate)

    def to_kashflow(self) -> dict[str, Any]:
        """The ``LineItems[]`` entry (``ProductCode`` only when the SKU maps to a product)."""
        body: dict[str, Any] = {
            "Description": self.description, "Quantity": plain(self.quantity),
            "Rate": self.rate, "VATLevel": self.vat_level, "VATAmount": self.vat_amount,
            "NominalCode": self.nominal_code,
        }
        if self.product_code:
            body["ProductCode"] = self.product_code
        return body


@dataclass(frozen=True)
class Skipped:
    """A row left off the invoice under ``invalid_lines: skip_line``."""

    label: str
    reason: str
    gross: Decimal  # what it adds to grand_total: net after discount + tax


@dataclass
class _Group:
    """Lines sharing one VAT level and one Magento tax figure, awaiting VAT allocation."""

    level: Decimal
    tax: Decimal = ZERO
    lines: list[tuple[int, PricePart, InvoiceLine]] = field(default_factory=list)


@dataclass
class _Builder:
    order: Order
    rules: Rules
    groups: list[_Group] = field(default_factory=list)
    by_level: dict[Decimal, _Group] = field(default_factory=dict)
    discounts: dict[Decimal, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    position: int = 0
    nominal: tuple[int, str] | None = None  # a route's use_nominal: (code, its reason)

    def group(self, level: Decimal) -> _Group:
        if self.rules.discounts == "reduce_lines":
            self.groups.append(_Group(level))
            return self.groups[-1]
        if level not in self.by_level:
            self.by_level[level] = _Group(level)
            self.groups.append(self.by_level[level])
        return self.by_level[level]

    def add(self, group: _Group, part: PricePart, line: InvoiceLine) -> None:
        self.position += 1
        group.lines.append((self.position, part, line))


def invoice_lines(order: Order, rules: Rules) -> tuple[list[InvoiceLine], list[Skipped]]:
    """Item, rounding, shipping and discount lines, and the rows skipped.

    Computed once for consecutive calls with the same (immutable) order and rules objects:
    the decision, each payment, the checks and the draft of one order all ask.

    Raises:
        MappingError: totals that do not reconcile; an invalid row under ``hold_order``
            (every invalid row named); VAT that KashFlow would reject.
    """
    global _LAST
    last = _LAST  # one read and one assignment: a thread sees an old entry or the new one
    if last is not None and last[0] is order and last[1] is rules:
        lines, skipped = last[2]
    else:
        lines, skipped = _invoice_lines(order, rules)
        _LAST = (order, rules, (lines, skipped))  # holding both keeps their ids from reuse
    return list(lines), list(skipped)  # the caller's own lists


_LAST: tuple[Order, Rules, tuple[list[InvoiceLine], list[Skipped]]] | None = None


def _invoice_lines(order: Order, rules: Rules) -> tuple[list[InvoiceLine], list[Skipped]]:
    billable = billable_items(order)
    reconcile(order, billable)
    builder = _Builder(order, rules, nominal=_routed_nominal(order, rules))
    skipped: list[Skipped] = []
    for item in billable:
        label = f"item {item.sku}"
        try:
            _add_item(builder, item, label)
        except MappingError as exc:
            reason = str(exc).removeprefix(f"{label}: ")
            row = item.row
            skipped.append(Skipped(label, reason, row.net + row.tax_amount))
    if skipped and rules.invalid_lines == "hold_order":
        raise MappingError("; ".join(f"{s.label}: {s.reason}" for s in skipped)
                           + " (invalid_lines is hold_order: fix the order or the mapping)")
    _add_shipping(builder)
    _add_discounts(builder)
    return _allocate(builder), skipped


def _routed_nominal(order: Order, rules: Rules) -> tuple[int, str] | None:
    routed = route(order, rules)
    code, why = routed.number("use_nominal"), routed.says("use_nominal")
    return (code, why) if code is not None and why else None


def sku_target(sku: str, rules: Rules) -> tuple[int, str | None]:
    """Nominal code and product code of ``sku`` (``mappings.skus.map_sku``)."""
    mapping = map_sku(sku, rules)
    return mapping.nominal_code, mapping.product_code


def sku_rule(sku: str, rules: Rules) -> tuple[int, str | None, str]:
    """Nominal code, product code and the rule that decided them, for one SKU.

    Raises:
        MappingError: an unmapped SKU under ``unmapped_sku: review``.
    """
    mapping = map_sku(sku, rules)
    return mapping.nominal_code, mapping.product_code, mapping.rule


def describe(item: BillableItem, rules: Rules, product_code: str | None,
             increment_id: str) -> str:
    """The line description from ``rules.line_description`` (closed placeholder set).

    With the default template an item whose Magento name is its SKU prints the SKU once.
    """
    if rules.line_description == DEFAULT_LINE_TEMPLATE and item.name == item.sku:
        return item.sku
    return rules.line_description.format(name=item.name, sku=item.sku,
                                         product_code=product_code or "",
                                         increment_id=increment_id)


def _add_item(builder: _Builder, item: BillableItem, label: str) -> None:
    order, rules, row = builder.order, builder.rules, item.row
    problem = item.problem or row_problem(row)
    if problem:
        raise MappingError(f"{label}: {problem}")
    mapping = map_sku(item.sku, rules)
    nominal, product, rule = mapping.nominal_code, mapping.product_code, mapping.rule
    if builder.nominal is not None:  # a route's use_nominal: a product belongs to one nominal
        nominal, product, rule = builder.nominal[0], None, builder.nominal[1]
    level = item_vat_level(order, row, rules, label)
    problem = tax_problem(row, level)
    if problem:
        raise MappingError(f"{label}: {problem}")
    reduce = rules.discounts == "reduce_lines"
    net = row.net if reduce else row.row_total
    parts = price_parts(net, row.qty_ordered, label, rules.unit_price_rounding)
    text = describe(item, rules, product, order.increment_id)
    if reduce:  # a row's VAT is checked on its own lines first, so a bad row is skippable
        allocate_vat(parts, level, row.tax_amount, label)
    else:
        builder.discounts[level] += row.discount_net
    group = builder.group(level)
    group.tax += row.tax_amount
    for part in parts:
        if part.rounding:
            description = (f"{rules.rounding_description}: {text}, "
                           f"{plain(row.qty_ordered)} for {net:.2f}")
            line = InvoiceLine(description, part.quantity, part.rate, level, ZERO,
                               rules.rounding_nominal_code or nominal, kind="rounding",
                               rule=("rounding_nominal_code" if rules.rounding_nominal_code
                                     else f"{rule} (rounding on the item's nominal)"),
                               sku=item.sku, how=mapping.how)
        else:
            line = InvoiceLine(part.prefix + text, part.quantity, part.rate, level, ZERO,
                               nominal, product, rule=rule, sku=item.sku, how=mapping.how)
        builder.add(group, part, line)


def _add_shipping(builder: _Builder) -> None:
    order, rules = builder.order, builder.rules
    reduce = rules.discounts == "reduce_lines"
    net = order.shipping_net if reduce else order.shipping_amount
    tax = order.shipping_tax_amount
    if order.shipping_amount <= ZERO or (net == ZERO and tax == ZERO):
        return
    level = shipping_vat_level(order, order.shipping_net, tax, rules)
    (part,) = price_parts(net, ONE, "shipping")
    if not reduce:
        builder.discounts[level] += order.shipping_amount - order.shipping_net
    group = builder.group(level)
    group.tax += tax
    builder.add(group, part, InvoiceLine(rules.shipping_description, ONE, part.rate, level,
                                         ZERO, rules.shipping_nominal_code, kind="shipping",
                                         rule="shipping_nominal_code"))


def _add_discounts(builder: _Builder) -> None:
    rules = builder.rules
    levels = [level for level, amount in builder.discounts.items() if amount]
    for level in levels:
        amount = builder.discounts[level]
        description = rules.discount_description
        if len(levels) > 1:
            description += f" ({level}% VAT)"
        part = PricePart(ONE, -amount)
        builder.add(builder.group(level), part, InvoiceLine(
            description, ONE, -amount, level, ZERO, rules.discount_nominal_code, kind="discount",
            rule="discount_nominal_code (discounts: discount_line)"))


def _allocate(builder: _Builder) -> list[InvoiceLine]:
    placed: list[tuple[int, InvoiceLine]] = []
    for group in builder.groups:
        parts = [part for _, part, _ in group.lines]
        label = group.lines[0][2].description if builder.rules.discounts == "reduce_lines" \
            else f"lines at {group.level}% VAT"
        vats = allocate_vat(parts, group.level, group.tax, label)
        placed.extend((position, _with_vat(line, vat))
                      for (position, _, line), vat in zip(group.lines, vats, strict=True))
    return [line for _, line in sorted(placed, key=lambda pair: pair[0])]


def _with_vat(line: InvoiceLine, vat: Decimal) -> InvoiceLine:
    return InvoiceLine(line.description, line.quantity, line.rate, line.vat_level, vat,
                       line.nominal_code, line.product_code, line.kind, line.rule, line.sku,
                       line.how)
