"""Chains: the remaining steps of a job, each on its entity's queue.

A chain is built from the job's current step, so a retry, a replay or a requeue resumes at
the first unfinished step and never repeats a finished one.
"""

from __future__ import annotations

from typing import Any

from celery import chain

from store.models import ORDER_STEPS, Step

TASKS = {
    Step.ENSURE_CUSTOMER: "kfsync.customers.ensure_customer",
    Step.CREATE_INVOICE: "kfsync.orders.create_invoice",
    Step.POST_PAYMENT: "kfsync.payments.post_payment",
}


def order_chain(job_id: int, step: str, pay: bool) -> Any:
    """The Celery chain for ``job_id`` from ``step`` on (post_payment only when ``pay``)."""
    from workers.app import celery_app

    steps = [s for s in ORDER_STEPS if s != Step.POST_PAYMENT or pay]
    start = next(i for i, s in enumerate(steps) if s == step) if step in steps else len(steps)
    return chain(*(celery_app.signature(TASKS[s], args=(job_id,), immutable=True)
                   for s in steps[start:]))
