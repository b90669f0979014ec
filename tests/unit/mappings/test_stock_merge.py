"""The stock plan per mode: input quantities and baseline -> expected writes (a table each)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mappings.stock import Baseline, SkuReading, invoiced_by_sku, plan_sku, unmapped_products

D = Decimal


def base(agreed: int, k: int | None = None, m: int | None = None, inv: int = 0) -> Baseline:
    return Baseline(D(agreed), D(agreed if k is None else k), D(agreed if m is None else m),
                    D(inv))


@pytest.mark.parametrize(("mode", "k", "m", "action", "write_k", "write_m"), [
    ("kashflow", 40, 40, "in_step", None, None),     # unchanged: no write
    ("kashflow", 37, 40, "write", None, 37),         # KashFlow moved: Magento follows
    ("kashflow", 40, 38, "write", None, 40),         # Magento edited by hand: overwritten
    ("magento", 40, 38, "write", 38, None),
    ("magento", 38, 38, "in_step", None, None),
])
def test_master_modes(mode: str, k: int, m: int, action: str, write_k: int | None,
                      write_m: int | None) -> None:
    plan = plan_sku(SkuReading("MUG", mode, D(k), D(m), baseline=base(40)))  # type: ignore[arg-type]
    assert (plan.action, plan.write_kashflow, plan.write_magento) == (
        action, None if write_k is None else D(write_k), None if write_m is None else D(write_m))


@pytest.mark.parametrize(("k", "m", "invoiced", "baseline", "target", "write_k", "write_m"), [
    # nothing moved
    (40, 40, 0, base(40), 40, None, None),
    # a delivery booked in KashFlow (+10) while Magento sold 3: both deltas apply
    (50, 37, 0, base(40), 47, 47, 47),
    # Magento sold 2 (legacy: at order placement) and kfsync invoiced them: KashFlow also
    # lost 2 by itself. Counted once.
    (38, 38, 2, base(40), 38, None, None),
    # the same sale before the invoice exists in KashFlow: Magento's -2 goes across
    (40, 38, 0, base(40), 38, 38, None),
    # ...and after the invoice, KashFlow is 36 but only -2 counts: written back to 38
    (36, 38, 2, base(38), 38, 38, None),
    # kfsync's own write echoed back (webhook or poll): equal to the baseline, no change
    (47, 47, 0, base(47), 47, None, None),
    # a ledger total from before the baseline does not count again
    (38, 38, 5, base(38, inv=5), 38, None, None),
    # an earlier KashFlow write failed: baseline kept KashFlow's old reading (40), agreed 38
    (40, 38, 0, base(38, k=40), 38, 38, None),
])
def test_both_mode_merge(k: int, m: int, invoiced: int, baseline: Baseline, target: int,
                         write_k: int | None, write_m: int | None) -> None:
    plan = plan_sku(SkuReading("MUG", "both", D(k), D(m), D(invoiced), baseline))
    assert plan.target == D(target)
    assert plan.write_kashflow == (None if write_k is None else D(write_k))
    assert plan.write_magento == (None if write_m is None else D(write_m))
    assert plan.action == ("write" if write_k or write_m else "in_step")


def test_both_without_baseline_adopts_equal_sides_and_never_guesses() -> None:
    same = plan_sku(SkuReading("MUG", "both", D(40), D(40)))
    assert (same.action, same.target) == ("in_step", D(40))
    assert same.baseline_after() == Baseline(D(40), D(40), D(40), D(0))
    differ = plan_sku(SkuReading("MUG", "both", D(40), D(38)))
    assert differ.action == "conflict" and differ.write_kashflow is differ.write_magento is None
    assert differ.baseline_after() is None


def test_negative_merge_is_a_conflict() -> None:
    plan = plan_sku(SkuReading("MUG", "both", D(1), D(1), baseline=base(3)))
    assert plan.action == "conflict" and "negative" in plan.reason


def test_problems_and_off_are_reported_not_synced() -> None:
    assert plan_sku(SkuReading("X", "kashflow", None, D(3), problem="no KashFlow product "
                               "4000/X")).action == "skipped"
    assert plan_sku(SkuReading("X", "off", D(1), D(3))).action == "skipped"
    assert plan_sku(SkuReading("X", "kashflow", D(1), None)).action == "skipped"


def test_baseline_after_a_failed_write_keeps_that_sides_reading() -> None:
    plan = plan_sku(SkuReading("MUG", "both", D(50), D(37), D(0), base(40)))
    assert plan.target == D(47)
    assert plan.baseline_after(kashflow_ok=False, magento_ok=True) == \
        Baseline(D(47), D(50), D(47), D(0))
    # the next pass, nothing else moved: KashFlow gets the missed 47, Magento stays
    again = plan_sku(SkuReading("MUG", "both", D(50), D(47), D(0),
                                plan.baseline_after(kashflow_ok=False, magento_ok=True)))
    assert (again.target, again.write_kashflow, again.write_magento) == (D(47), D(47), None)


def test_invoiced_lines_by_sku_only_stock_products() -> None:
    lines = [{"ProductCode": "MUG", "NominalCode": 4000, "Quantity": D(2)},
             {"ProductCode": "MUG", "NominalCode": 4000, "Quantity": D(1)},
             {"ProductCode": "TSHIRT", "NominalCode": 4000, "Quantity": D(5)},
             {"NominalCode": 4900, "Quantity": D(1), "Description": "Shipping"}]
    assert invoiced_by_sku(lines, {(4000, "MUG"): "MUG"}) == {"MUG": D(3)}


def test_unmapped_stock_products_are_listed() -> None:
    products = [{"NominalCode": 4000, "Code": "MUG", "ManageStockLevel": True},
                {"NominalCode": 4000, "Code": "HOODIE", "ManageStockLevel": True},
                {"NominalCode": 4000, "Code": "BOOK", "ManageStockLevel": False}]
    assert unmapped_products(products, [(4000, "MUG")]) == ["4000/HOODIE"]
