"""Summary mode, a booked order's later life (``mappings.summary_life``): its job re-opens
at ``add_to_summary`` (``workers.lifecycle``) when Magento captured more than its summaries
hold, or canceled it with nothing captured; ``settle`` then books what changed, exactly once:

- a **capture**: one *capture* entry (key: the order and Magento's captured total, so the
  same news again finds it) with the new money per method. It joins the order's own summary
  while that is open, else the next open one (``store.summaries.add_entry``), and says so on
  the job; at close its payment is allocated to the invoice that holds the order
  (``workers.summary_post``);
- a **cancellation**: the order's entry leaves its summary while that is open
  (``remove_open``); once closed, a *cancel* entry with its lines joins the next open summary
  credit note (unique per order). A re-run finds the entry gone, or the cancel entry booked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core import pairs
from mappings.magento import Order
from mappings.money import ZERO
from mappings.rules import Rules
from mappings.summary import CREDIT, INVOICE, Part
from mappings.summary_life import (
    CANCEL,
    cancel_part,
    capture_delta,
    capture_key,
    summary_gap,
)
from store import summaries
from store.db import session_scope
from store.jobs import JobView, StepResult
from store.models import Step, utcnow
from store.summaries import Booked, Doc
from store.summary_models import Summary
from workers import context
from workers.runner import parsed_order


def settle(job: JobView) -> StepResult:
    """Book what the summarised order's capture or cancellation changed (module docstring);
    nothing when its summaries are in step with Magento."""
    order = parsed_order(job.document)
    version, rules = context.profile()
    rules = rules.for_store(order.store_id)
    booked = job.plan["summary"]
    gap = summary_gap(order, rules, booked)
    if gap is None:
        return StepResult(next_step=Step.DONE, updates={"reason": booked.get("note")})
    said, summary = _cancel(job) if gap[0] == CANCEL else _capture(job, order, rules)
    entry = {"doc": "summary_credit" if gap[0] == CANCEL else "summary_payment",
             "ref": summary.pop("ref"), "number": None, "amount": summary.pop("amount"),
             "at": utcnow().isoformat(timespec="seconds"), "why": said,
             "summary_id": summary.get("summary_id")}
    plan = {**job.plan, "summary": {**booked, **summary},
            "ledger": [*(job.plan.get("ledger") or []), entry] if entry["ref"] else
            job.plan.get("ledger") or []}
    return StepResult(next_step=Step.DONE, updates={"plan": plan, "profile_version": version,
                                                     "reason": said})


def _home(s: Any, key: str) -> tuple[Any, Summary] | None:
    entry = summaries.order_entry(s, pairs.current(), key)
    if entry is None:
        return None
    summary = s.get(Summary, entry.summary_id)
    assert summary is not None
    return entry, summary


def _capture(job: JobView, order: Order, rules: Rules) -> tuple[str, dict[str, Any]]:
    key, ref = str(job.magento_key), str(job.magento_ref or job.magento_key)
    with session_scope(context.db_url()) as s:
        found = _home(s, key)
        if found is None:
            return f"{ref} is in no summary: its capture is not booked", {"ref": None,
                                                                         "amount": "0"}
        home = found[1]
        more = capture_delta(order, rules, summaries.order_payments(s, pairs.current(), key))
        amount = sum((p.amount for p in more), ZERO)
        placed: Booked | None = None
        if more:
            placed = summaries.add_entry(s, Doc(
                pair=pairs.current(), kind=INVOICE, doc_kind="capture",
                magento_key=capture_key(key, order, rules), magento_ref=job.magento_ref,
                job_id=job.id, store=home.store, currency=home.currency, day=home.day,
                net=ZERO, vat=ZERO, part={**Part((), more).to_json(), "home": home.id}),
                utcnow().date())
        paid = sum(summaries.order_payments(s, pairs.current(), key).values(), Decimal(0))
    if placed is None:
        return f"{ref}: its summaries hold every capture ({paid})", {"paid": str(paid),
                                                                    "ref": None, "amount": "0"}
    methods = ", ".join(p.magento_method for p in more)
    if placed.summary_id == home.id:
        said = (f"capture of {amount} ({methods}) after {ref} was booked: added to the "
                f"payment of its summary {home.id} of {home.day}")
    else:
        said = (f"capture of {amount} ({methods}) after {ref} was booked: its summary "
                f"{home.id} of {home.day} was closed already, so it is in the payment of the "
                f"next open one, summary {placed.summary_id} of {placed.day}, paid on "
                f"summary {home.id}'s invoice when that one closes")
    return said, {"paid": str(paid), "summary_id": placed.summary_id,
                  "ref": capture_key(key, order, rules), "amount": str(amount)}


def _cancel(job: JobView) -> tuple[str, dict[str, Any]]:
    key, ref = str(job.magento_key), str(job.magento_ref or job.magento_key)
    today = utcnow().date()
    with session_scope(context.db_url()) as s:
        found = _home(s, key)
        if found is None:
            return (f"{ref} was canceled in Magento and is out of its summary already",
                    {"cancelled": True, "ref": None, "amount": "0"})
        entry, home = found
        gross, home_id, home_day = entry.gross, home.id, home.day
        if summaries.remove_open(s, entry):
            return (f"{ref} was canceled in Magento before its summary {home_id} of "
                    f"{home_day} closed: taken out of it ({gross})",
                    {"cancelled": True, "removed_from": home_id, "ref": f"CANCEL-{ref}",
                     "amount": str(gross), "summary_id": home_id})
        placed = summaries.add_entry(s, Doc(
            pair=pairs.current(), kind=CREDIT, doc_kind="cancel", magento_key=key,
            magento_ref=job.magento_ref, job_id=job.id, store=home.store,
            currency=home.currency, day=today, net=entry.net, vat=entry.vat,
            part={**cancel_part(entry.part).to_json(), "rate": entry.part.get("rate")}),
            today)
    return (f"{ref} was canceled in Magento after its summary {home_id} of {home_day} was "
            f"closed: its {gross} is credited on summary credit note {placed.summary_id} of "
            f"{placed.day}", {"cancelled": True, "credit_summary": placed.summary_id,
                              "ref": f"CANCEL-{ref}", "amount": str(gross),
                              "summary_id": placed.summary_id})
