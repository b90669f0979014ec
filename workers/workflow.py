"""Chains: the remaining steps of a job, each on its entity's queue.

A chain is built from the job's current step, so a retry, a replay or a requeue resumes at
the first unfinished step and never repeats a finished one. Step names are unique across job
kinds (order, customer, creditmemo), so the step alone says which sequence a job is in.

An order's steps also run in-process (``INLINE_STEPS``): ``process_event`` claims the first
step in the transaction that queues the job and runs the order to its end in one task, and
the task that finishes a step carries on under the same lease, with the next step's
``started`` attempt committed in the same transaction as the previous step's outcome
(``workers.steps``). The chain's tasks are then never published for a new order; they exist
for a chain started at a step (a requeue, a redrive, a replay, a circuit that was open).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
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

# Steps that run in-process: (module, act) of each. The first runs in ``process_event``,
# the others after the step before them. A broker hop costs more than the step itself against
# a fast KashFlow; each step still claims, records its attempt before writing, and finishes
# in the database as if it were its own task.
INLINE_STEPS: dict[str, tuple[str, str]] = {
    Step.ENSURE_CUSTOMER: ("workers.customers", "_ensure_customer"),
    Step.CREATE_INVOICE: ("workers.orders", "_create_invoice"),
    Step.POST_PAYMENT: ("workers.payments", "_post_payment"),
}
# What a step's own task does after it (module, function), done too when it runs in-process.
AFTER_STEP: dict[str, tuple[str, str]] = {
    Step.CREATE_INVOICE: ("workers.refunds", "resume_waiting"),  # credit memos waiting for it
}


def order_chain(job_id: int, step: str, pay: bool) -> Any:
    """The Celery chain for job ``job_id`` from ``step`` on, whatever the job's kind (the
    payment or refund step only when ``pay``)."""
    from workers.app import celery_app

    sequence = next((seq for seq in SEQUENCES if step in seq), ORDER_STEPS)
    steps = [s for s in sequence if s not in OPTIONAL or pay]
    start = next(i for i, s in enumerate(steps) if s == step) if step in steps else len(steps)
    return chain(*(celery_app.signature(TASKS[s], args=(job_id,), immutable=True)
                   for s in steps[start:]))


def inline_after(step: str) -> list[str]:
    """The steps after ``step`` in its sequence that run in-process (its task may resume them
    under its own lease)."""
    sequence = next((seq for seq in SEQUENCES if step in seq), ())
    later = sequence[sequence.index(step) + 1:] if step in sequence else ()
    return [s for s in later if s in INLINE_STEPS]


def inline_act(step: str) -> Callable[..., Any] | None:
    """The act of ``step`` when it runs in-process, else None."""
    target = INLINE_STEPS.get(step)
    return _resolve(target) if target else None


def after_step(step: str) -> Callable[[], Any] | None:
    """What runs after ``step``'s own task (see ``AFTER_STEP``), else None."""
    target = AFTER_STEP.get(step)
    return _resolve(target) if target else None


def _resolve(target: tuple[str, str]) -> Callable[..., Any]:
    module, name = target
    act: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return act
