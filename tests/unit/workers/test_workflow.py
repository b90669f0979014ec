"""Chains per job kind: built from the job's current step, optional payment step by ``pay``."""

from __future__ import annotations

from store.models import Step
from workers.workflow import order_chain


def names(step: str, pay: bool) -> list[str]:
    return [task.task for task in order_chain(7, step, pay).tasks]


def test_each_kind_resumes_at_its_step() -> None:
    assert names(Step.ENSURE_CUSTOMER, True) == [
        "kfsync.customers.ensure_customer", "kfsync.orders.create_invoice",
        "kfsync.payments.post_payment"]
    assert names(Step.SYNC_CUSTOMER, False) == ["kfsync.customers.sync_customer"]
    assert names(Step.CREATE_CREDIT_NOTE, True) == [
        "kfsync.refunds.create_credit_note", "kfsync.refunds.post_refund"]
    assert names(Step.CREATE_CREDIT_NOTE, False) == ["kfsync.refunds.create_credit_note"]
    assert names(Step.POST_REFUND, True) == ["kfsync.refunds.post_refund"]
