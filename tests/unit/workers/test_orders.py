"""An order's story (workers/orders.py): its steps in order, one runner for a new order and a
resumed one, and stable task names for chains started at a step."""

from __future__ import annotations

from store.jobs import StepResult
from store.models import ORDER_STEPS, Step
from workers import orders
from workers.app import celery_app
from workers.cancellations import credit_cancellation
from workers.customers import ensure_customer
from workers.invoices import create_invoice
from workers.orders import ORDER_FLOW
from workers.payments import post_payment
from workers.refunds import resume_waiting
from workers.summary import add_to_summary
from workers.workflow import order_chain


def test_an_order_is_customer_then_invoice_then_payment() -> None:
    assert [(d.step, d.act) for d in ORDER_FLOW.steps] == [
        (Step.ENSURE_CUSTOMER, ensure_customer),
        (Step.CREATE_INVOICE, create_invoice),
        (Step.POST_PAYMENT, post_payment),
        (Step.CREDIT_CANCELLATION, credit_cancellation),
        (Step.ADD_TO_SUMMARY, add_to_summary),  # summary mode: its only step
    ]
    assert tuple(d.step for d in ORDER_FLOW.steps) == ORDER_STEPS
    # Only the payment depends on the decision (``plan.pay``); credit memos that waited for
    # the invoice start once it exists.
    assert [d.step for d in ORDER_FLOW.steps if d.optional] == [Step.POST_PAYMENT]
    # The cancellation credit note only when the ledger lacks it (a re-opened order).
    assert [d.step for d in ORDER_FLOW.steps if d.on_demand] == [Step.CREDIT_CANCELLATION,
                                                                 Step.ADD_TO_SUMMARY]
    assert ORDER_FLOW.get(Step.CREATE_INVOICE).after is resume_waiting
    assert ORDER_FLOW.get(Step.ADD_TO_SUMMARY).after is resume_waiting


def test_a_new_order_runs_its_steps_in_one_task_and_stops_when_it_is_done() -> None:
    assert ORDER_FLOW.in_process
    assert ORDER_FLOW.continues(StepResult(next_step=Step.CREATE_INVOICE)) == "create_invoice"
    assert ORDER_FLOW.continues(StepResult(next_step=Step.DONE)) is None
    held = StepResult(next_step=Step.CREATE_INVOICE, review="penny guard")
    assert ORDER_FLOW.continues(held) is None
    # A task may carry on (its retry, or its redelivery) at any later step under its lease.
    assert ORDER_FLOW.later(Step.ENSURE_CUSTOMER) == ["create_invoice", "post_payment",
                                                      "credit_cancellation", "add_to_summary"]
    assert ORDER_FLOW.later(Step.ADD_TO_SUMMARY) == []


def test_a_resumed_order_runs_the_same_steps_from_its_own() -> None:
    for step_def in ORDER_FLOW.steps:  # the task of each step is registered by its stable name
        assert celery_app.tasks[step_def.task].name == step_def.task
        assert orders.TASKS[step_def.step].name == step_def.task
    chain = order_chain(7, Step.CREATE_INVOICE, pay=True)
    assert [task.task for task in chain.tasks] == ["kfsync.orders.create_invoice",
                                                    "kfsync.payments.post_payment"]
    unpaid = order_chain(7, Step.ENSURE_CUSTOMER, pay=False)
    assert [task.task for task in unpaid.tasks] == ["kfsync.customers.ensure_customer",
                                                     "kfsync.orders.create_invoice"]
    reopened = order_chain(7, Step.CREDIT_CANCELLATION, pay=False)
    assert [task.task for task in reopened.tasks] == ["kfsync.refunds.credit_cancellation"]
    summarised = order_chain(7, Step.ADD_TO_SUMMARY, pay=True)  # requeued in summary mode
    assert [task.task for task in summarised.tasks] == ["kfsync.orders.add_to_summary"]
