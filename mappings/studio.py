"""Pure helpers of the mapping studio: validation against the KashFlow catalogue, coverage,
and the explained preview of an invoice.

``validate(document, catalogue, seen)`` returns problems, each an ``error`` (publishing is
refused) or a ``warning`` (shown, not blocking):

- schema errors (the same one-line messages as the mapping file's);
- two SKU rows that are the same SKU apart from case or spaces (one mapping per SKU);
- references: a SKU's ``product_code`` must be a KashFlow product under that
  ``nominal_code``; payment ``method_id``/``account_id`` must exist, a ``method_name`` must
  name a KashFlow method; each VAT level must be one of KashFlow's VAT rates. A reference to
  something KashFlow no longer has is an error: the row is *broken*;
- coverage (warnings): SKUs, online payment methods and VAT rates seen on recent orders that
  no rule maps (they follow the unmapped policies); a SKU matched by its KashFlow product code
  is mapped.

Nominal codes themselves are not checked: ``GET /nominals`` is not among the endpoints kfsync
uses (API-SUBSET); a product reference checks its nominal. Before the first catalogue
refresh, references cannot be checked and one warning says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mappings.errors import MappingError
from mappings.lines import InvoiceLine
from mappings.products import ProductIndex, ProductRef
from mappings.profile import parse_document
from mappings.rules import Rules, vat_key, with_products
from mappings.skus import MAPPED, MATCHED, how_mapped


@dataclass(frozen=True)
class CatalogueProduct:
    code: str
    name: str
    nominal_code: int


@dataclass(frozen=True)
class Catalogue:
    """KashFlow reference data as last refreshed (empty before the first refresh)."""

    products: Sequence[CatalogueProduct] = ()
    vat_rates: Sequence[Decimal] = ()
    bank_accounts: Mapping[int, str] = field(default_factory=dict)
    payment_methods: Mapping[int, str] = field(default_factory=dict)
    refreshed: bool = False

    def index(self) -> ProductIndex:
        """The products as the SKU rule's index (``mappings.skus``)."""
        return ProductIndex.of(ProductRef(p.nominal_code, p.code) for p in self.products)

    def product(self, nominal_code: int, code: str) -> CatalogueProduct | None:
        for p in self.products:
            if p.code == code and p.nominal_code == nominal_code:
                return p
        return None


@dataclass(frozen=True)
class Seen:
    """What recent orders used: SKU -> name, payment method codes, VAT percentages."""

    skus: Mapping[str, str] = field(default_factory=dict)
    methods: Sequence[str] = ()
    vat_rates: Sequence[str] = ()


@dataclass(frozen=True)
class Problem:
    severity: str  # error, warning
    path: str      # the document key it is about, e.g. skus.TSHIRT.product_code
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def validate(document: Mapping[str, Any], catalogue: Catalogue,
             seen: Seen | None = None) -> list[Problem]:
    """Every problem of ``document`` (see the module docstring), errors first."""
    try:
        rules = parse_document(document, "draft")
    except MappingError as exc:
        return [Problem("error", "", message.removeprefix("draft: "))
                for message in str(exc).split("; ")]
    rules = with_products(rules, catalogue.index())
    problems = _duplicates(rules)
    if catalogue.refreshed:
        problems += _references(rules, catalogue)
    else:
        problems.append(Problem("warning", "", "the KashFlow catalogue has not been refreshed "
                                "yet: product, account, method and VAT references are not "
                                "checked"))
    if seen is not None:
        problems += coverage_gaps(rules, seen)
    return sorted(problems, key=lambda p: (p.severity != "error", p.path))


def _duplicates(rules: Rules) -> list[Problem]:
    by_norm: dict[str, list[str]] = {}
    for sku in rules.skus:
        by_norm.setdefault(sku.strip().casefold(), []).append(sku)
    return [Problem("error", f"skus.{skus[0]}", "the same SKU is mapped more than once: "
                    + ", ".join(repr(s) for s in sorted(skus)))
            for skus in by_norm.values() if len(skus) > 1]


def _references(rules: Rules, catalogue: Catalogue) -> list[Problem]:
    out: list[Problem] = []
    for sku, rule in sorted(rules.skus.items()):
        if rule.product_code and catalogue.product(rule.nominal_code, rule.product_code) is None:
            others = [p.nominal_code for p in catalogue.products if p.code == rule.product_code]
            hint = (f" (it is under nominal {', '.join(map(str, others))})" if others
                    else " (KashFlow has no product with that code: deleted or never created)")
            out.append(Problem("error", f"skus.{sku}.product_code",
                               f"broken: KashFlow product {rule.product_code!r} under nominal "
                               f"{rule.nominal_code} does not exist{hint}"))
    names = {name.casefold() for name in catalogue.payment_methods.values()}
    for table in ("payment_methods", "tenders"):
        for code, method in sorted(getattr(rules, table).items()):
            path = f"{table}.{code}"
            if method.method_id is not None and method.method_id not in catalogue.payment_methods:
                out.append(Problem("error", f"{path}.method_id",
                                   f"broken: KashFlow has no payment method {method.method_id}"))
            if method.account_id is not None and method.account_id not in catalogue.bank_accounts:
                out.append(Problem("error", f"{path}.account_id",
                                   f"broken: KashFlow has no bank account {method.account_id}"))
            if (method.method_id is None and method.method_name
                    and method.method_name.casefold() not in names):
                out.append(Problem("error", f"{path}.method_name",
                                   f"KashFlow has no payment method named "
                                   f"{method.method_name!r}"))
    out += route_references(rules, catalogue)
    rates = {vat_key(r) for r in catalogue.vat_rates}
    for key, level in sorted(rules.vat_levels.items()):
        if vat_key(level) not in rates:
            out.append(Problem("error", f"vat_levels.{key}",
                               f"KashFlow has no {vat_key(level)}% VAT rate"))
    return out


def known_nominals(rules: Rules, catalogue: Catalogue) -> set[int]:
    """Nominals known to exist: those KashFlow products are under, and those the profile
    already posts to (``GET /nominals`` is not among the endpoints kfsync uses)."""
    known = {p.nominal_code for p in catalogue.products}
    known |= {rules.default_nominal_code, rules.shipping_nominal_code,
              rules.discount_nominal_code}
    known |= {rule.nominal_code for rule in rules.skus.values()}
    return known


def route_references(rules: Rules, catalogue: Catalogue) -> list[Problem]:
    """A route's nominal or bank account must be in the KashFlow catalogue."""
    out: list[Problem] = []
    nominals = known_nominals(rules, catalogue)
    for n, route in enumerate(rules.routes, start=1):
        path = f"routes.{n}.value"
        if route.action == "use_nominal" and route.value not in nominals:
            out.append(Problem("error", path, f"route {n}: nominal {route.value} is not in the "
                               "KashFlow catalogue (no product is under it and the profile "
                               "posts nothing there): " + ", ".join(map(str, sorted(nominals)))
                               + " are known"))
        if route.action == "use_bank_account" and route.value not in catalogue.bank_accounts:
            known = ", ".join(f"{k} ({v})" for k, v in sorted(catalogue.bank_accounts.items()))
            out.append(Problem("error", path, f"route {n}: KashFlow has no bank account "
                               f"{route.value}" + (f": use one of {known}" if known else "")))
    return out


def coverage_gaps(rules: Rules, seen: Seen) -> list[Problem]:
    """Warnings for recent SKUs, methods and VAT rates that no rule maps."""
    out: list[Problem] = []
    unmapped = sorted(sku for sku in seen.skus if how_mapped(sku, rules) not in (MAPPED, MATCHED))
    if unmapped:
        policy = ("post on default_nominal_code " + str(rules.default_nominal_code)
                  if rules.unmapped_sku == "default_nominal" else "hold the order for review")
        shown = ", ".join(unmapped[:10]) + (" ..." if len(unmapped) > 10 else "")
        out.append(Problem("warning", "skus", f"{len(unmapped)} SKU(s) seen on recent orders "
                           f"are not mapped and will {policy}: {shown}"))
    for method in sorted(seen.methods):
        if method not in rules.payment_methods and method not in rules.offline_payment_methods:
            out.append(Problem("warning", f"payment_methods.{method}",
                               f"seen on recent orders but not mapped "
                               f"(unmapped_payment_method: {rules.unmapped_payment_method})"))
    for rate in sorted(seen.vat_rates):
        if vat_key(rate) not in rules.vat_levels:
            out.append(Problem("warning", f"vat_levels.{vat_key(rate)}",
                               "seen on recent orders but not mapped: those rows are invalid "
                               f"(invalid_lines: {rules.invalid_lines})"))
    return out


def coverage(rules: Rules, seen: Seen) -> tuple[int, int]:
    """(mapped, total) of the SKUs seen on recent orders: the studio's coverage bar (a SKU
    matched by its KashFlow product code counts as mapped)."""
    total = len(seen.skus)
    return sum(1 for sku in seen.skus if how_mapped(sku, rules) in (MAPPED, MATCHED)), total


def explain_line(line: InvoiceLine, rules: Rules) -> str:
    """The rule behind each field of one invoice line, for the preview."""
    vat = f"VATLevel {line.vat_level} from vat_levels[{vat_key(line.vat_level)}]"
    if line.kind == "item":
        template = f"Description from line_description {rules.line_description!r}"
        how = f" ({line.how})" if line.how else ""
        return f"NominalCode/ProductCode from {line.rule}{how}; {vat}; {template}"
    if line.kind == "shipping":
        return f"NominalCode from shipping_nominal_code; {vat}; shipping_description"
    if line.kind == "discount":
        return f"NominalCode from {line.rule}; {vat}"
    return f"NominalCode from {line.rule}; unit_price_rounding: {rules.unit_price_rounding}"
