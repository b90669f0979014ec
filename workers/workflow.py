"""Chains: the remaining steps of a job, each on its entity's queue.

A chain is built from the job's current step, so a retry, a replay or a requeue resumes at
the first unfinished step and never repeats a finished one. Step names are unique across job
kinds (order, customer, creditmemo), so the step alone says which sequence a job is in.
"""

from __future__ import annotations

from typing import Any

from celery import chain

from store.models import CREDITMEMO_STEPS, CUSTOMER_STEPS, ORDER_STEPS, Step

TASKS = {
    Step.ENSURE_CUSTOMER: "kfsync.customers.ensure_customer",
    Step.CREATE_INVOICE: "kfsync.orders.create_invoice",
    Step.POST_PAYMENT: "kfsync.payments.post_payment",
    Step.SYNC_CUSTOMER: "kfsync.customers.sync_customer",
    Step.CREATE_CREDIT_NOTE: "kfsync.refunds.create_credit_note",
    Step.POST_REFUND: "kfsync.refunds.post_refund",
}
# The last step of each sequence is the optional payment step (``pay``).
SEQUENCES = (ORDER_STEPS, CUSTOMER_STEPS, CREDITMEMO_STEPS)
OPTIONAL = (Step.POST_PAYMENT, Step.POST_REFUND)


def order_chain(job_id: int, step: str, pay: bool) -> Any:
    """The Celery chain for job ``job_id`` from ``step`` on, whatever the job's kind (the
    payment or refund step only when ``pay``)."""
    from workers.app import celery_app

    sequence = next((seq for seq in SEQUENCES if step in seq), ORDER_STEPS)
    steps = [s for s in sequence if s not in OPTIONAL or pay]
    start = next(i for i, s in enumerate(steps) if s == step) if step in steps else len(steps)
    return chain(*(celery_app.signature(TASKS[s], args=(job_id,), immutable=True)
                   for s in steps[start:]))
