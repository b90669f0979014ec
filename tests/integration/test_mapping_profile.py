"""The mapping profile in the pipeline: versions stamped on jobs, no silent gaps, checks,
and the catalogue that makes deleted KashFlow products visibly broken.

Real worker, sandboxes over HTTP, SQLite and PostgreSQL (the ``stack`` fixture).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from connectors.kashflow import KashFlowClient
from core.settings import Settings
from kfsync.samples import Buyer, Line, make_creditmemo, make_order
from services import catalogue, profiles, studio
from services.clients import kashflow_client
from store.models import JobState
from tests.integration.conftest import Stack
from tests.integration.helpers import seed, send_event, wait_job
from workers import operations

pytestmark = pytest.mark.integration

ANN = Buyer("ann.gaps@example.com", "Ann", "Gaps")


def settle(stack: Stack, doc: dict[str, Any]) -> Any:
    stack.seed_order(doc)
    stack.send(doc)
    return stack.wait_settled(int(doc["entity_id"]))


def invoice_of(stack: Stack, doc: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in stack.invoices() if i["CustomerReference"] == doc["increment_id"])


def edit(stack: Stack, change: dict[str, Any], comment: str) -> int:
    """Publish ``change`` (top-level keys) over the version in force; returns the version."""
    def apply(doc: dict[str, Any]) -> str:
        doc.update(change)
        return comment

    profiles.edit_draft(stack.db_url, "test", apply)
    return studio.publish(stack.db_url, "test", comment).id


def test_an_unmapped_sku_posts_only_what_its_policy_declares_and_says_so(stack: Stack) -> None:
    version = profiles.active(stack.db_url)
    doc = make_order(7101, ANN, [Line("NEW-THING", "A new thing", Decimal("10.00"), 1)])
    job = settle(stack, doc)
    assert job.state == JobState.DONE, job.reason
    line = next(x for x in invoice_of(stack, doc)["LineItems"] if "NEW-THING" in x["Description"])
    rules = version.rules
    assert int(line["NominalCode"]) == rules.default_nominal_code and not line.get("ProductCode")
    assert job.profile_version == version.id
    assert any("SKU NEW-THING is not mapped" in note and "unmapped_sku: default_nominal" in note
               for note in job.plan["notes"])

    # Under `review` the same gap holds the order, naming the SKU and the policy.
    edit(stack, {"unmapped_sku": "review"}, "unmapped SKUs to review")
    held = settle(stack, make_order(7102, ANN, [Line("NEW-THING", "A new thing",
                                                      Decimal("10.00"), 1)]))
    assert held.state == JobState.NEEDS_REVIEW
    assert "NEW-THING is not in the mapping and unmapped_sku is 'review'" in held.reason
    assert len(stack.invoices()) == 1


def test_an_unmapped_payment_method_follows_its_policy(stack: Stack) -> None:
    doc = make_order(7111, ANN, [Line("MUG", "Enamel Mug", Decimal("7.99"), 1)],
                     method="fancypay")
    doc["payment"]["last_trans_id"] = "fp-1"
    job = settle(stack, doc)
    assert job.state == JobState.DONE, job.reason
    assert invoice_of(stack, doc)["Status"] == "Paid"
    assert any("fancypay" in note and "unmapped_payment_method: card" in note
               for note in job.plan["notes"])

    edit(stack, {"unmapped_payment_method": "no_payment"}, "unknown methods: no payment")
    second = make_order(7112, ANN, [Line("MUG", "Enamel Mug", Decimal("7.99"), 1)],
                        method="fancypay")
    second["payment"]["last_trans_id"] = "fp-2"
    job = settle(stack, second)
    assert job.state == JobState.DONE and invoice_of(stack, second)["Status"] == "Unpaid"
    assert "unmapped_payment_method: no_payment" in job.plan["pay_reason"]

    edit(stack, {"unmapped_payment_method": "review"}, "unknown methods: review")
    third = make_order(7113, ANN, [Line("MUG", "Enamel Mug", Decimal("7.99"), 1)],
                       method="fancypay")
    third["payment"]["last_trans_id"] = "fp-3"
    held = settle(stack, third)
    assert held.state == JobState.NEEDS_REVIEW
    assert "fancypay is not mapped and unmapped_payment_method is 'review'" in held.reason


def test_checks_warn_hold_and_an_operator_requeue_acknowledges_a_review(stack: Stack) -> None:
    # A 60% discount: `discount.ratio` warns by default and the order posts, noted.
    discounted = make_order(7121, ANN, [Line("HOODIE", "Heavy Hoodie", Decimal("34.00"), 1,
                                             discount=Decimal("20.40"))])
    job = settle(stack, discounted)
    assert job.state == JobState.DONE, job.reason
    assert [f["check"] for f in job.plan["findings"]] == ["discount.ratio"]

    # The same check at `review` holds the next one until an operator requeues it...
    edit(stack, {"checks": {**profiles.active(stack.db_url).document["checks"],
                            "discount.ratio": {"severity": "review", "threshold": "0.5"}}},
         "big discounts to review")
    second = make_order(7122, ANN, [Line("HOODIE", "Heavy Hoodie", Decimal("34.00"), 1,
                                         discount=Decimal("20.40"))])
    held = settle(stack, second)
    assert held.state == JobState.NEEDS_REVIEW and "discount.ratio (review)" in held.reason
    assert not any(i["CustomerReference"] == second["increment_id"] for i in stack.invoices())
    operations.requeue_jobs(stack.db_url, [held.id], actor="test")
    done = stack.wait_settled(7122)
    assert done.state == JobState.DONE, done.reason
    assert invoice_of(stack, second)["Status"] == "Paid"

    # ...and at `block` a requeue does not pass it.
    edit(stack, {"checks": {**profiles.active(stack.db_url).document["checks"],
                            "discount.ratio": {"severity": "block", "threshold": "0.5"}}},
         "big discounts blocked")
    third = make_order(7123, ANN, [Line("HOODIE", "Heavy Hoodie", Decimal("34.00"), 1,
                                        discount=Decimal("20.40"))])
    blocked = settle(stack, third)
    assert blocked.state == JobState.NEEDS_REVIEW and "blocked" in blocked.reason
    operations.requeue_jobs(stack.db_url, [blocked.id], actor="test")
    again = stack.wait_settled(7123)
    assert again.state == JobState.NEEDS_REVIEW
    assert not any(i["CustomerReference"] == third["increment_id"] for i in stack.invoices())


def test_a_near_duplicate_order_is_flagged_never_dropped(stack: Stack) -> None:
    first = make_order(7131, ANN, [Line("MUG", "Enamel Mug", Decimal("7.99"), 2)])
    twin = make_order(7132, ANN, [Line("MUG", "Enamel Mug", Decimal("7.99"), 2)],
                      created_at="2026-11-24 10:05:00")
    assert settle(stack, first).state == JobState.DONE
    job = settle(stack, twin)
    assert job.state == JobState.DONE, job.reason
    assert len(stack.invoices()) == 2
    assert [f["check"] for f in job.plan["findings"]] == ["dup.near"]


def test_what_invoiced_orders_used_is_counted_once_each_for_the_studio(stack: Stack) -> None:
    first = make_order(7141, ANN, [Line("SEEN-JUG", "Stoneware Jug", Decimal("12.00"), 1)])
    assert settle(stack, first).state == JobState.DONE
    # The second order's invoice write fails once and is retried: still counted once.
    stack.fault("kashflow", method="POST", path="/invoices", kind="status", status=503, count=1)
    second = make_order(7142, ANN, [Line("SEEN-JUG", "Stoneware Jug", Decimal("12.00"), 2)])
    job = settle(stack, second)
    assert job.state == JobState.DONE, job.reason
    assert ("create_invoice", "ambiguous") in [(a.step, a.outcome)
                                              for a in stack.attempts(7142)]
    [jug] = [row for row in catalogue.seen_rows(stack.db_url, "sku") if row.key == "SEEN-JUG"]
    assert (jug.count, jug.label, jug.last_ref) == (2, "Stoneware Jug", second["increment_id"])


def _kashflow(stack: Stack) -> KashFlowClient:
    return kashflow_client(Settings.load(stack.env, env_file=None))


def test_a_product_deleted_in_kashflow_makes_its_row_broken_and_blocks_publishing(
        stack: Stack) -> None:
    control = stack.servers.kashflow_control
    requests.post(f"{control}/products", json={"NominalCode": 4010, "Code": "MUG-BLUE",
                                               "Name": "Blue Enamel Mug"},
                  timeout=5).raise_for_status()
    catalogue.refresh(stack.db_url, _kashflow(stack), redis_url=stack.settings.redis_url)
    edit(stack, {"skus": {"MUG-BLUE": {"nominal_code": 4010, "product_code": "MUG-BLUE"}}},
         "blue mugs on 4010")
    assert not [p for p in studio.problems(stack.db_url) if p.severity == "error"]

    requests.delete(f"{control}/products/4010/MUG-BLUE", timeout=5).raise_for_status()
    report = catalogue.refresh(stack.db_url, _kashflow(stack), redis_url=stack.settings.redis_url)
    assert "product 4010/MUG-BLUE" in report.missing
    broken = [p for p in studio.problems(stack.db_url) if p.severity == "error"]
    assert [p.path for p in broken] == ["skus.MUG-BLUE.product_code"]
    assert "broken" in broken[0].message

    def rename(doc: dict[str, Any]) -> str:
        doc["shipping_description"] = "Delivery"
        return "rename shipping"

    profiles.edit_draft(stack.db_url, "test", rename)
    with pytest.raises(profiles.ProfileError, match="MUG-BLUE"):
        studio.publish(stack.db_url, "test", "should be refused")


def test_step_toggles_switch_parts_off_and_say_so(stack: Stack) -> None:
    toggles = {**profiles.active(stack.db_url).document["steps"], "create_customers": False,
               "post_payments": False, "credit_notes": False}
    edit(stack, {"steps": toggles}, "invoices only, known customers only")

    # An unknown buyer is not created: the order waits for a human, nothing is posted.
    unknown = settle(stack, make_order(7141, Buyer("nobody@example.com", "No", "Body"),
                                       [Line("MUG", "Enamel Mug", Decimal("7.99"), 1)]))
    assert unknown.state == JobState.NEEDS_REVIEW
    assert "create_customers is off" in unknown.reason
    assert stack.kashflow()["customers"] == [] and stack.invoices() == []

    # A buyer KashFlow already knows is matched; the invoice is posted unpaid.
    requests.post(f"{stack.servers.kashflow_control}/customers", json={
        "Code": "KNOWN1", "Name": "Kim Known", "Email": "kim.known@example.com"},
                  timeout=5).raise_for_status()
    known = make_order(7142, Buyer("kim.known@example.com", "Kim", "Known"),
                       [Line("MUG", "Enamel Mug", Decimal("7.99"), 1)])
    job = settle(stack, known)
    assert job.state == JobState.DONE, job.reason
    invoice = invoice_of(stack, known)
    assert invoice["CustomerCode"] == "KNOWN1" and invoice["Status"] == "Unpaid"
    assert "post_payments is off" in job.plan["pay_reason"]

    # A credit memo is closed without a credit note, and the job says why.
    memo = make_creditmemo(7143, known, {"MUG": 1})
    seed(stack, "creditmemos", memo)
    send_event(stack, "creditmemo.created", "creditmemo", memo["entity_id"],
               memo["increment_id"])
    closed = wait_job(stack, "creditmemo", memo["entity_id"], JobState.DONE)
    assert "credit_notes is off" in (closed.reason or "")
    assert len(stack.invoices()) == 1
