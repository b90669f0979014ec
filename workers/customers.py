"""``kfsync.customers.ensure_customer``: the KashFlow customer an order's invoice is for.

Order of preference, cheapest first: a stored link (no API call), an existing KashFlow
customer whose email matches (hand-made customers included), then a new customer with a
deterministic ``Code``. A ``DuplicateCustomerCode`` answer means an earlier attempt already
created it: adopt it. Under the ``shared`` guest policy a guest who matches no customer gets
the shared "web sales" customer (created once, then adopted).
"""

from __future__ import annotations

from typing import Any

from celery import Task

from connectors.errors import Rejected
from mappings.customers import is_registered, is_shared_guest, order_email
from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.orders import build_customer, customer_code
from mappings.rules import Rules
from store.models import Step
from workers import context
from workers.app import celery_app
from workers.steps import JobView, StepResult, find_link, run_step


@celery_app.task(bind=True, name="kfsync.customers.ensure_customer")
def ensure_customer(self: Task, job_id: int) -> None:
    run_step(self, job_id, Step.ENSURE_CUSTOMER, _ensure_customer)


def customer_keys(doc: dict[str, Any]) -> list[str]:
    """Link keys for an order's customer: the Magento customer id (registered) and the email."""
    order = parse_order(doc)
    email = order_email(order)
    keys = [f"email:{email}"] if email else []
    if is_registered(order):
        keys.insert(0, f"customer:{order.customer_id}")
    if not keys:
        raise MappingError(f"order {order.increment_id} has neither a customer id nor an email")
    return keys


def _ensure_customer(job: JobView) -> StepResult:
    order = parse_order(job.document)
    rules = context.rules()
    keys = customer_keys(job.document)
    code = find_link(context.db_url(), "customer", *keys)
    if code is None:
        code = _match_or_create(order, rules)
    # A guest billed to the shared customer is not linked by email: the guest policy may
    # change, and the next order from that email must then follow the new policy.
    shared = is_shared_guest(order, rules) and code == rules.shared_guest_code
    return StepResult(next_step=Step.CREATE_INVOICE, updates={"customer_code": code},
                      links=[] if shared else [("customer", key, code) for key in keys])


def _match_or_create(order: Any, rules: Rules) -> str:
    kashflow = context.kashflow()
    wanted = customer_code(order, rules)
    email = order_email(order)
    matches = kashflow.find_customers_by_email(email) if email else []
    if matches:
        codes = sorted(str(m["Code"]) for m in matches)
        # Prefer our own code (an earlier attempt's create), else the oldest-looking match.
        return next((c for c in codes if c.lower() == wanted.lower()), codes[0])
    try:
        created = kashflow.create_customer(build_customer(order, wanted, rules))
        return str(created.get("Code", wanted))
    except Rejected as exc:
        if exc.reason != "DuplicateCustomerCode":
            raise
        return str(kashflow.get_customer(wanted)["Code"])
