"""KashFlow documents under a number kfsync chose: an order's invoice, a credit note (a credit
memo's, an order's ``CX-``), a day's summary invoice or credit note. Each is written once.

Every such document goes to KashFlow under a deterministic number (``mappings``), its
``CustomerReference`` naming the Magento document, so it is found again by number: a step
whose earlier attempt may have reached KashFlow (``JobView.recheck``) looks first, and a create
that KashFlow refuses as ``DuplicateInvoiceNumber`` adopts the document when it is ours. A
number held by another document is ``InvoiceNumberTaken``, never overwritten.

A document adopted that way may carry payments already (kfsync's earlier run, or the same
order sent again after kfsync lost its database): the step that found it marks the job's plan
(``PAID_BEFORE``), and the payment step after it reads the payment lines before it posts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.errors import NotFound, Rejected
from workers import context

Create = Callable[[dict[str, Any]], dict[str, Any]]
# Plan key: the document this job adopted held payments, which its payment step looks up.
PAID_BEFORE = "paid_before"


def post_once(create: Create, body: dict[str, Any], reference: str | None, *,
              recheck: bool, what: str = "invoice") -> dict[str, Any]:
    """The document ``body`` as KashFlow holds it: looked up first when ``recheck``, else (or
    when absent) created with ``create`` (a ``KashFlowClient`` method), or adopted when its
    number is ours already.

    Raises:
        connectors.errors.Rejected: ``InvoiceNumberTaken`` when another document (another
            ``CustomerReference``) holds the number; what ``create`` raises otherwise.
    """
    number = int(body["Number"])
    found = existing(number, reference, what) if recheck else None
    if found is not None:
        return found
    try:
        return create(body)
    except Rejected as exc:
        if exc.reason != "DuplicateInvoiceNumber":
            raise
        found = existing(number, reference, what)
        if found is None:  # vanished between the two calls: let the retry decide
            raise
        return found


def carries_payments(document: dict[str, Any]) -> bool:
    """``document`` (as KashFlow answered it) holds payment lines already."""
    return bool(document.get("PaymentLines"))


def existing(number: int, reference: str | None, what: str = "invoice"
             ) -> dict[str, Any] | None:
    """Document ``number`` when KashFlow has it and it is this one (its ``CustomerReference``
    is ``reference``); None when absent.

    Raises:
        connectors.errors.Rejected: ``InvoiceNumberTaken``, the number is another's.
    """
    try:
        document = context.kashflow().get_invoice(number)
    except NotFound:
        return None
    if str(document.get("CustomerReference")) != str(reference):
        raise Rejected(f"{what} number {number} is already used by another document "
                       f"(reference {document.get('CustomerReference')!r})",
                       system="kashflow", reason="InvoiceNumberTaken", status=400)
    return document
