"""Customers: an order's ``ensure_customer`` step, and the customer flow (``sync_customer``).

``ensure_customer`` (a step of ``workers.orders``) finds or creates the KashFlow customer an
order's invoice is for. ``sync_customer`` (task ``kfsync.customers.sync_customer``) keeps a
registered customer's master data (name, contact, addresses, VAT number) current from
``customer.created``/``customer.updated``, with the same matching rules (``match_customer``):
the link to the Magento customer id, else the link to the email, else an existing KashFlow
customer with that email, else a new one under the same deterministic code an order would use.
So one Magento customer is one KashFlow customer whatever comes first.

Order of preference, cheapest first: a stored link (no API call), an existing KashFlow
customer whose email matches (hand-made customers included), then a new customer with a
deterministic ``Code``. A ``DuplicateCustomerCode`` answer means an earlier attempt already
created it: adopt it. Under the ``shared`` guest policy a guest who matches no customer gets
the shared "web sales" customer (created once, then adopted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from connectors.errors import NotFound, Rejected, Transient
from core import leases, pairs, redis_clients
from mappings.customer_master import master_body, master_code, parse_customer
from mappings.customers import is_registered, is_shared_guest, order_email
from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.orders import build_customer, customer_code
from mappings.routing import route
from mappings.rules import Rules
from store.jobs import JobView, StepResult
from store.links import links_in
from store.models import Step
from workers import context
from workers.runner import (
    Flow,
    StepDef,
    find_link,
    parsed_order,
    register_tasks,
)

CUSTOMER_TOPICS = ("customer.created", "customer.updated")
# How long a step waits while another process matches or creates the same email's customer.
MATCHER_WAIT_S = 30


def customer_keys(doc: dict[str, Any]) -> list[str]:
    """Link keys for an order's customer: the Magento customer id (registered) and the email."""
    return _keys(parse_order(doc))


def _keys(order: Any) -> list[str]:
    email = order_email(order)
    keys = [f"email:{email}"] if email else []
    if is_registered(order):
        keys.insert(0, f"customer:{order.customer_id}")
    if not keys:
        raise MappingError(f"order {order.increment_id} has neither a customer id nor an email")
    return keys


def ensure_customer(job: JobView) -> StepResult:
    """The order's KashFlow customer: linked, else matched by email, else created.

    Raises:
        connectors.errors.ConnectorError: KashFlow failed (classified).
        mappings.errors.MappingError: no email nor customer id, or no customer may be created.
    """
    order = parsed_order(job.document)
    rules = context.rules()
    routed = route(order, rules)
    billed = routed.text("use_customer")
    if billed:
        return _route_customer(billed, str(routed.says("use_customer")))
    keys = _keys(order)
    # A job this task created was claimed here because the upsert found no link for these
    # keys a moment ago, in its own transaction (``workers.events``): no second look.
    code = None if job.fresh else find_link(context.db_url(), "customer", *keys)
    if code is None:
        with sole_matcher(order_email(order)) as waited:
            # The process it waited for has matched or created this email's customer.
            code = find_link(context.db_url(), "customer", *keys) if waited else None
            code = code or _match_or_create(order, rules)
    return _customer_found(order, rules, keys, code)


def linked_customer(s: Session, order: Any, rules: Rules) -> StepResult | None:
    """``ensure_customer`` answered from a stored link read in ``s`` (no KashFlow call), or
    None when no link answers it and the step must look KashFlow up."""
    try:
        keys = _keys(order)
    except MappingError:
        return None  # the step's own task reports it
    if route(order, rules).text("use_customer"):
        return None  # a route names the customer: the step checks it exists
    found = links_in(s, "customer", *keys)
    if not found:
        return None
    code = found[0][1]
    result = _customer_found(order, rules, keys, code)
    # Only the links still missing (a repeat customer has them all: no write).
    result.links = [link for link in result.links if (link[1], code) not in found]
    return result


def _customer_found(order: Any, rules: Rules, keys: list[str], code: str) -> StepResult:
    # A guest billed to the shared customer is not linked by email: the guest policy may
    # change, and the next order from that email must then follow the new policy.
    shared = is_shared_guest(order, rules) and code == rules.shared_guest_code
    return StepResult(next_step=Step.CREATE_INVOICE, updates={"customer_code": code},
                      links=[] if shared else [("customer", key, code) for key in keys])


_ROUTED_CODES: set[str] = set()  # route customers KashFlow has, per process


def _route_customer(code: str, why: str) -> StepResult:
    """Bill the customer a route names: it must exist in KashFlow (looked up once per
    process); not linked to the order's email, so removing the route restores the usual
    matching for the next order.

    Raises:
        mappings.errors.MappingError: KashFlow has no such customer (review, with the route).
    """
    if code not in _ROUTED_CODES:
        try:
            context.kashflow().get_customer(code)
        except NotFound:
            raise MappingError(f"{why}: KashFlow has no customer {code}: create it in KashFlow "
                               "or change the route, then requeue") from None
        _ROUTED_CODES.add(code)
    return StepResult(next_step=Step.CREATE_INVOICE, updates={"customer_code": code})


def _match_or_create(order: Any, rules: Rules) -> str:
    kashflow = context.kashflow()
    wanted = customer_code(order, rules)
    email = order_email(order)
    matched = match_customer(email, wanted)
    if matched is not None:
        return matched
    if not rules.steps.create_customers:
        try:
            return str(kashflow.get_customer(wanted)["Code"])
        except NotFound:
            raise MappingError(
                f"no KashFlow customer has the email {email or '(none)'} or the code {wanted}, "
                "and create_customers is off in the mapping profile: create the customer in "
                "KashFlow (or switch create_customers on) and requeue") from None
    try:
        created = kashflow.create_customer(build_customer(order, wanted, rules))
        return str(created.get("Code", wanted))
    except Rejected as exc:
        if exc.reason != "DuplicateCustomerCode":
            raise
        return str(kashflow.get_customer(wanted)["Code"])


@contextmanager
def sole_matcher(email: str | None) -> Iterator[bool]:
    """Hold the lock on matching ``email``'s customer (a lease, ``core.leases.locked``) while
    the block searches KashFlow by email and creates the customer when none matches, so no
    two processes create one each: say a registered customer's order and a guest order from
    the same address at once (their codes differ, so KashFlow's ``DuplicateCustomerCode``
    cannot catch it). Yields whether another process held it first: it may have linked the
    customer meanwhile. Free at once is one Redis round trip; an order without an email has
    nothing to share.

    Raises:
        connectors.errors.Transient: another process held it for ``MATCHER_WAIT_S``.
    """
    if not email:
        yield False
        return
    client = redis_clients.client(context.settings().redis_url)
    name = matcher_lock(email)
    with leases.locked(client, name) as free:
        if free:
            yield False
            return
    with leases.locked(client, name, wait_s=MATCHER_WAIT_S) as mine:
        if not mine:
            raise Transient("another kfsync process is matching the KashFlow customer of this "
                            "order's email", system="kashflow", reason="customer_busy")
        yield True


def matcher_lock(email: str) -> str:
    """The Redis key of ``sole_matcher``'s lock for ``email`` (a digest: no address in Redis)."""
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:32]
    return pairs.scoped_key(f"kfsync:lock:customer:{digest}")


def match_customer(email: str | None, wanted: str) -> str | None:
    """The code of the KashFlow customer whose email is ``email``, else None: our own code
    ``wanted`` (an earlier attempt's create) first, else the oldest-looking match."""
    matches = context.kashflow().find_customers_by_email(email) if email else []
    codes = sorted(str(m["Code"]) for m in matches)
    return next((c for c in codes if c.lower() == wanted.lower()), codes[0] if codes else None)


def handle_customer_event(customer_id: str, event_id: int) -> str | None:
    """Queue the customer's master-data sync (one job per Magento customer id).

    Returns the event's outcome line when there is nothing to do, else None (marked already).
    """
    from workers.documents import DocumentJob, upsert_and_start

    try:
        doc = context.magento().get_customer(int(customer_id))
    except NotFound:
        return f"customer {customer_id} not found in Magento"
    upsert_and_start(DocumentJob(kind="customer", magento_key=str(customer_id),
                                 magento_ref=str(doc.get("email") or customer_id),
                                 document=doc, plan={}, first_step=Step.SYNC_CUSTOMER,
                                 restart_done=True), event_id)
    return None


def sync_customer(job: JobView) -> StepResult:
    """Write a registered customer's current master data to its KashFlow customer (linked,
    else matched by email, else created under the code an order would use).

    Raises:
        connectors.errors.ConnectorError: KashFlow failed (classified).
    """
    try:  # the webhook is a hint and the job may have waited: write the current record
        doc = context.magento().get_customer(int(job.magento_key))
    except NotFound:
        doc = job.document
    customer = parse_customer(doc)
    url = context.db_url()
    keys = [f"customer:{customer.id}", f"email:{customer.email}"]
    # The customer id's link wins over the email's: after an email change the old customer
    # is updated, not a second one made.
    code = _linked_first(url, keys)
    if code is None:
        with sole_matcher(customer.email) as waited:
            if waited:  # the process it waited for may have linked the customer
                code = _linked_first(url, keys)
            if code is None:
                return _match_or_create_master(customer, keys)
    _update_customer(customer, code)
    return StepResult(next_step=Step.DONE, updates={"customer_code": code},
                      links=[("customer", key, code) for key in keys])


def _linked_first(url: str, keys: list[str]) -> str | None:
    """The customer the first of ``keys`` that has a link names (not the first recorded)."""
    return next((code for key in keys if (code := find_link(url, "customer", key))), None)


def _match_or_create_master(customer: Any, keys: list[str]) -> StepResult:
    """``sync_customer`` for a customer no link names: the KashFlow customer with its email
    (brought up to date), else a new one under the code an order would use."""
    rules = context.rules()
    wanted = master_code(customer, rules)
    code = match_customer(customer.email, wanted)
    if code is None and not rules.steps.create_customers:
        return StepResult(next_step=Step.DONE, updates={
            "reason": "no KashFlow customer has this email and create_customers is off in "
                      "the mapping profile: nothing written"})
    if code is None:
        code = _create_customer(master_body(customer, wanted), wanted)
    else:
        _update_customer(customer, code)
    return StepResult(next_step=Step.DONE, updates={"customer_code": code},
                      links=[("customer", key, code) for key in keys])


def _update_customer(customer: Any, code: str) -> None:
    body = master_body(customer, code)
    body.pop("Code")
    context.kashflow().update_customer(code, body)


def _create_customer(body: dict[str, Any], wanted: str) -> str:
    kashflow = context.kashflow()
    try:
        return str(kashflow.create_customer(body).get("Code", wanted))
    except Rejected as exc:
        if exc.reason != "DuplicateCustomerCode":
            raise
        # An earlier attempt (or an order's ensure_customer) created it: bring it up to date.
        update = {k: v for k, v in body.items() if k != "Code"}
        kashflow.update_customer(wanted, update)
        return str(kashflow.get_customer(wanted)["Code"])


# A customer's own job (``customer.created``/``customer.updated``): one step.
CUSTOMER_FLOW = Flow(kind="customer", steps=(
    StepDef(Step.SYNC_CUSTOMER, "kfsync.customers.sync_customer", sync_customer),
))
TASKS = register_tasks(CUSTOMER_FLOW)
