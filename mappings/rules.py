"""Mapping rules: the data that decides nominal codes, VAT, products, payments and customers.

``Rules()`` holds the built-in defaults (spelled out in ``mappings/default_mapping.yml``; they
suit a UK shop). ``load_rules(path)`` reads a YAML file over them; ``parse_rules(data, source)``
is the pure core (the schema is in ``mappings.rules_schema``). A file overrides the defaults
key by key; the tables ``payment_methods``, ``tenders``, ``state_actions`` and
``status_actions`` are merged entry by entry over their defaults, every other key replaces its
default outright. Unknown keys are errors (a typo must not silently fall back to a default),
reported on one line as ``<file>: <key path>: <problem>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

from mappings.errors import MappingError
from mappings.products import ProductIndex
from mappings.routes import Route
from mappings.yamlfile import read_yaml

UnmappedSkuPolicy = Literal["default_nominal", "review"]
UnmappedMethodPolicy = Literal["card", "no_payment", "review"]
InvalidLinePolicy = Literal["hold_order", "skip_line"]
DiscountStyle = Literal["reduce_lines", "discount_line"]
UnitPriceRounding = Literal["rounding_line", "split"]
GuestPolicy = Literal["per_email", "shared"]
CancelPolicy = Literal["credit", "review"]
InvoiceWhen = Literal["invoice", "invoice_if_invoiced"]
DueFrom = Literal["issued", "month_end"]
StateAction = Literal["invoice", "invoice_if_invoiced", "wait", "skip", "review",
                      "skip_unless_invoiced"]
TenderKind = Literal["store_credit", "gift_card", "reward_points"]
Severity = Literal["off", "warn", "review", "block"]
SEVERITIES = ("off", "warn", "review", "block")

STATE_ACTIONS = ("invoice", "invoice_if_invoiced", "wait", "skip", "review",
                 "skip_unless_invoiced")
MAX_CUSTOMER_CODE = 20  # KashFlow customer codes; a prefix must leave room for the id/hash
GUEST_HASH_CHARS = 10  # hex chars of sha256(email): 16^10 codes, collisions negligible


@dataclass(frozen=True)
class SkuRule:
    """Where one Magento SKU posts in KashFlow."""

    nominal_code: int
    product_code: str | None = None


@dataclass(frozen=True)
class PaymentMethodRule:
    """KashFlow ids for one Magento payment method; ``None`` ids are resolved by ``method_name``.

    ``due_days`` overrides the invoice's payment terms for orders paid this way. ``invoice``:
    ``invoice_if_invoiced`` holds a ``processing`` order paid this way until Magento has
    invoiced it (authorise-only gateways); ``None`` follows ``state_actions``.
    """

    method_id: int | None = None
    account_id: int | None = None
    method_name: str | None = None
    due_days: int | None = None
    invoice: InvoiceWhen | None = None


@dataclass(frozen=True)
class StoreNumbering:
    """Per Magento store: a prefix to strip from ``increment_id`` and an offset to add."""

    prefix: str = ""
    offset: int = 0


@dataclass(frozen=True)
class CheckRule:
    """How one data-quality check (``mappings.checks``) treats an order it flags.

    ``warn`` posts and notes the finding on the job; ``review`` holds the order until an
    operator requeues it (the requeue is the acknowledgement); ``block`` holds it and a requeue
    does not pass it until the order or the profile changes; ``off`` skips the check.
    ``threshold`` is the check's own limit (a ratio, a percentage or minutes, per check).
    """

    severity: Severity = "warn"
    threshold: Decimal | None = None


@dataclass(frozen=True)
class StepToggles:
    """Which parts of the pipeline run. Off means skipped and said so on the job, never silent."""

    create_customers: bool = True  # False: match by email only; no match -> review
    post_payments: bool = True  # False: invoices stay unpaid in KashFlow
    credit_notes: bool = True  # False: credit memos are recorded as skipped
    stock_sync: bool = True  # False: the stock beat tasks do nothing


@dataclass(frozen=True)
class SummaryRule:
    """Summary mode (``mappings.summary``, docs/accounting-modes.md): which orders are booked
    as one KashFlow invoice per (store, currency, day) instead of one invoice each.

    Opt-in: an order is summarised when its store is in ``stores`` (``"*"``: every store) or
    its payment method is in ``payment_methods``, unless its customer group is in
    ``per_order_customer_groups`` or its method in ``per_order_payment_methods`` (B2B/trade
    orders keep their own invoice). Summary invoices and credit notes are numbered from their
    offsets plus the summary's id; ``close_after_minutes`` after a day ends (UTC), beat
    closes and posts its summaries.
    """

    stores: tuple[str, ...] = ()
    payment_methods: tuple[str, ...] = ()
    per_order_customer_groups: tuple[int, ...] = ()
    per_order_payment_methods: tuple[str, ...] = ()
    customer_code_prefix: str = "SUM"
    customer_name: str = "Web sales"
    invoice_number_offset: int = 700_000_000
    credit_note_number_offset: int = 750_000_000
    rounding_nominal_code: int | None = None  # None: default_nominal_code
    close_after_minutes: int = 60

    @property
    def enabled(self) -> bool:
        return bool(self.stores or self.payment_methods)


# Placeholders a line description template may use (a closed set: no expressions).
LINE_PLACEHOLDERS = ("name", "sku", "product_code", "increment_id")
DEFAULT_LINE_TEMPLATE = "{name} ({sku})"

# The data-quality checks and their defaults (thresholds: see docs/mapping.md).
DEFAULT_CHECKS: Mapping[str, CheckRule] = MappingProxyType({
    "totals.lines_vs_grand": CheckRule("review"),
    "currency.rate": CheckRule("review", Decimal("0.5")),  # percent off base_to_order_rate
    "vat.vs_destination": CheckRule("warn"),
    "discount.ratio": CheckRule("warn", Decimal("0.5")),  # discount / subtotal
    "qty.invalid": CheckRule("review"),
    "price.negative": CheckRule("review"),
    "dup.near": CheckRule("warn", Decimal("30")),  # minutes
    "payment.amount": CheckRule("review", Decimal("0.01")),  # absolute difference
})

CARD = "Credit/Debit Card"  # name hint: kfsync looks a KashFlow method up by this name
PAYPAL = "PayPal"

DEFAULT_OFFLINE_METHODS = frozenset(
    {"checkmo", "banktransfer", "cashondelivery", "purchaseorder", "free"}
)
DEFAULT_PAYMENT_METHODS: Mapping[str, PaymentMethodRule] = MappingProxyType({
    "braintree": PaymentMethodRule(method_name=CARD),
    "stripe_payments": PaymentMethodRule(method_name=CARD),
    "authorizenet_acceptjs": PaymentMethodRule(method_name=CARD),
    "braintree_paypal": PaymentMethodRule(method_name=PAYPAL),
    "paypal_express": PaymentMethodRule(method_name=PAYPAL),
})
# Tenders are paid on the invoice like money; point account_id at a clearing account.
DEFAULT_TENDERS: Mapping[str, PaymentMethodRule] = MappingProxyType({
    "store_credit": PaymentMethodRule(method_name="Cash"),
    "gift_card": PaymentMethodRule(method_name="Cash"),
    "reward_points": PaymentMethodRule(method_name="Cash"),
})
# Magento VAT percentage (or applied tax code) -> KashFlow VATLevel: UK standard, reduced, zero.
DEFAULT_VAT_LEVELS: Mapping[str, Decimal] = MappingProxyType(
    {"20": Decimal(20), "5": Decimal(5), "0": Decimal(0)}
)
DEFAULT_STATE_ACTIONS: Mapping[str, StateAction] = MappingProxyType({
    "processing": "invoice",
    "complete": "invoice",
    "new": "wait",
    "pending_payment": "wait",
    "payment_review": "wait",
    "holded": "wait",
    "canceled": "skip_unless_invoiced",
    "closed": "skip_unless_invoiced",
})
# Statuses that override their state (Adobe Commerce async placement: 'received').
DEFAULT_STATUS_ACTIONS: Mapping[str, StateAction] = MappingProxyType({"received": "wait"})


def _frozen_map(values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class Rules:
    """Every mapping decision that is data, not code. Defaults suit a UK shop on nominal 4000."""

    default_nominal_code: int = 4000
    shipping_nominal_code: int = 4000
    shipping_description: str = "Shipping"
    discounts: DiscountStyle = "reduce_lines"
    discount_nominal_code: int = 4000
    discount_description: str = "Discount"
    unit_price_rounding: UnitPriceRounding = "rounding_line"
    rounding_nominal_code: int | None = None  # None: the nominal of the line it rounds
    rounding_description: str = "Rounding"
    unmapped_sku: UnmappedSkuPolicy = "default_nominal"
    # True: a SKU matching no table entry and no KashFlow product code is created in KashFlow
    # (code = SKU) before the invoice (workers/products.py), exactly once.
    create_missing_products: bool = False
    # An online method missing from payment_methods: post it as a card payment (resolved by
    # name), post no payment, or hold the order for review.
    unmapped_payment_method: UnmappedMethodPolicy = "card"
    invalid_lines: InvalidLinePolicy = "hold_order"
    skus: Mapping[str, SkuRule] = field(default_factory=_frozen_map)
    vat_levels: Mapping[str, Decimal] = field(default_factory=lambda: DEFAULT_VAT_LEVELS)
    offline_payment_methods: frozenset[str] = DEFAULT_OFFLINE_METHODS
    payment_methods: Mapping[str, PaymentMethodRule] = field(
        default_factory=lambda: DEFAULT_PAYMENT_METHODS)
    tenders: Mapping[str, PaymentMethodRule] = field(default_factory=lambda: DEFAULT_TENDERS)
    state_actions: Mapping[str, StateAction] = field(
        default_factory=lambda: DEFAULT_STATE_ACTIONS)
    status_actions: Mapping[str, StateAction] = field(
        default_factory=lambda: DEFAULT_STATUS_ACTIONS)
    unknown_state: StateAction = "review"
    due_days: int = 0
    due_from: DueFrom = "issued"
    guest_policy: GuestPolicy = "per_email"
    shared_guest_code: str = "WEBSALES"
    shared_guest_name: str = "Web Sales"
    guest_code_prefix: str = "G"
    customer_code_prefix: str = "M"
    invoice_number_offset: int = 0
    # Credit memos have their own increment ids, which overlap the orders': their credit notes
    # are numbered from this offset so the two ranges never collide.
    credit_note_number_offset: int = 900_000_000
    # A cancellation after the invoice was posted (order canceled, items canceled, or an edit
    # that replaces it): a "CX-" credit note numbered from this offset, or a review hold.
    on_cancel_after_invoice: CancelPolicy = "credit"
    cancel_note_number_offset: int = 800_000_000
    # An edit (000000123-1) whose original was already invoiced is invoiced on its own under
    # the original's number + this offset x the edit's suffix (10000123 for -1).
    edit_number_offset: int = 10_000_000
    stores: Mapping[str, StoreNumbering] = field(default_factory=_frozen_map)
    line_description: str = DEFAULT_LINE_TEMPLATE
    steps: StepToggles = StepToggles()
    checks: Mapping[str, CheckRule] = field(default_factory=lambda: DEFAULT_CHECKS)
    # Conditional routes (``mappings.routes``), applied per order by ``mappings.routing``.
    routes: tuple[Route, ...] = ()
    # Summary mode (``SummaryRule``): off unless a store or payment method opts in.
    summary: SummaryRule = SummaryRule()
    # Not a profile key: the KashFlow catalogue the SKU rule matches codes in (``skus.map_sku``),
    # attached at run time by ``with_products``; empty in a profile read from a file.
    products: ProductIndex = field(default_factory=ProductIndex, compare=False, repr=False,
                                   metadata={"profile": False})
    # Not a profile key: these rules as one Magento store of an integration pair books
    # (its nominals, bank account, prefix: services.pairs), attached at run time; ``for_store``.
    by_store: Mapping[str, Rules] = field(default_factory=_frozen_map, compare=False,
                                          repr=False, metadata={"profile": False})

    def for_store(self, store_id: int | None) -> Rules:
        """The rules for an order of Magento store ``store_id`` (these, unless its pair has
        per-store rules for it)."""
        if store_id is None or not self.by_store:
            return self
        return self.by_store.get(str(store_id), self)

    @property
    def known_vat_percents(self) -> tuple[Decimal, ...]:
        """The Magento percentages named in ``vat_levels`` (tax codes left out)."""
        found = []
        for key in self.vat_levels:
            try:
                found.append(Decimal(key))
            except ArithmeticError:  # a tax code, not a percentage
                continue
        return tuple(found)


MERGED_TABLES: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "payment_methods": DEFAULT_PAYMENT_METHODS,
    "tenders": DEFAULT_TENDERS,
    "state_actions": DEFAULT_STATE_ACTIONS,
    "status_actions": DEFAULT_STATUS_ACTIONS,
    "checks": DEFAULT_CHECKS,
})


def vat_key(rate: Decimal | str) -> str:
    """The ``vat_levels`` key for a percentage or a tax code: ``20.0000`` and ``20`` -> ``"20"``."""
    try:
        number = Decimal(str(rate).strip())
    except ArithmeticError:
        return str(rate).strip()
    if not number.is_finite():
        return str(rate).strip()
    normal = number.normalize()
    return str(normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal)


def parse_rules(data: Mapping[str, Any] | None, source: str = "mapping") -> Rules:
    """Build ``Rules`` from already-decoded config data over the defaults.

    Raises:
        MappingError: ``"<source>: <key path>: <problem>"`` for each bad key, on one line.
    """
    from mappings.rules_schema import load_fields

    if data is None:
        return Rules()
    if not isinstance(data, Mapping):
        raise MappingError(f"{source}: the top level must be a mapping of keys, not a list or text")
    # The `stock:` section has its own schema (mappings/stock_rules.py).
    loaded = load_fields({k: v for k, v in data.items() if k != "stock"}, source)
    for name, defaults in MERGED_TABLES.items():
        if name in loaded:
            loaded[name] = _frozen_map({**defaults, **loaded[name]})
    if "vat_levels" in loaded:
        loaded["vat_levels"] = {vat_key(k): v for k, v in loaded["vat_levels"].items()}
    for name in ("skus", "vat_levels", "stores"):
        if name in loaded:
            loaded[name] = _frozen_map(loaded[name])
    if "offline_payment_methods" in loaded:
        loaded["offline_payment_methods"] = frozenset(loaded["offline_payment_methods"])
    return Rules(**loaded)


def with_products(rules: Rules, products: ProductIndex) -> Rules:
    """``rules`` matching SKUs against ``products`` (the same object when it already does)."""
    return rules if rules.products is products else replace(rules, products=products)


def load_rules(path: str | None) -> Rules:
    """Read mapping rules from a YAML file (``None``: the built-in defaults).

    Raises:
        MappingError: unreadable file, invalid YAML, or a bad key (named with the file), as
            one line.
    """
    if path is None:
        return Rules()
    data = read_yaml(path)
    return parse_rules(data, source=path)
