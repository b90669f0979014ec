"""kfsync talks to Magento and KashFlow only through the endpoints of the API subset, with
only base URLs and credentials configured: the same code runs against the real services or any
other implementation of that subset."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests

import sandbox
from kfsync.samples import Buyer, Line, make_order
from store.models import JobState
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

# The endpoint list of the API subset document, as "METHOD /path" with {} for parameters.
KASHFLOW_SUBSET = {
    "POST /sessiontoken", "PUT /sessiontoken", "GET /customers/{}", "GET /customers/search",
    "POST /customers", "PUT /customers/{}", "GET /invoices/{}", "GET /invoices",
    "POST /invoices", "POST /invoices/bulk/payments", "GET /products", "GET /products/{}/{}",
    "PUT /products/{}/{}", "GET /vat/settings/vatrates", "GET /bankaccounts",
    "GET /paymentmethods/invoice",
}
MAGENTO_SUBSET = {
    "GET /V1/orders/{}", "GET /V1/orders", "GET /V1/creditmemo/{}", "GET /V1/creditmemos",
    "GET /V1/customers/{}", "GET /V1/transactions", "GET /V1/products", "GET /V1/stockItems/{}",
    "GET /V1/invoices", "GET /V1/invoices/{}",  # docs/api-subset.md: captures
    "PUT /V1/products/{}/stockItems/{}", "GET /V1/inventory/source-items",
    "POST /V1/inventory/source-items",
}


def called(control: str) -> set[str]:
    calls = requests.get(f"{control}/calls", timeout=5).json()["calls"]
    return {re.sub(r"\{[^}]*\}", "{}", key) for key in calls}


def test_every_call_kfsync_makes_is_in_the_api_subset(stack: Stack) -> None:
    for control in (stack.servers.magento_control, stack.servers.kashflow_control):
        requests.delete(f"{control}/calls", timeout=5).raise_for_status()
    # A guest, a repeat customer, an offline payment and an ambiguous write: every path.
    ann = Buyer("ann.lee@example.com", "Ann", "Lee", customer_id=501)
    stack.fault("kashflow", method="POST", path="/invoices/bulk/payments", kind="ambiguous",
                then="status", count=1)
    orders = [
        make_order(3001, Buyer("g@example.com", "G", "Uest"),
                   [Line("MUG", "Mug", Decimal("7.99"), 2)]),
        make_order(3002, ann, [Line("BOOK", "Book", Decimal("9.99"), 1, vat=Decimal(0))]),
        make_order(3003, ann, [Line("TSHIRT", "T-shirt", Decimal("12.50"), 1)],
                   method="checkmo"),
    ]
    for order in orders:
        stack.seed_order(order)
        stack.send(order)
        assert stack.wait_settled(int(order["entity_id"])).state == JobState.DONE
    replay = stack.cli("replay", "order", "000003001")
    assert replay.returncode == 0, replay.stderr
    stack.wait_settled(3001)
    assert called(stack.servers.kashflow_control) <= KASHFLOW_SUBSET
    assert called(stack.servers.magento_control) <= MAGENTO_SUBSET


def test_magento_oauth_credentials_work_instead_of_a_token(stack: Stack) -> None:
    env = {k: v for k, v in stack.env.items() if k != "KFSYNC_MAGENTO_TOKEN"}
    for key, value in sandbox.MAGENTO_OAUTH.items():
        env[f"KFSYNC_MAGENTO_OAUTH_{key.upper()}"] = value
    order = make_order(3004, Buyer("o@example.com", "O", "Auth"),
                       [Line("MUG", "Mug", Decimal("7.99"), 1)])
    stack.seed_order(order)
    stack.env = env
    replay = stack.cli("replay", "order", "000003004")  # searchCriteria through OAuth
    assert replay.returncode == 0, replay.stderr
    assert stack.wait_settled(3004).state == JobState.DONE


def test_status_reports_every_component_healthy(stack: Stack) -> None:
    result = stack.cli("status")
    assert result.returncode == 0, result.stdout + result.stderr
    for component in ("database", "redis", "magento", "kashflow"):
        assert re.search(rf"{component}\s+│\s+ok", result.stdout), result.stdout
    assert "dead_letter" in result.stdout


def test_wrong_kashflow_password_is_reported_without_the_password(stack: Stack) -> None:
    env = {**stack.env, "KFSYNC_KASHFLOW_PASSWORD": "not-the-Password-42"}
    stack.env = env
    result = stack.cli("status")
    assert result.returncode == 1
    assert "kashflow" in result.stdout and "not-the-Password-42" not in result.stdout + \
        result.stderr
