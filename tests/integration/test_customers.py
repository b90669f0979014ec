"""Customer master data on real parts: one KashFlow customer per person, with current details,
whatever the order of events (checked in the KashFlow sandbox)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import redis
import requests

from kfsync.samples import Buyer, Line, make_customer, make_order
from store.models import JobState, Step
from tests.integration.conftest import INTEGRATION_REDIS_URL, Stack
from tests.integration.helpers import (
    customers_by_email,
    running_at,
    seed,
    send_event,
    wait_job,
)
from workers.customers import matcher_lock

pytestmark = pytest.mark.integration

LINES = [Line("TSHIRT", "T-shirt", Decimal("12.50"), 2)]


def _order(stack: Stack, entity_id: int, buyer: Buyer) -> None:
    order = make_order(entity_id, buyer, LINES)
    stack.seed_order(order)
    stack.send(order)
    assert stack.wait_settled(entity_id).state == JobState.DONE


def _customer_event(stack: Stack, doc: dict[str, object], topic: str) -> None:
    seed(stack, "customers", doc)
    send_event(stack, topic, "customer", int(doc["id"]))  # type: ignore[call-overload]


def test_new_guest_is_one_customer_across_orders_and_email_case(stack: Stack) -> None:
    _order(stack, 3101, Buyer("Gail.Guest@Example.com", "Gail", "Guest"))
    _order(stack, 3102, Buyer(" gail.guest@example.COM ", "Gail", "Guest"))
    [customer] = stack.kashflow()["customers"]
    assert customer["Email"] == "gail.guest@example.com"
    assert {i["CustomerCode"] for i in stack.invoices()} == {customer["Code"]}


def test_new_registered_customer_gets_full_master_data(stack: Stack) -> None:
    buyer = Buyer("rita.reg@example.com", "Rita", "Regis", customer_id=3201,
                  company="Regis Ltd")
    _customer_event(stack, make_customer(3201, buyer, vat_id="GB123456789"),
                    "customer.created")
    job = wait_job(stack, "customer", 3201)
    assert job.state == JobState.DONE, job.reason
    [customer] = stack.kashflow()["customers"]
    assert customer["Code"] == "M3201" and customer["Name"] == "Regis Ltd"
    assert customer["Contacts"][0]["Name"] == "Rita Regis"
    assert customer["Contacts"][0]["Email"] == "rita.reg@example.com"
    assert customer["Addresses"][0]["Line1"] == "1 High Street"
    assert customer["Addresses"][0]["PostCode"] == "LS1 1AA"
    assert customer["DeliveryAddresses"][0]["Line1"] == "2 Mill Lane"
    assert customer["VATNumber"] == "GB123456789"
    _order(stack, 3202, buyer)  # a later order is billed to the same customer
    assert len(stack.kashflow()["customers"]) == 1
    assert [i["CustomerCode"] for i in stack.invoices()] == ["M3201"]


def test_an_order_waits_while_another_process_matches_its_email_and_bills_its_customer(
        stack: Stack) -> None:
    """Another process is matching the same email (it holds that email's lock: say it is
    creating the customer of a registered buyer's order, whose code differs from a guest's):
    the guest order waits instead of searching and creating a second customer, then bills the
    one the other process made."""
    buyer = Buyer("Wendy.Wait@Example.com", "Wendy", "Wait")
    busy = redis.Redis.from_url(INTEGRATION_REDIS_URL).lock(matcher_lock(buyer.email),
                                                            timeout=60)
    assert busy.acquire(blocking=False)
    try:
        order = make_order(3501, buyer, LINES)
        stack.seed_order(order)
        stack.send(order)
        stack.wait_until(running_at(stack, 3501, Step.ENSURE_CUSTOMER),
                         "the order's customer step")
        time.sleep(1)
        assert stack.kashflow()["customers"] == []  # it waits: nothing searched or created
        requests.post(f"{stack.servers.kashflow_control}/customers", timeout=5, json={
            "Code": "M3500", "Name": "Wendy Wait", "Email": "wendy.wait@example.com",
        }).raise_for_status()  # what the other process made
    finally:
        busy.release()
    assert stack.wait_settled(3501).state == JobState.DONE
    [customer] = stack.kashflow()["customers"]
    assert customer["Code"] == "M3500"
    assert [i["CustomerCode"] for i in stack.invoices()] == ["M3500"]


def test_customer_made_by_hand_is_matched_by_email_in_another_case(stack: Stack) -> None:
    requests.post(f"{stack.servers.kashflow_control}/customers", timeout=5, json={
        "Code": "HANDBEA", "Name": "B Hand", "Email": "Bea.Hand@Example.COM",
    }).raise_for_status()
    buyer = Buyer("bea.hand@example.com", "Bea", "Hand", customer_id=3301)
    _customer_event(stack, make_customer(3301, buyer), "customer.created")
    assert wait_job(stack, "customer", 3301).state == JobState.DONE
    [customer] = stack.kashflow()["customers"]
    assert customer["Code"] == "HANDBEA" and customer["Name"] == "Bea Hand"
    assert customer["Addresses"][0]["Line1"] == "1 High Street"
    _order(stack, 3302, buyer)
    assert len(stack.kashflow()["customers"]) == 1
    assert [i["CustomerCode"] for i in stack.invoices()] == ["HANDBEA"]


def test_customer_updated_after_orders_and_twice_stays_one_with_current_details(
        stack: Stack) -> None:
    buyer = Buyer("otto.order@example.com", "Otto", "Order", customer_id=3401)
    _order(stack, 3402, buyer)  # the order comes first and creates the customer
    _customer_event(stack, make_customer(3401, buyer, street="9 New Road"), "customer.updated")
    assert wait_job(stack, "customer", 3401).state == JobState.DONE
    _customer_event(stack, make_customer(3401, Buyer(buyer.email, "Otto", "Orderly", 3401),
                                         street="10 Newer Road", ship_city="York"),
                    "customer.updated")
    stack.wait_until(lambda: stack.kashflow()["customers"][0]["Addresses"][0]["Line1"]
                     == "10 Newer Road", "the second update to reach KashFlow")
    wait_job(stack, "customer", 3401, JobState.DONE)
    [customer] = stack.kashflow()["customers"]
    assert customer["Code"] == "M3401" and customer["Name"] == "Otto Orderly"
    assert customer["DeliveryAddresses"][0]["Line2"] == "York"


def test_email_change_updates_the_same_customer(stack: Stack) -> None:
    old = Buyer("ed.old@example.com", "Ed", "Change", customer_id=3501)
    _customer_event(stack, make_customer(3501, old), "customer.created")
    assert wait_job(stack, "customer", 3501).state == JobState.DONE
    new = Buyer("ed.new@example.com", "Ed", "Change", customer_id=3501)
    _customer_event(stack, make_customer(3501, new), "customer.updated")
    stack.wait_until(lambda: bool(customers_by_email(stack, "ed.new@example.com")),
                     "the new email to reach KashFlow")
    _order(stack, 3502, new)
    [customer] = stack.kashflow()["customers"]
    assert customer["Code"] == "M3501" and customer["Email"] == "ed.new@example.com"
    assert [i["CustomerCode"] for i in stack.invoices()] == ["M3501"]
