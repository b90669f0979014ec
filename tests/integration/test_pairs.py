"""Two integration pairs in one deployment, on two sandbox pairs (two Magento shops, two
KashFlow companies) over HTTP, one real worker, SQLite and PostgreSQL.

Pair ``default`` is the environment (shop A -> company A); pair ``shopb`` is stored with its
secrets encrypted (shop B, stores 2 and 3 -> company B), with per-store rules: store 2 books
goods on nominal 4010, shipping on 4900 and card payments into bank account 1203 (Stripe
Clearing), with increment ids prefixed "B"; store 3 books on 4000. Shop B reuses shop A's
entity ids, as two real shops do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import simplejson
import yaml
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text

import sandbox
from core.settings import Settings
from ingest import create_app
from ingest.signing import signed_headers
from kfsync.samples import Buyer, Line, make_order
from sandbox.server import SandboxServers
from services import pairs
from store.db import get_engine, migrate, session_scope
from store.models import InboundEvent, JobState, SyncJob
from store.reconcile_models import ReconciliationItem
from store.stock_models import StockRun
from tests.conftest import PG_ADMIN_URL, _pg_available
from tests.integration.conftest import INTEGRATION_REDIS_URL, SETTLED, _start_worker
from workers.app import celery_app

pytestmark = pytest.mark.integration

SECRET_A, SECRET_B = "pair-a-secret", "pair-b-secret"
ANN = Buyer("ann.lee@example.com", "Ann", "Lee", customer_id=501)
BEN = Buyer("ben.b@example.com", "Ben", "Bee")
STORE_RULES = {
    "2": {"default_nominal_code": 4010, "shipping_nominal_code": 4900, "prefix": "B",
          "payment_methods": {"braintree": {"account_id": 1203,
                                            "method_name": "Credit/Debit Card"}}},
    "3": {"default_nominal_code": 4000},
}


class PairStack:
    def __init__(self, db_url: str, env: dict[str, str], a: SandboxServers,
                 b: SandboxServers) -> None:
        self.db_url, self.env, self.a, self.b = db_url, env, a, b
        self.client: FlaskClient = create_app(Settings.load(env, env_file=None)).test_client()

    def post(self, path: str, secret: str, order: dict[str, Any], store_id: int) -> int:
        event_id = str(uuid.uuid4())
        body = simplejson.dumps({
            "id": event_id, "topic": "order.created", "occurred_at": "2026-11-24T10:00:03Z",
            "store_id": store_id, "resource": {"type": "order", "entity_id": order["entity_id"],
                                               "increment_id": order["increment_id"]}}).encode()
        return self.client.post(path, data=body,
                                headers=signed_headers(secret, event_id, body)).status_code

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kfsync", *args], env=self.env,
                              capture_output=True, text=True, timeout=120, check=False)

    def job(self, pair: str, entity_id: int) -> SyncJob | None:
        with session_scope(self.db_url) as s:
            return s.scalar(select(SyncJob).where(SyncJob.pair == pair, SyncJob.kind == "order",
                                                  SyncJob.magento_key == str(entity_id)))

    def wait_settled(self, pair: str, entity_id: int) -> SyncJob:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            job = self.job(pair, entity_id)
            if job is not None and job.state in SETTLED:
                return job
            time.sleep(0.1)
        raise AssertionError(f"pair {pair} order {entity_id} did not settle")


def seed(servers: SandboxServers, order: dict[str, Any]) -> None:
    requests.post(f"{servers.magento_control}/orders", timeout=5,
                  data=simplejson.dumps(order, use_decimal=True),
                  headers={"Content-Type": "application/json"}).raise_for_status()


def state(servers: SandboxServers) -> dict[str, Any]:
    reply = requests.get(f"{servers.kashflow_control}/state", timeout=5)
    return reply.json(parse_float=Decimal)  # type: ignore[no-any-return]


def order_for(entity_id: int, buyer: Buyer, store_id: int, increment_id: str | None = None
              ) -> dict[str, Any]:
    order = make_order(entity_id, buyer, [Line("PLANTER", "Planter", Decimal("20.00"), 2),
                                          Line("SEEDS", "Seeds", Decimal("3.50"), 1)])
    order["store_id"] = store_id
    if increment_id:
        order["increment_id"] = increment_id
    return order


def _database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'pairs.db'}"
        return
    problem = _pg_available()
    if problem:
        pytest.skip(problem)
    name = f"kfsync_pairs_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair_stack(request: pytest.FixtureRequest, integration_redis: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[PairStack]:
    a, b = (SandboxServers(magento_port=0, kashflow_port=0) for _ in range(2))
    a.start()
    b.start()
    tmp = tmp_path_factory.mktemp("pairs")
    databases = _database(request.param, tmp)
    db_url = next(databases)
    migrate(db_url)
    broker = INTEGRATION_REDIS_URL.rsplit("/", 1)[0] + "/3"  # its own broker: its own worker
    redis.Redis.from_url(broker).flushdb()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KFSYNC_")},
        "KFSYNC_ENV": "dev", "KFSYNC_DATABASE_URL": db_url, "KFSYNC_REDIS_URL": broker,
        "KFSYNC_MAGENTO_BASE_URL": a.magento_url, "KFSYNC_MAGENTO_TOKEN": sandbox.MAGENTO_TOKEN,
        "KFSYNC_KASHFLOW_BASE_URL": a.kashflow_url,
        "KFSYNC_KASHFLOW_USERNAME": sandbox.KASHFLOW_USERNAME,
        "KFSYNC_KASHFLOW_PASSWORD": sandbox.KASHFLOW_PASSWORD,
        "KFSYNC_KASHFLOW_MEMORABLE_WORD": sandbox.KASHFLOW_MEMORABLE_WORD,
        "KFSYNC_WEBHOOK_SECRETS": SECRET_A, "KFSYNC_MAX_RETRIES": "2",
        "KFSYNC_KASHFLOW_RATE": "500", "KFSYNC_KASHFLOW_BURST": "500",
        "KFSYNC_HTTP_TIMEOUT_S": "2", "KFSYNC_PAIRS_KEY": pairs.new_key(),
    }
    added = subprocess.run(
        [sys.executable, "-m", "kfsync", "pairs", "add", "shopb",
         "--magento-url", b.magento_url, "--kashflow-url", b.kashflow_url,
         "--kashflow-username", sandbox.KASHFLOW_USERNAME, "--store-id", "2",
         "--store-id", "3", "--secrets-stdin",
         *[f"--store-rule={store}:{key}={simplejson.dumps(value)}"
           for store, rules in STORE_RULES.items() for key, value in rules.items()]],
        input=(f"magento_token={sandbox.MAGENTO_TOKEN}\n"
               f"kashflow_password={sandbox.KASHFLOW_PASSWORD}\n"
               f"kashflow_memorable_word={sandbox.KASHFLOW_MEMORABLE_WORD}\n"
               f"webhook_secrets={SECRET_B}\n"),
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert added.returncode == 0, added.stderr
    worker = _start_worker(env, tmp / "worker.log")
    yield PairStack(db_url, env, a, b)
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
    for servers in (a, b):
        servers.stop()
    next(databases, None)


def test_interleaved_orders_book_into_their_own_company_with_their_store_rules(
        pair_stack: PairStack) -> None:
    st = pair_stack
    a1, a2 = order_for(4101, ANN, 1), order_for(4102, BEN, 1)
    b1 = order_for(4101, BEN, 2, increment_id="B00004101")  # shop A's entity id, again
    b2 = order_for(4103, ANN, 3)
    for servers, order in ((st.a, a1), (st.a, a2), (st.b, b1), (st.b, b2)):
        seed(servers, order)
    assert st.post("/webhooks/magento", SECRET_A, a1, 1) == 202  # interleaved
    assert st.post("/webhooks/magento/shopb", SECRET_B, b1, 2) == 202
    assert st.post("/webhooks/magento", SECRET_A, a2, 1) == 202
    assert st.post("/webhooks/magento/shopb", SECRET_B, b2, 3) == 202
    for pair, order in (("default", a1), ("default", a2), ("shopb", b1), ("shopb", b2)):
        job = st.wait_settled(pair, order["entity_id"])
        assert job.state == JobState.DONE, (pair, job.reason)

    company_a, company_b = state(st.a), state(st.b)
    refs_a = sorted(i["CustomerReference"] for i in company_a["invoices"])
    refs_b = sorted(i["CustomerReference"] for i in company_b["invoices"])
    assert refs_a == ["000004101", "000004102"]  # nothing of shop B in company A
    assert refs_b == ["000004103", "B00004101"]  # nothing of shop A in company B
    assert {c["Email"] for c in company_a["customers"]} == {ANN.email, BEN.email}
    assert {c["Email"] for c in company_b["customers"]} == {ANN.email, BEN.email}

    by_ref = {i["CustomerReference"]: i for i in company_b["invoices"]}
    store2, store3 = by_ref["B00004101"], by_ref["000004103"]
    assert store2["Number"] == 4101  # the store's prefix "B" stripped
    assert [(line["Description"], line["NominalCode"]) for line in store2["LineItems"]] == [
        ("Planter (PLANTER)", 4010), ("Seeds (SEEDS)", 4010), ("Shipping", 4900)]
    assert [line["NominalCode"] for line in store3["LineItems"]] == [4000, 4000, 4000]
    for invoice, order in ((store2, b1), (store3, b2)):
        assert Decimal(str(invoice["GrossAmount"])) == order["grand_total"] == Decimal("58.20")
        [payment] = invoice["PaymentLines"]
        assert Decimal(str(payment["Amount"])) == Decimal("58.20")
    assert store2["PaymentLines"][0]["AccountId"] == 1203  # store 2's clearing account
    assert store3["PaymentLines"][0]["AccountId"] == 1201  # the company's default account


def test_a_webhook_is_verified_with_its_own_pairs_secret_and_stores(
        pair_stack: PairStack) -> None:
    st = pair_stack
    order = order_for(4201, ANN, 2, increment_id="B00004201")
    assert st.post("/webhooks/magento/shopb", SECRET_A, order, 2) == 401  # A's secret, B's path
    assert st.post("/webhooks/magento", SECRET_B, order, 2) == 401  # B's secret, A's path
    assert st.post("/webhooks/magento/shopb", SECRET_B, order, 1) == 422  # store 1 is A's
    assert st.post("/webhooks/magento/nosuch", SECRET_B, order, 2) == 404
    with session_scope(st.db_url) as s:  # none of those was stored
        assert s.scalar(select(InboundEvent).where(
            InboundEvent.resource_key == "4201")) is None


def test_the_cli_never_shows_a_pairs_secret_and_disable_refuses_its_webhooks(
        pair_stack: PairStack) -> None:
    st = pair_stack

    def kfsync(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kfsync", *args], env=st.env,
                              capture_output=True, text=True, timeout=60, check=False)

    listed, shown, tested = kfsync("pairs", "list"), kfsync("pairs", "show", "shopb"), \
        kfsync("pairs", "test", "shopb")
    assert listed.returncode == shown.returncode == tested.returncode == 0, tested.stderr
    assert "shopb" in listed.stdout and "default" in listed.stdout
    assert "shopb: magento: ok" in tested.stdout and "shopb: kashflow: ok" in tested.stdout
    for text_ in (listed.stdout, shown.stdout, tested.stdout):
        for secret in (SECRET_B, sandbox.KASHFLOW_PASSWORD, sandbox.MAGENTO_TOKEN,
                       sandbox.KASHFLOW_MEMORABLE_WORD):
            assert secret not in text_
    assert simplejson.loads(shown.stdout)["secrets_set"] == list(pairs.SECRET_KEYS)
    with session_scope(st.db_url) as s:  # encrypted at rest
        stored = s.execute(text("SELECT secrets FROM integration_pairs")).scalar_one()
    assert SECRET_B not in stored and sandbox.KASHFLOW_PASSWORD not in stored

    assert kfsync("pairs", "disable", "shopb").returncode == 0
    try:
        order = order_for(4301, ANN, 2, increment_id="B00004301")
        time.sleep(pairs.RECHECK_S + 0.5)  # the web process's copy of the pair expires
        assert st.post("/webhooks/magento/shopb", SECRET_B, order, 2) == 404
    finally:
        assert kfsync("pairs", "enable", "shopb").returncode == 0
    listed_jobs = kfsync("jobs", "list", "--pair", "shopb")
    assert "B00004101" in listed_jobs.stdout and "000004102" not in listed_jobs.stdout
    bad = kfsync("pairs", "add", "Bad Name", "--magento-url", "x", "--kashflow-username", "u")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr


def test_a_backfill_and_a_replay_for_pair_b_book_into_bs_company_only(
        pair_stack: PairStack) -> None:
    st = pair_stack
    july = "2025-07-10 09:00:00"
    a_old = order_for(4501, ANN, 1) | {"created_at": july, "updated_at": july}
    b_old = order_for(4501, BEN, 2, increment_id="B00004501") | {  # A's entity id, again
        "created_at": july, "updated_at": july}
    b_old3 = order_for(4502, ANN, 3) | {"created_at": july, "updated_at": july}
    seed(st.a, a_old)
    for order in (b_old, b_old3):
        seed(st.b, order)
    invoices_a = len(state(st.a)["invoices"])

    unknown = st.cli("backfill", "--pair", "shopc", "--since", "2025-07-01")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1, unknown.stderr
    assert "no pair named shopc (pairs: default, shopb)" in unknown.stderr
    assert st.cli("replay", "order", "B00004501", "--pair", "shopc").returncode == 2

    run = st.cli("backfill", "--pair", "shopb", "--since", "2025-07-01", "--until",
                 "2025-08-01")
    assert run.returncode == 0, run.stderr
    assert "of pair shopb: 2 of 2 order(s) through the pipeline" in run.stdout, run.stdout
    for entity_id in (4501, 4502):
        assert st.wait_settled("shopb", entity_id).state == JobState.DONE
    assert st.job("default", 4501) is None  # shop A's order of that id was not touched
    company_a, company_b = state(st.a), state(st.b)
    assert len(company_a["invoices"]) == invoices_a  # nothing into company A
    by_ref = {i["CustomerReference"]: i for i in company_b["invoices"]}
    assert [line["NominalCode"] for line in by_ref["B00004501"]["LineItems"]] == [
        4010, 4010, 4900]  # store 2's nominals
    assert [line["NominalCode"] for line in by_ref["000004502"]["LineItems"]] == [
        4000, 4000, 4000]
    assert Decimal(str(by_ref["B00004501"]["GrossAmount"])) == Decimal("58.20")
    assert by_ref["B00004501"]["PaymentLines"][0]["AccountId"] == 1203
    with session_scope(st.db_url) as s:  # the run's cursor is pair shopb's
        cursor = s.execute(text("SELECT name FROM cursors WHERE name LIKE 'backfill:%'")
                           ).scalars().all()
    assert cursor == ["backfill:2025-07-01:2025-08-01@shopb"]

    again = st.cli("backfill", "--pair", "shopb", "--since", "2025-07-01", "--until",
                   "2025-08-01")
    assert again.returncode == 0, again.stderr  # resumed from shopb's cursor: nothing new
    assert "resuming backfill:2025-07-01:2025-08-01 of pair shopb after order entity 4502" \
        in again.stdout, again.stdout
    replay = st.cli("replay", "order", "B00004501", "--pair", "shopb")
    assert replay.returncode == 0 and "of pair shopb queued" in replay.stdout, replay.stderr
    with session_scope(st.db_url) as s:
        event = s.scalar(select(InboundEvent).where(InboundEvent.source == "replay"))
        assert event is not None and event.pair == "shopb"
        event_id = event.id
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        with session_scope(st.db_url) as s:
            if s.scalar(select(InboundEvent.processed_at).where(InboundEvent.id == event_id)):
                break
        time.sleep(0.2)
    else:
        raise AssertionError("the replay event was not processed")
    assert st.wait_settled("shopb", 4501).state == JobState.DONE
    refs_b = [i["CustomerReference"] for i in state(st.b)["invoices"]]
    assert refs_b.count("B00004501") == 1  # replayed, never booked twice
    assert len(state(st.a)["invoices"]) == invoices_a


def _finished_runs(db_url: str, pair: str) -> list[StockRun]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(StockRun).where(StockRun.pair == pair,
                                                     StockRun.finished_at.is_not(None))
                              .order_by(StockRun.id)))


def _stock_pass(st: PairStack, expect: dict[str, int]) -> None:
    """Send beat's stock task once and wait until each pair in ``expect`` has that many
    finished runs."""
    celery_app.send_task("kfsync.stock.sync_all")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(len(_finished_runs(st.db_url, p)) >= n for p, n in expect.items()):
            return
        time.sleep(0.2)
    raise AssertionError(f"stock passes did not finish: {expect}")


def _control(url: str, path: str, body: dict[str, Any]) -> None:
    requests.post(f"{url}/{path}", json=body, timeout=5).raise_for_status()


def _magento_qty(servers: SandboxServers, sku: str) -> Decimal:
    shop = requests.get(f"{servers.magento_control}/state", timeout=5).json(parse_float=Decimal)
    product = next(p for p in shop["products"] if p["sku"] == sku)
    return Decimal(str(product["extension_attributes"]["stock_item"]["qty"]))


def test_beats_stock_pass_runs_per_pair_against_its_own_catalogue_and_a_failing_pair_stops_none(
        pair_stack: PairStack) -> None:
    st = pair_stack
    # LAMP is a stock-managed product of company B only; both shops sell a LAMP.
    _control(st.b.kashflow_control, "products", {"NominalCode": 4000, "Code": "LAMP",
                                                 "ManageStockLevel": True, "QuantityInStock": 3})
    _control(st.b.magento_control, "products", {"sku": "LAMP", "name": "Lamp", "qty": 3})
    _control(st.a.magento_control, "products", {"sku": "LAMP", "name": "Lamp", "qty": 1})
    _stock_pass(st, {"default": 1, "shopb": 1})  # baselines of each pair

    _control(st.b.kashflow_control, "products", {"NominalCode": 4000, "Code": "MUG",
                                                 "QuantityInStock": 7})
    _control(st.b.kashflow_control, "products", {"NominalCode": 4000, "Code": "LAMP",
                                                 "QuantityInStock": 9})
    _control(st.a.kashflow_control, "products", {"NominalCode": 4000, "Code": "HOODIE",
                                                 "QuantityInStock": 11})
    _stock_pass(st, {"default": 2, "shopb": 2})
    assert (_magento_qty(st.b, "MUG"), _magento_qty(st.b, "LAMP"),
            _magento_qty(st.b, "HOODIE")) == (7, 9, 25)  # company B's levels in shop B
    assert (_magento_qty(st.a, "MUG"), _magento_qty(st.a, "HOODIE"),
            _magento_qty(st.a, "LAMP")) == (40, 11, 1)  # company A's in shop A; no LAMP there
    run_a, run_b = _finished_runs(st.db_url, "default")[-1], _finished_runs(st.db_url, "shopb")[-1]
    assert (run_a.changed, run_b.changed) == (1, 2)
    assert "LAMP" in run_a.details["unmatched_magento_skus"]  # A's SKU, not B's product
    with session_scope(st.db_url) as s:  # each pair's catalogue holds its company's products
        lamps = s.execute(text("SELECT pair FROM catalogue_items WHERE key = '4000/LAMP'")
                          ).scalars().all()
    assert lamps == ["shopb"]

    # Shop B unreachable: its pass fails, pair default's still runs.
    moved = st.cli("pairs", "update", "shopb", "--magento-url", "http://127.0.0.1:9/rest")
    assert moved.returncode == 0, moved.stderr
    try:
        time.sleep(pairs.RECHECK_S + 0.5)  # the worker's copy of the pair expires
        _control(st.a.kashflow_control, "products", {"NominalCode": 4000, "Code": "MUG",
                                                     "QuantityInStock": 5})
        _stock_pass(st, {"default": 3})
        assert _magento_qty(st.a, "MUG") == 5
        assert len(_finished_runs(st.db_url, "shopb")) == 2  # B's pass failed, A's did not
    finally:
        back = st.cli("pairs", "update", "shopb", "--magento-url", st.b.magento_url)
        assert back.returncode == 0, back.stderr
        time.sleep(pairs.RECHECK_S + 0.5)  # the worker sees shop B's address again


def test_beats_reconciliation_runs_per_pair_and_a_post_books_into_the_items_company(
        pair_stack: PairStack) -> None:
    st = pair_stack
    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    # Both shops have a cheque order 7102 of yesterday; only shop B shows a card capture.
    for servers, path, secret, store in ((st.a, "/webhooks/magento", SECRET_A, 1),
                                         (st.b, "/webhooks/magento/shopb", SECRET_B, 3)):
        order = make_order(7102, BEN, [Line("SEEDS", "Seeds", Decimal("3.50"), 2)],
                           method="checkmo", created_at=f"{day} 10:00:00")
        order["store_id"] = store
        seed(servers, order)
        assert st.post(path, secret, order, store) == 202
    for pair in ("default", "shopb"):
        assert st.wait_settled(pair, 7102).state == JobState.DONE
    _control(st.b.magento_control, "transactions", {
        "transaction_id": 71021, "order_id": 7102, "txn_id": "txn-b-7102", "txn_type": "capture",
        "is_closed": 1, "created_at": f"{day} 10:00:01"})

    broker = redis.Redis.from_url(st.env["KFSYNC_REDIS_URL"])
    last_runs = ("kfsync:reconcile:last_run", "kfsync:reconcile:last_run@shopb")
    broker.delete(*last_runs)
    celery_app.send_task("kfsync.maintenance.reconcile_payments", queue="maintenance")
    deadline = time.monotonic() + 60
    while not all(broker.exists(key) for key in last_runs):  # each pair's run recorded
        assert time.monotonic() < deadline, "the daily reconciliation did not run per pair"
        time.sleep(0.2)
    with session_scope(st.db_url) as s:
        found = [(i.pair, i.reason, i.order_key, i.txn_id, i.fingerprint, i.id)
                 for i in s.scalars(select(ReconciliationItem).where(
                     ReconciliationItem.day == date.fromisoformat(day)))]
    assert [f[:4] for f in found] == [("shopb", "missing_payment", "7102", "txn-b-7102")]
    assert found[0][4].endswith("@shopb")
    listed = st.cli("reconcile", "items", "--pair", "default")
    assert listed.returncode == 0 and "0 item(s)" in listed.stdout, listed.stdout

    posted = st.cli("reconcile", "post", str(found[0][5]))
    assert posted.returncode == 0 and "posted" in posted.stdout, posted.stderr
    b_invoice = next(i for i in state(st.b)["invoices"] if i["CustomerReference"] == "000007102")
    a_invoice = next(i for i in state(st.a)["invoices"] if i["CustomerReference"] == "000007102")
    assert [Decimal(str(p["Amount"])) for p in b_invoice["PaymentLines"]] == [
        Decimal(str(b_invoice["GrossAmount"]))]  # the missing payment, in company B
    assert a_invoice["PaymentLines"] == []  # company A's order of that id is untouched


def test_pair_bs_skus_resolve_against_company_bs_products_only(pair_stack: PairStack) -> None:
    st = pair_stack
    _control(st.b.kashflow_control, "products", {"NominalCode": 4000, "Code": "DESK",
                                                 "ManageStockLevel": True, "QuantityInStock": 2})
    runs_b = len(_finished_runs(st.db_url, "shopb"))
    runs_a = len(_finished_runs(st.db_url, "default"))
    _stock_pass(st, {"shopb": runs_b + 1, "default": runs_a + 1})  # B's catalogue re-read
    desk = [Line("DESK", "Oak Desk", Decimal("80.00"), 1)]
    a_order, b_order = make_order(4701, ANN, desk), make_order(4701, BEN, desk)
    a_order["store_id"], b_order["store_id"] = 1, 3
    seed(st.a, a_order)
    seed(st.b, b_order)
    assert st.post("/webhooks/magento", SECRET_A, a_order, 1) == 202
    assert st.post("/webhooks/magento/shopb", SECRET_B, b_order, 3) == 202
    for pair in ("default", "shopb"):
        assert st.wait_settled(pair, 4701).state == JobState.DONE
    [b_invoice] = [i for i in state(st.b)["invoices"] if i["CustomerReference"] == "000004701"]
    [a_invoice] = [i for i in state(st.a)["invoices"] if i["CustomerReference"] == "000004701"]
    assert b_invoice["LineItems"][0].get("ProductCode") == "DESK"  # company B's product
    assert a_invoice["LineItems"][0].get("ProductCode") in (None, "")  # A has no DESK
    assert not any(p["Code"] == "DESK" for p in state(st.a)["products"])


def test_create_missing_products_in_pair_bs_rules_creates_the_product_in_company_b(
        pair_stack: PairStack, tmp_path: Path) -> None:
    st = pair_stack
    exported = st.cli("pairs", "export", "shopb")
    assert exported.returncode == 0, exported.stderr
    original, changed = tmp_path / "shopb.yml", tmp_path / "shopb-create.yml"
    original.write_text(exported.stdout, encoding="utf-8")
    doc = yaml.safe_load(exported.stdout)
    doc["rules"] = {**(doc.get("rules") or {}), "create_missing_products": True}
    changed.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert st.cli("pairs", "import", "shopb", str(changed), "--apply").returncode == 0
    try:
        time.sleep(pairs.RECHECK_S + 0.5)  # the worker reads shopb's new rules
        stool = [Line("NEW-STOOL", "Oak Stool", Decimal("45.00"), 1)]
        a_order, b_order = make_order(4801, ANN, stool), make_order(4801, BEN, stool)
        a_order["store_id"], b_order["store_id"] = 1, 3
        seed(st.a, a_order)
        seed(st.b, b_order)
        assert st.post("/webhooks/magento", SECRET_A, a_order, 1) == 202
        assert st.post("/webhooks/magento/shopb", SECRET_B, b_order, 3) == 202
        for pair in ("default", "shopb"):
            assert st.wait_settled(pair, 4801).state == JobState.DONE
        company_a, company_b = state(st.a), state(st.b)
        assert [p["Code"] for p in company_b["products"]].count("NEW-STOOL") == 1
        assert "NEW-STOOL" not in [p["Code"] for p in company_a["products"]]  # A's rules: no
        [b_invoice] = [i for i in company_b["invoices"] if i["CustomerReference"] == "000004801"]
        assert b_invoice["LineItems"][0].get("ProductCode") == "NEW-STOOL"
        with session_scope(st.db_url) as s:  # cached in pair shopb's catalogue only
            cached = s.execute(text("SELECT pair FROM catalogue_items "
                                    "WHERE key = '4000/NEW-STOOL'")).scalars().all()
        assert cached == ["shopb"]
    finally:
        assert st.cli("pairs", "import", "shopb", str(original), "--apply").returncode == 0


def test_mapping_refresh_for_pair_b_reads_company_bs_catalogue_into_bs_rows(
        pair_stack: PairStack) -> None:
    st = pair_stack
    _control(st.b.kashflow_control, "products", {"NominalCode": 4000, "Code": "SOFA"})
    refreshed = st.cli("mapping", "refresh", "--pair", "shopb", "--no-magento")
    assert refreshed.returncode == 0, refreshed.stderr
    assert "catalogue refreshed:" in refreshed.stdout
    with session_scope(st.db_url) as s:
        rows = s.execute(text("SELECT pair, kind FROM catalogue_items WHERE key = '4000/SOFA'")
                         ).all()
        kinds = set(s.execute(text("SELECT kind FROM catalogue_items WHERE pair = 'shopb'")
                              ).scalars())
    assert [tuple(r) for r in rows] == [("shopb", "product")]  # company B's, not A's
    assert {"product", "vat_rate", "bank_account", "payment_method"} <= kinds
    unknown = st.cli("mapping", "refresh", "--pair", "shopc")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1, unknown.stderr
