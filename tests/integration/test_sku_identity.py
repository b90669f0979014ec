"""The SKU is the key (issue 16): invoice lines carry the KashFlow product whose code is the
SKU, stock follows every matched product, and missing products are created once.

Real worker, sandboxes over HTTP, SQLite and PostgreSQL (the ``stack`` fixture). The sandbox
KashFlow's seeded product codes equal the Magento SKUs (TSHIRT, MUG, BOOK, HOODIE).
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from ingest.signing import signed_headers
from kfsync.samples import Buyer, Line, make_order
from services import profiles, studio
from store.models import JobState, SyncJob
from tests.integration.conftest import SECRET, Stack

pytestmark = pytest.mark.integration

ANN = Buyer("ann.sku@example.com", "Ann", "Key")


def settle(stack: Stack, doc: dict[str, Any]) -> SyncJob:
    stack.seed_order(doc)
    stack.send(doc)
    return stack.wait_settled(int(doc["entity_id"]))


def lines_of(stack: Stack, doc: dict[str, Any]) -> list[dict[str, Any]]:
    invoice = next(i for i in stack.invoices() if i["CustomerReference"] == doc["increment_id"])
    return [line for line in invoice["LineItems"] if line["Description"] != "Shipping"]


def publish(stack: Stack, change: dict[str, Any]) -> None:
    def apply(doc: dict[str, Any]) -> str:
        doc.update(change)
        return "test"

    profiles.edit_draft(stack.db_url, "test", apply)
    studio.publish(stack.db_url, "test", "test")


def calls(stack: Stack, server: str) -> dict[str, int]:
    control = stack.servers.kashflow_control if server == "kashflow" else \
        stack.servers.magento_control
    found: dict[str, int] = requests.get(f"{control}/calls", timeout=5).json()["calls"]
    return found


def zero_calls(stack: Stack) -> None:
    for control in (stack.servers.kashflow_control, stack.servers.magento_control):
        requests.delete(f"{control}/calls", timeout=5).raise_for_status()


def writes(stack: Stack) -> dict[str, int]:
    found: dict[str, int] = {}
    for server in ("kashflow", "magento"):
        found |= {k: v for k, v in calls(stack, server).items()
                  if k.split()[0] in ("PUT", "POST") and "sessiontoken" not in k}
    return found


def test_default_mapping_puts_the_product_code_on_every_line_whose_sku_is_a_code(
        stack: Stack) -> None:
    doc = make_order(16001, ANN, [Line("TSHIRT", "Organic T-shirt", Decimal("12.50"), 2),
                                  Line("MUG", "Enamel Mug", Decimal("7.99"), 1),
                                  Line("NO-SUCH", "Not in KashFlow", Decimal("3.00"), 1)])
    job = settle(stack, doc)
    assert job.state == JobState.DONE, job.reason
    lines = lines_of(stack, doc)
    assert [(x.get("ProductCode"), int(x["NominalCode"])) for x in lines] == [
        ("TSHIRT", 4000), ("MUG", 4000), (None, 4000)]
    how = {m["sku"]: m["how"] for m in job.plan["line_mapping"]}
    assert how == {"TSHIRT": "matched by code", "MUG": "matched by code", "NO-SUCH": "unmapped"}
    # The stock-managed MUG sold one: KashFlow took it out of stock itself.
    mug = next(p for p in stack.kashflow()["products"] if p["Code"] == "MUG")
    assert Decimal(str(mug["QuantityInStock"])) == 39


def test_a_sku_differing_only_in_case_or_spaces_maps_when_unique(stack: Stack) -> None:
    doc = make_order(16011, ANN, [Line("mug", "Enamel Mug", Decimal("7.99"), 1),
                                  Line(" Hoodie ", "Heavy Hoodie", Decimal("34.00"), 1)])
    job = settle(stack, doc)
    assert job.state == JobState.DONE, job.reason
    assert [x.get("ProductCode") for x in lines_of(stack, doc)] == ["MUG", "HOODIE"]

    # Two products that match loosely: no guess; the line follows unmapped_sku, suggested.
    requests.post(f"{stack.servers.kashflow_control}/products", timeout=5,
                  json={"NominalCode": 4010, "Code": "Mug"}).raise_for_status()
    requests.post(f"{stack.servers.kashflow_control}/products", timeout=5,
                  json={"NominalCode": 4010, "Code": "CANDLE"}).raise_for_status()
    refresh = stack.cli("mapping", "refresh")  # the daily refresh, run now
    assert refresh.returncode == 0, refresh.stderr
    doc = make_order(16012, ANN, [Line("mug", "Enamel Mug", Decimal("7.99"), 1),
                                  Line("candle", "Beeswax Candle", Decimal("6.40"), 1)])
    job = settle(stack, doc)
    assert job.state == JobState.DONE, job.reason
    assert [(x.get("ProductCode"), int(x["NominalCode"])) for x in lines_of(stack, doc)] == [
        (None, 4000), ("CANDLE", 4010)]
    mapping = {m["sku"]: m for m in job.plan["line_mapping"]}
    assert mapping["mug"]["how"] == "suggested" and "4000/MUG" in mapping["mug"]["rule"]
    assert mapping["candle"]["how"] == "matched by code"


def test_a_sku_not_found_re_reads_the_catalogue_at_most_once_per_window(stack: Stack) -> None:
    zero_calls(stack)
    first = make_order(16031, ANN, [Line("MUG", "Enamel Mug", Decimal("7.99"), 1)])
    assert settle(stack, first).state == JobState.DONE  # nothing cached yet: one re-read
    assert lines_of(stack, first)[0].get("ProductCode") == "MUG"
    assert calls(stack, "kashflow").get("GET /products") == 1

    requests.post(f"{stack.servers.kashflow_control}/products", timeout=5,
                  json={"NominalCode": 4000, "Code": "LANTERN"}).raise_for_status()
    zero_calls(stack)
    docs = [make_order(16032 + n, ANN, [Line("LANTERN", "Lantern", Decimal("15.00"), 1)])
            for n in range(3)]
    jobs = [settle(stack, doc) for doc in docs]
    assert all(job.state == JobState.DONE for job in jobs)
    assert "GET /products" not in calls(stack, "kashflow")  # re-read a moment ago: not again
    assert [lines_of(stack, doc)[0].get("ProductCode") for doc in docs] == [None] * 3
    assert jobs[0].plan["line_mapping"][0]["how"] == "unmapped"

    refresh = stack.cli("mapping", "refresh")  # the daily refresh (or the studio's button)
    assert refresh.returncode == 0, refresh.stderr
    later = make_order(16039, ANN, [Line("LANTERN", "Lantern", Decimal("15.00"), 1)])
    assert settle(stack, later).state == JobState.DONE
    assert lines_of(stack, later)[0].get("ProductCode") == "LANTERN"


def test_an_explicit_entry_overrides_the_code_match(stack: Stack) -> None:
    publish(stack, {"skus": {"MUG": {"nominal_code": 4010, "product_code": None}}})
    doc = make_order(16021, ANN, [Line("MUG", "Enamel Mug", Decimal("7.99"), 1),
                                  Line("TSHIRT", "Organic T-shirt", Decimal("12.50"), 1)])
    job = settle(stack, doc)
    assert job.state == JobState.DONE, job.reason
    assert [(x.get("ProductCode"), int(x["NominalCode"])) for x in lines_of(stack, doc)] == [
        (None, 4010), ("TSHIRT", 4000)]
    assert [m["how"] for m in job.plan["line_mapping"]] == ["mapped", "matched by code"]


# -- stock -------------------------------------------------------------------------------

def set_kashflow(stack: Stack, code: str, qty: int, managed: bool = True) -> None:
    requests.post(f"{stack.servers.kashflow_control}/products", timeout=5,
                  json={"NominalCode": 4000, "Code": code, "QuantityInStock": qty,
                        "ManageStockLevel": managed}).raise_for_status()


def set_magento(stack: Stack, sku: str, qty: int) -> None:
    requests.post(f"{stack.servers.magento_control}/products", timeout=5,
                  json={"sku": sku, "qty": qty, "is_in_stock": qty > 0}).raise_for_status()


def magento_qty(stack: Stack, sku: str) -> Decimal:
    state = requests.get(f"{stack.servers.magento_control}/state", timeout=5).json(
        parse_float=Decimal)
    product = next(p for p in state["products"] if p["sku"] == sku)
    return Decimal(str(product["extension_attributes"]["stock_item"]["qty"]))


def test_stock_sync_with_the_default_mapping_syncs_every_matched_stock_managed_sku(
        stack: Stack) -> None:
    # Seed: MUG (40) and HOODIE (25) are stock-managed in KashFlow and in Magento; TSHIRT and
    # BOOK are not managed in KashFlow; CANDLE is only in Magento; DELIVERY only in KashFlow.
    set_kashflow(stack, "MUG", 50)  # a delivery booked in KashFlow
    set_kashflow(stack, "BOOK", 12)  # now stock-managed too, already in step with Magento
    set_kashflow(stack, "SPARE-PART", 3)  # stock-managed, no Magento SKU
    status = stack.cli("stock", "status")
    assert status.returncode == 0, status.stderr
    assert "SPARE-PART" in status.stdout and "CANDLE" in status.stdout
    zero_calls(stack)

    sync = stack.cli("stock", "sync")
    assert sync.returncode == 0, sync.stderr
    assert "1 changed, 2 unchanged" in sync.stdout, sync.stdout
    assert magento_qty(stack, "MUG") == 50
    assert magento_qty(stack, "HOODIE") == 25 and magento_qty(stack, "BOOK") == 12
    assert writes(stack) == {"PUT /V1/products/{sku}/stockItems/{item_id}": 1}
    assert ("Magento SKUs no KashFlow product matches (by skus entry or code): CANDLE"
            in sync.stdout)
    assert "no Magento SKU matches (not synced): 4000/SPARE-PART" in sync.stdout

    # Magento echoes kfsync's own write back as stock.updated: nothing is written.
    zero_calls(stack)
    event_id = str(uuid.uuid4())
    body = json.dumps({"id": event_id, "topic": "stock.updated",
                       "occurred_at": "2026-11-24T10:00:03Z", "store_id": 1,
                       "resource": {"type": "product", "sku": "MUG"}}).encode()
    reply = stack.client.post("/webhooks/magento", data=body,
                              headers=signed_headers(SECRET, event_id, body))
    assert reply.status_code == 202
    stack.wait_until(lambda: any("stockItems" in k and k.startswith("GET")
                                 for k in calls(stack, "magento")), "the echo's pass")
    stack.wait_until(lambda: stack.events_pending() == 0, "the event to be processed")
    again = stack.cli("stock", "sync")
    assert "0 changed" in again.stdout, again.stdout
    assert writes(stack) == {}


# -- products created on demand -------------------------------------------------------------

def test_ten_concurrent_orders_for_one_new_sku_create_one_product(stack: Stack) -> None:
    path = Path(stack.env["KFSYNC_MAPPING_FILE"])
    original = path.read_text(encoding="utf-8")
    data = yaml.safe_load(original) or {}
    data["create_missing_products"] = True
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        docs = [make_order(16100 + n, Buyer(f"buyer{n}@example.com", "New", f"Buyer{n}"),
                           [Line("NEW-LAMP", "Brass Lamp", Decimal("24.99"), 1)])
                for n in range(10)]
        for doc in docs:
            stack.seed_order(doc)
        zero_calls(stack)
        with ThreadPoolExecutor(10) as pool:
            list(pool.map(stack.send, docs))
        jobs = [stack.wait_settled(int(doc["entity_id"]), timeout=60) for doc in docs]
        assert all(job.state == JobState.DONE for job in jobs), [j.reason for j in jobs]
        lamps = [p for p in stack.kashflow()["products"] if p["Code"] == "NEW-LAMP"]
        assert len(lamps) == 1
        lamp = lamps[0]
        assert (int(lamp["NominalCode"]), lamp["Name"], Decimal(str(lamp["Price"])),
                Decimal(str(lamp["VATRate"]))) == (4000, "Brass Lamp", Decimal("24.99"), 20)
        assert calls(stack, "kashflow").get("POST /products") == 1
        assert all(lines_of(stack, doc)[0].get("ProductCode") == "NEW-LAMP" for doc in docs)
        assert sum("4000/NEW-LAMP" in job.plan.get("created_products", []) for job in jobs) >= 1
    finally:
        path.write_text(original, encoding="utf-8")
