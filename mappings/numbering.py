"""Invoice numbers and due dates.

``Number`` comes from the Magento ``increment_id``: the store's ``prefix`` (``stores`` rule) is
stripped, the digits left plus the store's ``offset`` and ``invoice_number_offset`` make the
number. KashFlow refuses a second invoice with the same number, which is what makes a retried
create safe. An edited order (``000000123-1``) takes the number of the order it replaces (its
edit suffix dropped): the original was canceled in Magento, so at most one of the two can ever
hold that number in KashFlow; if the original had already been posted, the edit is refused
("number already used") and goes to review for a credit note instead of doubling the sale.

KashFlow-allocated numbers are not offered: with no number of our own, a create whose answer
was lost can only be found again by searching, and a write that lands after the search would
make a second invoice. The deterministic number is what makes the create exactly-once.

Due date: ``IssuedDate`` + ``due_days`` (the payment method's ``due_days`` when it has one),
counted from the issue date or, with ``due_from: month_end``, from the end of its month.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

from mappings.errors import MappingError
from mappings.magento import Order
from mappings.rules import Rules, StoreNumbering

EDIT_SUFFIX = re.compile(r"-\d+$")


def invoice_number(increment_id: str, rules: Rules, store_id: int | None = None,
                   edited: bool = False) -> int:
    """KashFlow invoice ``Number`` for an increment id (see the module docstring).

    Raises:
        MappingError: what is left after the store prefix (and edit suffix) is not all digits.
    """
    text = increment_id.strip()
    store = rules.stores.get(str(store_id)) if store_id is not None else None
    store = store or StoreNumbering()
    if edited:
        text = EDIT_SUFFIX.sub("", text)
    if store.prefix and text.startswith(store.prefix):
        text = text[len(store.prefix):]
    if not text.isascii() or not text.isdigit():
        raise MappingError(
            f"order number {increment_id!r} is not all digits after the store prefix "
            f"{store.prefix!r}: set stores.<store_id>.prefix in the mapping, or review")
    return int(text) + store.offset + rules.invoice_number_offset


def order_invoice_number(order: Order, rules: Rules, own_number: bool = False) -> int:
    """``invoice_number`` for ``order`` (its store, and whether it is an edit).

    ``own_number``: an edit whose original is already invoiced in KashFlow (and credited in
    full) is invoiced on its own, under the original's number + ``edit_number_offset`` x its
    suffix (``000000123-1`` -> 10000123 by default), so the two never share a number.
    """
    number = invoice_number(order.increment_id, rules, order.store_id, order.edit is not None)
    match = EDIT_SUFFIX.search(order.increment_id.strip())
    if own_number and order.edit is not None and match is not None:
        number += int(match.group(0)[1:]) * rules.edit_number_offset
    return number


def due_date(order: Order, rules: Rules) -> datetime:
    """When the invoice falls due (see the module docstring)."""
    days = rules.due_days
    if order.payment is not None:
        method = rules.payment_methods.get(order.payment.method)
        if method is not None and method.due_days is not None:
            days = method.due_days
    start = order.created_at
    if rules.due_from == "month_end":
        last = calendar.monthrange(start.year, start.month)[1]
        start = start.replace(day=last)
    return start + timedelta(days=days)
