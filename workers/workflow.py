"""Chains: the remaining steps of a job, each on its entity's queue.

A chain is built from the job's current step and its kind's flow (``workers.orders``,
``workers.customers``, ``workers.refunds``), so a retry, a replay or a requeue resumes at the
first unfinished step and never repeats a finished one. Step names are unique across job
kinds, so the step alone says which flow a job is in.

A new order does not need a chain: ``process_event`` runs its steps in-process
(``workers.orders.run_order``). A chain serves a job started at a step (a requeue, a redrive,
a replay, a circuit that was open) and every customer and credit memo job.
"""

from __future__ import annotations

from typing import Any

from celery import chain


def order_chain(job_id: int, step: str, pay: bool) -> Any:
    """The Celery chain for job ``job_id`` from ``step`` on, whatever the job's kind (the
    payment or refund step only when ``pay``)."""
    # Imported here: the flows' modules publish chains themselves (refunds, customers).
    from workers.app import celery_app
    from workers.customers import CUSTOMER_FLOW
    from workers.orders import ORDER_FLOW
    from workers.refunds import CREDITMEMO_FLOW

    flow = next((f for f in (ORDER_FLOW, CUSTOMER_FLOW, CREDITMEMO_FLOW) if step in f),
                ORDER_FLOW)
    steps = [d for d in flow.steps
             if (not d.optional or pay) and (not d.on_demand or d.step == step)]
    names = [str(d.step) for d in steps]
    start = names.index(step) if step in names else len(steps)
    return chain(*(celery_app.signature(d.task, args=(job_id,), immutable=True)
                   for d in steps[start:]))
