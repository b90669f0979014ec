"""Stock planning: which SKUs, and per SKU, given both quantities and the last synced
baseline, what to write.

Which SKUs (``stock_map``): the invoices' SKU rule decides — every ``skus:`` entry naming a
product, and every Magento SKU matched to a KashFlow product by code (``mappings.skus``).

Pure (no I/O); ``workers.stock`` reads the two systems and the store, calls ``plan_sku`` for
each SKU, writes what the plan says and stores ``plan.baseline_after(...)``.

The rule per mode (``docs/inventory.md`` has worked examples):

- ``kashflow``: the target is KashFlow's ``QuantityInStock``; Magento is written when it differs.
- ``magento``: the target is Magento's quantity; KashFlow is written when it differs.
- ``both``: a three-way merge against the baseline ``B`` (the quantity both sides agreed on after
  the last sync, and what each side held then)::

      dK = (K - B.kashflow) + (I - B.invoiced)     # KashFlow's own change, sales taken out
      dM =  M - B.magento                          # Magento's change, sales included
      target = B.agreed + dK + dM

  ``I`` is the cumulative quantity of stock-managed invoice lines kfsync has posted to KashFlow
  for the SKU (the invoice ledger). KashFlow lowers ``QuantityInStock`` by those lines itself,
  and Magento already lowered its own stock for the same sale, so the invoices' part of
  KashFlow's change is added back: a sale counts once, through Magento. A reading equal to
  what kfsync last wrote is a zero delta, so kfsync's own writes never come back as changes.

A SKU with no baseline yet is adopted when both sides agree and is a conflict otherwise (no
side is guessed); a negative merged quantity is a conflict too. Conflicts write nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from mappings.rules import Rules
from mappings.skus import MATCHED, map_sku
from mappings.stock_rules import SkuMode

Action = Literal["in_step", "write", "conflict", "skipped"]
ZERO = Decimal(0)


@dataclass(frozen=True)
class Baseline:
    """What kfsync knew after the last sync of a SKU."""

    agreed: Decimal     # the quantity both sides were set to
    kashflow: Decimal   # KashFlow's quantity then (what kfsync wrote, or read)
    magento: Decimal    # Magento's quantity then
    invoiced: Decimal   # the invoice ledger's total for the SKU then


@dataclass(frozen=True)
class SkuReading:
    """Everything known about one SKU before planning. ``problem`` set: report, don't sync."""

    sku: str
    mode: SkuMode
    kashflow: Decimal | None
    magento: Decimal | None
    invoiced: Decimal = ZERO
    baseline: Baseline | None = None
    problem: str | None = None


@dataclass(frozen=True)
class SkuPlan:
    """The decision for one SKU; ``write_*`` is ``None`` when that side needs no write."""

    reading: SkuReading
    action: Action
    reason: str
    target: Decimal | None = None
    write_kashflow: Decimal | None = None
    write_magento: Decimal | None = None

    @property
    def sku(self) -> str:
        return self.reading.sku

    def baseline_after(self, kashflow_ok: bool = True, magento_ok: bool = True
                       ) -> Baseline | None:
        """The baseline to store once the writes are done (``None``: keep the old one).

        A side whose write failed keeps the quantity read from it, so only its later changes
        count next time; the target it missed is still ``agreed`` and is written again.
        """
        r = self.reading
        if self.action not in ("in_step", "write") or self.target is None:
            return None
        assert r.kashflow is not None and r.magento is not None
        kashflow = self.target if self.write_kashflow is not None and kashflow_ok else r.kashflow
        magento = self.target if self.write_magento is not None and magento_ok else r.magento
        return Baseline(self.target, kashflow, magento, r.invoiced)


def plan_sku(reading: SkuReading) -> SkuPlan:
    """Decide what to write for one SKU (see the module docstring for the rule)."""
    k, m = reading.kashflow, reading.magento
    if reading.problem is not None:
        return SkuPlan(reading, "skipped", reading.problem)
    if reading.mode == "off":
        return SkuPlan(reading, "skipped", "stock sync is off for this SKU")
    if k is None or m is None:
        missing = "KashFlow" if k is None else "Magento"
        return SkuPlan(reading, "skipped", f"no quantity in {missing}")
    if reading.mode == "kashflow":
        return _towards(reading, k, f"KashFlow is the master: {_num(k)}")
    if reading.mode == "magento":
        return _towards(reading, m, f"Magento is the master: {_num(m)}")
    return _merge(reading, k, m)


def _towards(reading: SkuReading, target: Decimal, why: str) -> SkuPlan:
    k, m = reading.kashflow, reading.magento
    write_k = target if k != target else None
    write_m = target if m != target else None
    if write_k is None and write_m is None:
        return SkuPlan(reading, "in_step", "in step", target)
    return SkuPlan(reading, "write", why, target, write_k, write_m)


def _merge(reading: SkuReading, k: Decimal, m: Decimal) -> SkuPlan:
    base = reading.baseline
    if base is None:
        if k == m:
            return SkuPlan(reading, "in_step", "in step (baseline taken)", k)
        return SkuPlan(reading, "conflict",
                       f"no baseline yet and the sides differ (KashFlow {_num(k)}, Magento "
                       f"{_num(m)}): sync it once in mode kashflow or magento to choose")
    sold = reading.invoiced - base.invoiced
    d_k = (k - base.kashflow) + sold
    d_m = m - base.magento
    target = base.agreed + d_k + d_m
    why = (f"{_num(base.agreed)} {_signed(d_k)} KashFlow"
           f"{f' (invoices {_signed(-sold)} not counted)' if sold else ''}"
           f" {_signed(d_m)} Magento = {_num(target)}")
    if target < 0:
        return SkuPlan(reading, "conflict", f"merged quantity is negative: {why}")
    plan = _towards(reading, target, why)
    return plan if plan.action == "write" else SkuPlan(reading, "in_step", "in step", target)


def plan_all(readings: Iterable[SkuReading]) -> list[SkuPlan]:
    return [plan_sku(r) for r in readings]


def invoiced_by_sku(lines: Iterable[Mapping[str, Any]],
                    sku_of_product: Mapping[tuple[int, str], str]) -> dict[str, Decimal]:
    """Stock-relevant quantities of one KashFlow invoice body's ``LineItems``, by SKU.

    ``sku_of_product`` maps ``(NominalCode, ProductCode)`` of the stock-managed products to
    their Magento SKU; lines naming no such product move no stock and are left out.
    """
    found: dict[str, Decimal] = {}
    for line in lines:
        code = line.get("ProductCode")
        if not code:
            continue
        sku = sku_of_product.get((int(line["NominalCode"]), str(code)))
        if sku is not None:
            found[sku] = found.get(sku, ZERO) + Decimal(str(line["Quantity"]))
    return found


def unmapped_products(products: Iterable[Mapping[str, Any]],
                      mapped: Iterable[tuple[int, str]]) -> list[str]:
    """``"<nominal>/<code>"`` of stock-managed KashFlow products no SKU maps to (reported)."""
    known = set(mapped)
    return sorted(f"{p['NominalCode']}/{p['Code']}" for p in products
                  if p.get("ManageStockLevel") and (int(p["NominalCode"]), str(p["Code"]))
                  not in known)


@dataclass(frozen=True)
class StockMap:
    """Which Magento SKUs the stock sync covers, by the invoices' SKU rule (``map_sku``)."""

    products: Mapping[str, tuple[int, str]]  # SKU -> KashFlow (NominalCode, Code)
    by_code: frozenset[str]                   # of those, the SKUs matched by code
    unmatched: tuple[str, ...]                # Magento SKUs that name no KashFlow product


def stock_map(magento_skus: Iterable[str], rules: Rules, only: str | None = None) -> StockMap:
    """Every ``skus:`` entry with a ``product_code``, and every Magento SKU matched by code.

    ``only``: just that SKU (a one-SKU pass). A SKU matched by code whose product is not
    stock-managed is left out by the caller, which knows the products as read now.
    """
    table = {s: (r.nominal_code, r.product_code) for s, r in rules.skus.items()
             if r.product_code and (only is None or s == only)}
    lenient = replace(rules, unmapped_sku="default_nominal")  # classify, never raise
    claimed = set(table.values())
    by_code: dict[str, tuple[int, str]] = {}
    unmatched: list[str] = []
    # Exact codes first: when Magento has both "MUG" and "mug", "MUG" is MUG's SKU. A product
    # already a table entry's, or a loose match's twin, leaves the SKU unmatched (one product
    # has one stock level: two SKUs writing it would fight).
    candidates = sorted(set(magento_skus) if only is None else {only})
    for sku in sorted(candidates, key=lambda s: not lenient.products.exact(s)):
        if sku in rules.skus:
            continue
        mapping = map_sku(sku, lenient)
        key = (mapping.nominal_code, mapping.product_code or "")
        if mapping.how == MATCHED and mapping.product_code and key not in claimed:
            by_code[sku] = key
            claimed.add(key)
        else:
            unmatched.append(sku)
    return StockMap({**table, **by_code}, frozenset(by_code), tuple(sorted(unmatched)))


def _num(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _signed(value: Decimal) -> str:
    return f"-{_num(-value)}" if value < 0 else f"+{_num(value)}"
