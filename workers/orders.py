"""An order's story, top to bottom.

1. Magento's webhook is stored and enqueued by ingest (``ingest/webhooks``).
2. ``process_event`` (``workers.events``) re-fetches the order, decides by its state and
   totals, upserts its one job (``store.jobs.upsert_job``) and claims the job's first step in
   that same transaction, then calls ``run_order``.
3. ``run_order`` runs ``ORDER_FLOW`` through the runner (``workers.runner.run_job``): each step
   claims, records its ``started`` attempt before calling KashFlow, acts, and stores its
   outcome; the steps run one after the other in the same task, under one lease.
4. The steps, in order:

   - ``ensure_customer`` (``workers.customers``): the KashFlow customer, linked, matched by
     email, or created under a deterministic code;
   - ``create_invoice`` (``workers.invoices``): the invoice under a deterministic number,
     checked to the penny against Magento's grand total; then credit memos that waited for
     it start (``workers.refunds.resume_waiting``);
   - ``post_payment`` (``workers.payments``, only when the decision says ``pay``): each
     capture posted once on the invoice (Magento's invoices say what was captured);
   - ``credit_cancellation`` (``workers.cancellations``, only when the ledger lacks it): the
     ``CX-`` credit note for an order canceled, or replaced by an edit, after its invoice.

   An order in summary mode (``mappings.summary.in_summary_mode``) has one step instead:
   ``add_to_summary`` (``workers.summary``) books it in its day's summary invoice, which
   ``workers.summary_post`` posts once the day is closed.

A finished order is an order whose ledger matches Magento (``mappings.ledger``): its next
``order.updated``, ``invoice.created`` or catch-up pass that finds a capture, or a
cancellation, not yet posted re-opens the job at that step (``workers.lifecycle``).

A requeue, a redrive of a job whose worker died, a replay, or a job parked while the KashFlow
circuit was open resumes at the job's step: the chain of the step tasks below
(``workers.workflow.order_chain``), whose task runs ``run_order`` from its step. The same
code path either way; a step whose earlier attempt may have reached KashFlow looks its record
up before writing (``JobView.recheck``).

To add a step: one ``StepDef`` line in ``ORDER_FLOW`` (with its stable task name), the step
function (``JobView -> StepResult``) in its entity's module, a ``Step`` value in
``store.models`` (and ``ORDER_STEPS``), and a test in ``tests/unit/workers/test_orders.py``.
"""

from __future__ import annotations

from celery import Task

from store.models import Step
from workers.cancellations import credit_cancellation
from workers.customers import ensure_customer
from workers.invoices import create_invoice
from workers.payments import post_payment
from workers.refunds import resume_waiting
from workers.runner import Claimed, Flow, StepDef, register_tasks, run_job
from workers.summary import add_to_summary

ORDER_FLOW = Flow(kind="order", in_process=True, steps=(
    StepDef(Step.ENSURE_CUSTOMER, "kfsync.customers.ensure_customer", ensure_customer),
    StepDef(Step.CREATE_INVOICE, "kfsync.orders.create_invoice", create_invoice,
            after=resume_waiting),
    StepDef(Step.POST_PAYMENT, "kfsync.payments.post_payment", post_payment, optional=True),
    StepDef(Step.CREDIT_CANCELLATION, "kfsync.refunds.credit_cancellation",
            credit_cancellation, on_demand=True),
    # Summary mode: the order's first and only step (``workers.summary``), no KashFlow call.
    StepDef(Step.ADD_TO_SUMMARY, "kfsync.orders.add_to_summary", add_to_summary,
            on_demand=True, after=resume_waiting),
))

# ``kfsync.customers.ensure_customer``, ``kfsync.orders.create_invoice``,
# ``kfsync.payments.post_payment`` and ``kfsync.refunds.credit_cancellation``: a chain started
# at a step (requeue, redrive, replay, a finished order re-opened).
TASKS = register_tasks(ORDER_FLOW)


def run_order(task: Task, job_id: int, step: str, claimed: Claimed | None = None) -> None:
    """Run order job ``job_id`` from ``step`` to its end in ``task`` (its first step
    ``claimed`` already by ``process_event``, else claimed here).

    Raises: as ``workers.runner.run_job``.
    """
    run_job(task, job_id, ORDER_FLOW, step, claimed)
