"""What to do with an order now: invoice it, wait, skip it, or send it to review; and pay or not.

Driven by ``state`` plus the money totals, never by the merchant-editable ``status`` alone
(magento-rest.md §5, DESIGN §5), through the mapping's tables: ``status_actions`` (a few
statuses that override their state, e.g. Adobe Commerce's async ``received``), then
``state_actions``, then ``unknown_state``. Actions:

- ``invoice``: post the sales invoice now;
- ``invoice_if_invoiced``: post it once Magento has invoiced (``total_invoiced`` > 0), else wait;
- ``wait``: nothing yet (a later update or the catch-up poll brings the order back);
- ``skip``: nothing to post;
- ``skip_unless_invoiced``: nothing to post, unless Magento had invoiced something: then review
  (it needs a credit note);
- ``review``: a human decides.

An order due for an invoice is then checked (``mappings.lines``): totals that do not reconcile,
or an invalid row under ``invalid_lines: hold_order``, send it to review with the reason.
An edited order (``relation_parent_id``) says which order it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass

from mappings.errors import MappingError
from mappings.lines import invoice_lines
from mappings.magento import Order
from mappings.money import ZERO
from mappings.routing import route
from mappings.rules import Rules, StateAction
from mappings.tenders import tender_amounts

Verdict = tuple[str, str]

REASONS: dict[str, str] = {
    "processing": "order is processing: post the sales invoice",
    "complete": "order is complete: post the sales invoice",
    "new": "order is new: nothing invoiced yet",
    "pending_payment": "waiting for the payment gateway to confirm",
    "payment_review": "payment is under review at the gateway",
    "holded": "order is on hold",
}
STATUS_REASONS: dict[str, str] = {
    "received": "async order placement has not finished (status 'received')",
}


@dataclass(frozen=True)
class Decision:
    """The verdict on an order. ``reason`` and ``pay_reason`` are for the operator.

    ``replaces``/``replaces_ref``: the entity id and increment id of the order this edit
    replaces (its pending work should stop). ``skipped``: rows the invoice will leave out.
    """

    action: str  # invoice, wait, skip, review
    reason: str
    pay: bool = False
    pay_reason: str = "no invoice, so no payment"
    replaces: int | None = None
    replaces_ref: str | None = None
    skipped: tuple[str, ...] = ()


def decide(order: Order, rules: Rules | None = None) -> Decision:
    """Decide what to post for ``order`` (rules from the mapping; defaults when ``None``)."""
    rules = rules or Rules()
    action, reason = _verdict(order, rules)
    replaces = order.edit.parent_entity_id if order.edit else None
    replaces_ref = order.edit.parent_increment_id if order.edit else None
    if order.edit:
        reason += f"; edit of order {replaces_ref or replaces}, which it replaces"
    if action != "invoice":
        pay, pay_reason = _pay_when_released(order, rules, action)
        return Decision(action, reason, pay=pay, pay_reason=pay_reason, replaces=replaces,
                        replaces_ref=replaces_ref)
    try:
        _, skipped = invoice_lines(order, rules)
    except MappingError as exc:
        return Decision("review", str(exc), replaces=replaces, replaces_ref=replaces_ref)
    notes = tuple(f"{s.label}: {s.reason}" for s in skipped)
    if notes:
        reason += "; will skip " + "; ".join(notes)
    pay, pay_reason = payment_decision(order, rules)
    return Decision(action, reason, pay=pay, pay_reason=pay_reason, replaces=replaces,
                    replaces_ref=replaces_ref, skipped=notes)


def _pay_when_released(order: Order, rules: Rules, action: str) -> tuple[bool, str]:
    """An order a route holds for review is otherwise due: the payment decision it will
    carry on with when an operator requeues it (the requeue resumes at the job's step)."""
    if action != "review" or not route(order, rules).says("hold_for_review"):
        return False, "no invoice, so no payment"
    try:
        return payment_decision(order, rules)
    except MappingError as exc:
        return False, str(exc)


def _verdict(order: Order, rules: Rules) -> Verdict:
    status = order.status or ""
    if status in rules.status_actions:
        why = STATUS_REASONS.get(status, f"status '{status}' is mapped to this action")
        return _resolve(rules.status_actions[status], order, why)
    action = rules.state_actions.get(order.state)
    if action is None:
        return _resolve(rules.unknown_state, order, f"unknown order state '{order.state}'")
    why = REASONS.get(order.state, f"order is {order.state}")
    method = rules.payment_methods.get(order.payment.method) if order.payment else None
    routed = route(order, rules)
    if action in ("invoice", "invoice_if_invoiced") and routed.says("hold_for_review"):
        return "review", f"{why}; held for review by {routed.says('hold_for_review')}"
    if action == "invoice" and routed.says("invoice_if_invoiced"):
        action, why = "invoice_if_invoiced", (f"order is {order.state}, "
                                              f"{routed.says('invoice_if_invoiced')}")
    if action == "invoice" and method is not None and method.invoice == "invoice_if_invoiced":
        # An authorise-only gateway: the invoice follows Magento's own (docs/mapping.md §9).
        action, why = "invoice_if_invoiced", f"{why} (payment_methods rule: invoice_if_invoiced)"
    return _resolve(action, order, why)


def _resolve(action: StateAction, order: Order, why: str) -> Verdict:
    invoiced = order.total_invoiced > ZERO
    if action == "invoice_if_invoiced":
        return ("invoice", why) if invoiced else (
            "wait", f"{why}; nothing invoiced in Magento yet")
    if action == "skip_unless_invoiced":
        if not invoiced:
            return "skip", f"{order.state} before invoice: nothing to post"
        return "review", (f"{order.state} after {order.total_invoiced} was invoiced: needs an "
                          "invoice and a credit note, which this version does not post")
    return action, why


def payment_decision(order: Order, rules: Rules) -> tuple[bool, str]:
    """Pay the gateway's money (DESIGN §5) and/or the tenders (``mappings.tenders``)."""
    skip = route(order, rules).says("skip_payment")
    if skip:
        return False, f"no payment: {skip}"
    gateway, reason = gateway_decision(order, rules)
    tenders = tender_amounts(order)
    if not tenders:
        return gateway, reason
    names = ", ".join(f"{kind} {amount}" for kind, amount, _ in tenders)
    return True, f"tenders {names}; gateway: {reason}"


def gateway_decision(order: Order, rules: Rules) -> tuple[bool, str]:
    """DESIGN §5: pay when the method is online, has a transaction id and money was taken."""
    payment = order.payment
    if payment is None:
        return False, "the order has no payment"
    if not rules.steps.post_payments:
        return False, "post_payments is off in the mapping profile: the invoice stays unpaid"
    skip = route(order, rules).says("skip_payment")
    if skip:
        return False, f"no payment: {skip}"
    if payment.method in rules.offline_payment_methods:
        return False, f"offline method {payment.method}: the invoice stays unpaid"
    if payment.method not in rules.payment_methods:
        policy = rules.unmapped_payment_method
        if policy == "review":
            raise MappingError(f"payment method {payment.method} is not mapped and "
                               "unmapped_payment_method is 'review': map it under "
                               "payment_methods (studio: Payments) and requeue")
        if policy == "no_payment":
            return False, (f"payment method {payment.method} is not mapped: no payment posted "
                           "(unmapped_payment_method: no_payment)")
    if not payment.last_trans_id:
        return False, f"{payment.method} has no gateway transaction id"
    if order.total_paid <= ZERO:
        return False, f"nothing paid yet (total_paid {order.total_paid})"
    if payment.amount_paid <= ZERO:
        return False, f"payment.amount_paid is {payment.amount_paid}"
    unmapped = ("" if payment.method in rules.payment_methods else
                " (not mapped: posted as a card payment, unmapped_payment_method: card)")
    return True, (f"paid {payment.amount_paid} via {payment.method} "
                  f"(txn {payment.last_trans_id}){unmapped}")
