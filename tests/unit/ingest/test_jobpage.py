"""The job page's pure parts: links to both products' web pages, the two sides, the plan."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.settings import Settings
from ingest.dashboard.jobpage import (
    kashflow_invoice_link,
    kashflow_side,
    magento_admin_link,
    magento_side,
    plan_rows,
    totals_agree,
)
from kfsync.samples import Buyer, Line, make_order


@pytest.mark.parametrize(("env", "url"), [
    ({"KFSYNC_MAGENTO_BASE_URL": "https://shop.example/rest"},
     "https://shop.example/admin/sales/order/view/order_id/7/"),
    ({"KFSYNC_MAGENTO_BASE_URL": "https://shop.example/rest/default"},
     "https://shop.example/admin/sales/order/view/order_id/7/"),
    ({"KFSYNC_MAGENTO_BASE_URL": "https://shop.example/rest",
      "KFSYNC_MAGENTO_ADMIN_URL": "https://shop.example/backoffice_x1/"},
     "https://shop.example/backoffice_x1/sales/order/view/order_id/7/"),
])
def test_the_magento_link_opens_the_admin_order_page(env: dict[str, str], url: str) -> None:
    link = magento_admin_link(Settings.load(env, env_file=None), "7", "000000007")
    assert link.url == url and link.label == "Magento admin: order 000000007"


@pytest.mark.parametrize(("env", "url"), [
    ({"KFSYNC_KASHFLOW_BASE_URL": "http://127.0.0.1:8082/v2"}, "http://127.0.0.1:8082/invoices/42"),
    ({"KFSYNC_KASHFLOW_BASE_URL": "https://api.kashflow.com/v2"}, "https://app.kashflow.com/"),
    ({"KFSYNC_KASHFLOW_BASE_URL": "https://api.kashflow.com/v2",
      "KFSYNC_KASHFLOW_INVOICE_URL": "https://kf.example/invoice?n={number}"},
     "https://kf.example/invoice?n=42"),
])
def test_the_kashflow_link_is_a_web_page_not_the_api(env: dict[str, str], url: str) -> None:
    settings = Settings.load(env, env_file=None)
    link = kashflow_invoice_link(settings, 42)
    assert link is not None and link.url == url and "42" in link.label
    assert kashflow_invoice_link(settings, None) is None


def test_both_sides_and_their_totals_check() -> None:
    order = make_order(9, Buyer("a@example.com", "A", "B"),
                       [Line("MUG", "Mug", Decimal("8.00"), 2)])
    magento = magento_side(order)
    assert [line["sku"] for line in magento.lines] == ["MUG"]
    assert ("grand total", order["grand_total"]) in magento.totals
    invoice = {"Number": 9, "NetAmount": Decimal("21.00"), "VATAmount": Decimal("4.20"),
               "GrossAmount": order["grand_total"], "Currency": "GBP",
               "LineItems": [{"Description": "Mug", "Quantity": 2, "Rate": Decimal("8.00")}]}
    posted = kashflow_side({"kashflow_invoice": invoice, "kashflow_payments": [
        {"amount": order["grand_total"], "date": "2026-11-24", "kind": "gateway"}]})
    assert posted is not None and posted.lines[0]["description"] == "Mug"
    assert totals_agree(magento, posted) is True
    invoice["GrossAmount"] = Decimal("1.00")
    assert totals_agree(magento, kashflow_side({"kashflow_invoice": invoice})) is False
    assert kashflow_side({}) is None and magento_side(None).lines == []


def test_the_plan_reads_as_rows() -> None:
    rows = plan_rows({"action": "invoice", "pay": True, "pay_reason": "paid 9.60 via braintree",
                      "kashflow_invoice": {"Number": 1}, "notes": ["x"], "held_checks": ["a", "b"]})
    assert rows == [("decision", "invoice"), ("post a payment", "yes"),
                    ("why (payment)", "paid 9.60 via braintree"), ("held checks", "a, b")]
