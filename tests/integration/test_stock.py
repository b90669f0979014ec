"""Stock levels in step (issue 6), through the real worker on SQLite and PostgreSQL: passes
are started the way beat starts them (``send_task``), quantities are checked in the sandboxes.

The mapping file of the stack is rewritten per test with a ``stock:`` section and restored."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import yaml
from sqlalchemy import delete, func, select

from ingest.signing import signed_headers
from store.db import session_scope
from store.stock_models import StockBaseline, StockInvoiced, StockRun
from tests.integration.conftest import INTEGRATION_REDIS_URL, SECRET, Stack
from workers.app import celery_app
from workers.stock import LOCK_KEY, OVERLAP_COUNTER

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "magento"
SKUS = {"MUG": {"product_code": "MUG", "nominal_code": 4000},
        "HOODIE": {"product_code": "HOODIE", "nominal_code": 4000},
        "TSHIRT": {"product_code": "TSHIRT", "nominal_code": 4000}}  # not stock-managed


class StockStack:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.kf = stack.servers.kashflow_control
        self.mg = stack.servers.magento_control

    def configure(self, **stock: Any) -> None:
        path = Path(self.stack.env["KFSYNC_MAPPING_FILE"])
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        data.update({"skus": SKUS, "stock": stock})
        path.write_text(yaml.safe_dump(data), encoding="utf-8")

    # -- the sandboxes ---------------------------------------------------------------------
    def set_kashflow(self, code: str, qty: int) -> None:
        requests.post(f"{self.kf}/products", json={"NominalCode": 4000, "Code": code,
                                                   "QuantityInStock": qty},
                      timeout=5).raise_for_status()

    def set_magento(self, sku: str, qty: int) -> None:
        requests.post(f"{self.mg}/products", json={"sku": sku, "qty": qty,
                                                   "is_in_stock": qty > 0},
                      timeout=5).raise_for_status()

    def kashflow_qty(self, code: str) -> Decimal:
        products = self.stack.kashflow()["products"]
        return Decimal(str(next(p for p in products if p["Code"] == code)["QuantityInStock"]))

    def magento_item(self, sku: str) -> dict[str, Any]:
        state = requests.get(f"{self.mg}/state", timeout=5).json(parse_float=Decimal)
        product = next(p for p in state["products"] if p["sku"] == sku)
        return dict(product["extension_attributes"]["stock_item"])

    def magento_qty(self, sku: str) -> Decimal:
        return Decimal(str(self.magento_item(sku)["qty"]))

    def zero_calls(self) -> None:
        for control in (self.kf, self.mg):
            requests.delete(f"{control}/calls", timeout=5).raise_for_status()

    def writes(self) -> dict[str, int]:
        """Write calls since ``zero_calls``, by method and path template, both systems."""
        found: dict[str, int] = {}
        for control in (self.kf, self.mg):
            calls = requests.get(f"{control}/calls", timeout=5).json()["calls"]
            found |= {k: v for k, v in calls.items()
                      if k.split()[0] in ("PUT", "POST") and "sessiontoken" not in k}
        return found

    # -- the worker ------------------------------------------------------------------------
    def runs(self) -> int:
        with session_scope(self.stack.db_url) as s:
            return int(s.scalar(select(func.count()).select_from(StockRun)
                                .where(StockRun.finished_at.is_not(None))) or 0)

    def sync(self, task: str = "kfsync.stock.sync_all", *args: Any) -> StockRun:
        before = self.runs()
        celery_app.send_task(task, args=list(args))
        self.stack.wait_until(lambda: self.runs() > before, f"{task} to finish")
        with session_scope(self.stack.db_url) as s:
            run = s.scalar(select(StockRun).order_by(StockRun.id.desc()).limit(1))
        assert run is not None
        return run


@pytest.fixture
def stock(stack: Stack) -> Iterator[StockStack]:
    path = Path(stack.env["KFSYNC_MAPPING_FILE"])
    original = path.read_text(encoding="utf-8")
    with session_scope(stack.db_url) as s:
        for model in (StockInvoiced, StockBaseline, StockRun):
            s.execute(delete(model))
    redis.Redis.from_url(INTEGRATION_REDIS_URL).delete(LOCK_KEY, OVERLAP_COUNTER)
    yield StockStack(stack)
    path.write_text(original, encoding="utf-8")


@pytest.mark.parametrize("source_code", [None, "default"], ids=["legacy", "msi"])
def test_kashflow_mode_one_pass_carries_a_change_and_unchanged_skus_cost_no_write(
        stock: StockStack, source_code: str | None) -> None:
    stock.configure(mode="kashflow", source_code=source_code)
    stock.zero_calls()
    first = stock.sync()  # the seed is in step: baselines taken, nothing written
    assert (first.changed, first.unchanged, first.errors) == (0, 2, 0)
    assert first.skipped == 1 and "not stock-managed" in \
        first.details["skus"]["TSHIRT"]["reason"]
    assert stock.writes() == {}

    stock.set_kashflow("MUG", 33)
    stock.zero_calls()
    run = stock.sync()
    assert (run.changed, run.unchanged) == (1, 1)
    assert stock.magento_qty("MUG") == 33 and stock.magento_item("MUG")["is_in_stock"]
    assert stock.magento_qty("HOODIE") == 25
    write = "POST /V1/inventory/source-items" if source_code else \
        "PUT /V1/products/{sku}/stockItems/{item_id}"
    assert stock.writes() == {write: 1}  # MUG only; HOODIE unchanged costs nothing


def test_both_mode_merges_crossing_changes_and_counts_an_invoiced_sale_once(
        stock: StockStack) -> None:
    stock.configure(mode="both")
    stock.sync()  # baseline: MUG 40 / 40
    stock.set_kashflow("MUG", 50)  # a delivery booked in KashFlow (+10)...
    stock.set_magento("MUG", 37)  # ...while the shop sold 3
    run = stock.sync()
    assert run.changed == 1 and run.conflicts == 0
    assert stock.kashflow_qty("MUG") == stock.magento_qty("MUG") == 47

    order = json.loads((FIXTURES / "order_simple_guest.json").read_text(), parse_float=Decimal)
    stock.stack.seed_order(order)  # 2 x TSHIRT, 1 x MUG
    stock.set_magento("MUG", 46)  # Magento takes the sold MUG off its stock
    stock.stack.send(order)
    assert stock.stack.wait_settled(order["entity_id"]).invoice_number
    assert stock.kashflow_qty("MUG") == 46  # KashFlow took it off too, for the invoice line
    run = stock.sync()
    assert stock.kashflow_qty("MUG") == stock.magento_qty("MUG") == 46  # counted once
    assert run.conflicts == 0 and run.errors == 0


def test_own_write_coming_back_changes_nothing(stock: StockStack) -> None:
    stock.configure(mode="both")
    stock.sync()
    stock.set_kashflow("HOODIE", 30)
    assert stock.sync().changed == 1 and stock.magento_qty("HOODIE") == 30
    stock.zero_calls()
    echo = stock.sync("kfsync.stock.sync_sku", "HOODIE")  # what the webhook starts
    assert (echo.sku, echo.changed, echo.unchanged) == ("HOODIE", 0, 1)
    assert stock.writes() == {}


def test_stock_updated_webhook_of_our_own_write_changes_nothing(stock: StockStack) -> None:
    stock.configure(mode="both")
    stock.sync()
    stock.set_kashflow("HOODIE", 31)
    stock.sync()
    stock.zero_calls()
    before = stock.runs()
    event_id = str(uuid.uuid4())
    body = json.dumps({"id": event_id, "topic": "stock.updated",
                       "occurred_at": "2026-11-24T10:00:03Z", "store_id": 1,
                       "resource": {"type": "product", "sku": "HOODIE"}}).encode()
    reply = stock.stack.client.post("/webhooks/magento", data=body,
                                    headers=signed_headers(SECRET, event_id, body))
    assert reply.status_code == 202
    stock.stack.wait_until(lambda: stock.runs() > before, "the webhook's pass")
    assert stock.writes() == {}
    assert stock.kashflow_qty("HOODIE") == stock.magento_qty("HOODIE") == 31


def test_a_pass_never_overlaps_another(stock: StockStack) -> None:
    stock.configure(mode="kashflow")
    client = redis.Redis.from_url(INTEGRATION_REDIS_URL)
    held = client.lock(LOCK_KEY, timeout=60)
    assert held.acquire(blocking=False)  # another beat's pass is running
    stock.set_kashflow("MUG", 12)
    try:
        celery_app.send_task("kfsync.stock.sync_all")
        stock.stack.wait_until(lambda: int(client.get(OVERLAP_COUNTER) or 0) == 1,
                               "the second pass to be refused")
        assert stock.runs() == 0 and stock.magento_qty("MUG") == 40
    finally:
        held.release()
    stock.sync()
    assert stock.magento_qty("MUG") == 12


def test_cli_status_and_sync(stock: StockStack) -> None:
    stock.configure(mode="kashflow")
    stock.set_kashflow("MUG", 39)
    status = stock.stack.cli("stock", "status")
    assert status.returncode == 0, status.stderr
    assert "MUG" in status.stdout and "would write" in status.stdout
    assert stock.magento_qty("MUG") == 40 and stock.runs() == 0  # status changes nothing
    dry = stock.stack.cli("stock", "sync", "--sku", "MUG", "--dry-run")
    assert dry.returncode == 0 and "(dry run)" in dry.stdout
    assert stock.magento_qty("MUG") == 40
    done = stock.stack.cli("stock", "sync", "--sku", "MUG")
    assert done.returncode == 0, done.stderr
    assert "1 changed" in done.stdout and stock.magento_qty("MUG") == 39
