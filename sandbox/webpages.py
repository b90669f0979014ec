"""Browser pages of the sandboxes, where the real products have theirs: Magento's admin order
view (``/admin/sales/order/view/order_id/ID/``) and a KashFlow invoice page
(``/invoices/NUMBER``). They let the dashboard's "open in Magento / KashFlow" links be
followed in a demo or a test; no login, since the sandbox holds nothing real."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, render_template_string

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title><style>body{font:14px system-ui,sans-serif;margin:1.5rem}
table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}
</style></head><body><p><em>{{ product }} sandbox: not a real account</em></p><h1>{{ title }}</h1>
<table>{% for k, v in fields %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
<h2>Lines</h2><table><tr>{% for h in heads %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>
</body></html>"""


def _page(product: str, title: str, fields: list[tuple[str, Any]], heads: list[str],
          rows: list[list[Any]], status: int = 200) -> Response:
    html = render_template_string(PAGE, product=product, title=title, fields=fields,
                                  heads=heads, rows=rows)
    return Response(html, status, content_type="text/html; charset=utf-8")


def register_magento_pages(app: Flask, answer: Any) -> None:
    """``answer(entity_id)``: the order's JSON text, or None."""

    @app.get("/admin/sales/order/view/order_id/<int:entity_id>/")
    def admin_order(entity_id: int) -> Response:
        text = answer(entity_id)
        if text is None:
            return _page("Magento", f"No order {entity_id}", [], [], [], 404)
        order = json.loads(text)
        fields = [(k, order.get(k)) for k in ("increment_id", "state", "status", "customer_email",
                                              "subtotal", "shipping_amount", "tax_amount",
                                              "discount_amount", "grand_total", "total_paid",
                                              "order_currency_code")]
        rows = [[i.get("sku"), i.get("name"), i.get("qty_ordered"), i.get("price"),
                 i.get("tax_percent"), i.get("row_total")] for i in order.get("items") or []]
        return _page("Magento", f"Order # {order.get('increment_id')}", fields,
                     ["SKU", "name", "qty", "price", "tax %", "row total"], rows)


def register_kashflow_pages(app: Flask, invoice: Any) -> None:
    """``invoice(number)``: the invoice document; raises for an unknown one."""

    @app.get("/invoices/<int:number>")
    def invoice_page(number: int) -> Response:
        try:
            doc = invoice(number)
        except Exception:
            return _page("KashFlow", f"No invoice {number}", [], [], [], 404)
        fields = [(k, doc.get(k)) for k in ("CustomerCode", "CustomerReference", "IssuedDate",
                                            "NetAmount", "VATAmount", "GrossAmount",
                                            "TotalPaidAmount", "Status")]
        rows = [[x.get("Description"), x.get("Quantity"), x.get("Rate"), x.get("VATLevel"),
                 x.get("VATAmount"), x.get("NominalCode")] for x in doc.get("LineItems") or []]
        return _page("KashFlow", f"Invoice {number}", fields,
                     ["description", "qty", "rate", "VAT %", "VAT", "nominal"], rows)
