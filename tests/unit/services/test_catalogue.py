"""What orders used (``services.catalogue.record_seen``), on both databases: the studio's
"seen in the last 90 days" and its counts."""

from __future__ import annotations

from decimal import Decimal

import simplejson

from kfsync.samples import Buyer, Line, make_order
from mappings.magento import Order, parse_order
from services import catalogue

BUYER = Buyer("pat@example.com", "Pat", "Lee", customer_id=7)


def order(entity_id: int, lines: list[Line], method: str = "braintree") -> Order:
    doc = make_order(entity_id, BUYER, lines, method=method)
    return parse_order(simplejson.loads(simplejson.dumps(doc)))


def test_each_value_is_counted_once_per_order_with_its_label_and_last_order(
        db_url: str) -> None:
    mug, book = Line("MUG", "Mug", Decimal("7.99"), 2), Line("BOOK", "Book", Decimal("9.99"),
                                                              1, vat=Decimal(0))
    catalogue.record_seen(db_url, order(1, [mug, book]))
    catalogue.record_seen(db_url, order(2, [Line("MUG", "Mug, blue", Decimal("7.99"), 1)],
                                        method="checkmo"))

    skus = {r.key: (r.count, r.label, r.last_ref) for r in catalogue.seen_rows(db_url, "sku")}
    assert skus == {"MUG": (2, "Mug, blue", "000000002"), "BOOK": (1, "Book", "000000001")}
    vat = {r.key: r.count for r in catalogue.seen_rows(db_url, "vat")}
    assert vat == {"20": 2, "0": 1}
    seen = catalogue.seen(db_url)
    assert seen.skus == {"MUG": "Mug, blue", "BOOK": "Book"}
    assert sorted(seen.methods) == ["braintree", "checkmo"]


def test_many_values_in_one_order_each_get_a_row(db_url: str) -> None:
    lines = [Line(f"SKU-{n:02}", f"Item {n}", Decimal("1.00"), 1) for n in range(12)]
    catalogue.record_seen(db_url, order(3, lines))
    catalogue.record_seen(db_url, order(4, lines[:3]))
    counts = {r.key: r.count for r in catalogue.seen_rows(db_url, "sku")}
    assert counts == {f"SKU-{n:02}": 2 if n < 3 else 1 for n in range(12)}
