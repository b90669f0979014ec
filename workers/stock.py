"""Stock sync tasks (queue ``stock``): ``kfsync.stock.sync_all`` (beat, every ``interval_s``)
and ``kfsync.stock.sync_sku`` (a ``stock.updated`` webhook, through ``handle_stock_event``).

The SKUs are the invoices' (``mappings.stock.stock_map``): every ``skus:`` entry naming a
product, and every Magento SKU (``GET /V1/products``) matched by code to a stock-managed
KashFlow product. One pass: count the invoice ledger, read KashFlow, read Magento (in that
order, so an invoice posted meanwhile can only make the pass write too little, never count a
sale twice), plan every SKU with ``mappings.stock``, write only what changed, store
baselines and a run summary.
Every pass, full or one SKU, holds one Redis lock (``kfsync:lock:stock_sync``): two beats, a
beat and a webhook, or a beat and ``kfsync stock sync`` never sync at the same time.
A pass is the current integration pair's (``core.pairs``): its shop, its KashFlow company,
its ledger, baselines and runs, and its own lock (``kfsync:lock:stock_sync@<pair>``). Beat's
``sync_all`` runs one pass per enabled pair; a pair that fails never stops the others.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from celery import Task

from core import leases, pairs, redis_clients
from mappings.rules import Rules
from mappings.stock import SkuPlan, SkuReading, plan_sku, stock_map, unmapped_products
from mappings.stock_rules import StockConfig, load_stock_config
from services import product_cache
from services import stock_ledger as ledger
from services.stock_io import MagentoStock, ProductKey, StockSides
from workers import context
from workers import products as catalogue_index
from workers.app import celery_app
from workers.dispatch import publish_task

log = logging.getLogger(__name__)

LOCK_KEY = "kfsync:lock:stock_sync"
OVERLAP_COUNTER = "kfsync:stock:overlaps"  # passes refused because another held the lock
BUSY_RETRY_S = 30  # a webhook's SKU waits this long for a running pass to finish
BUSY_RETRIES = 20
_config: dict[str, tuple[tuple[int, int] | None, StockConfig]] = {}


def stock_config() -> StockConfig:
    """The ``stock:`` section of the mapping file, re-read when the file changes."""
    path = context.settings().mapping_file
    if path is None:
        return StockConfig()
    try:
        stat = os.stat(path)
        stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    cached = _config.get(path)
    if cached is None or cached[0] != stamp:
        cached = _config[path] = (stamp, load_stock_config(path))
    return cached[1]


def forget_stock_config() -> None:
    """Drop the cached ``stock:`` section (a caller that rewrites the file within one mtime
    tick, as the stock benchmark does between scenarios)."""
    _config.clear()


@dataclass
class PassReport:
    """What one pass saw and did; ``outcome[sku]`` is the result line of each planned SKU."""

    run_id: int | None
    plans: list[SkuPlan] = field(default_factory=list)
    outcome: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)  # KashFlow products no SKU matches
    unmatched_magento: list[str] = field(default_factory=list)  # Magento SKUs matching none


def run_pass(sku: str | None = None, *, dry_run: bool = False, trigger: str = "beat",
             record: bool = True) -> PassReport | None:
    """One sync pass over every mapped SKU, or over ``sku``; ``None`` when another pass holds
    the lock, or on the beat schedule when the profile's ``steps.stock_sync`` is off (a
    manual ``kfsync stock sync`` still runs). ``dry_run`` plans without writing;
    ``record=False`` (``kfsync stock status``) also stores nothing."""
    if trigger == "beat" and not context.rules().steps.stock_sync:
        log.info("stock sync: stock_sync is off in the mapping profile; nothing done")
        return None
    if not record:  # a read-only look takes no lock
        return _pass(sku, dry_run, trigger, record)
    client = redis_clients.client(context.settings().redis_url)
    with leases.locked(client, pairs.scoped_key(LOCK_KEY)) as mine:
        if mine:
            return _pass(sku, dry_run, trigger, record)
    client.incr(OVERLAP_COUNTER)
    log.info("stock sync: another pass is running; this one is skipped")
    return None


def _pass(sku: str | None, dry_run: bool, trigger: str, record: bool) -> PassReport:
    url, config = context.db_url(), stock_config()
    sides = StockSides(context.kashflow(), context.magento(), config)
    report = PassReport(ledger.start_run(url, trigger, sku, dry_run) if record else None)
    with sides.counting() as calls:
        rules = _catalogue_ready(url, context.rules(), sku)
        found = stock_map(sides.magento_skus() if sku is None else (), rules, only=sku)
        mapped = dict(found.products)
        sku_of_product = {key: s for s, key in mapped.items()}
        invoiced = ledger.invoiced_totals(url, rules, sku_of_product,
                                          record=record and not dry_run)
        keys = None if sku is None else list(mapped.values())
        products = sides.kashflow_products(keys)
        if sku is None and record:  # the whole list was read: the catalogue's next refresh
            product_cache.store_products(url, list(products.values()),
                                         redis_url=context.settings().redis_url)
        # A SKU matched by code is synced when its product is stock-managed; a table entry
        # naming an unmanaged product is reported (someone asked for it).
        mapped = {s: k for s, k in mapped.items()
                  if s not in found.by_code or (products.get(k) or {}).get("ManageStockLevel")}
        magento = sides.magento_stock(sorted(mapped))
        baselines = ledger.load_baselines(url, None if sku is None else [sku])
        report.plans = [plan_sku(_reading(s, mapped[s], config, products, magento, invoiced,
                                          baselines)) for s in sorted(mapped)]
        if sku is not None and sku not in mapped:
            report.outcome[sku] = ("unmapped: no skus entry names a product for it and no "
                                   "stock-managed KashFlow product has it as its code; not synced")
        if sku is None:
            report.unmapped = unmapped_products(products.values(), mapped.values())
            report.unmatched_magento = list(found.unmatched)
        if not dry_run:
            _write(sides, report, mapped, products, magento, url if record else None)
    report.counts = _count(report, dry_run) | {"kashflow_calls": calls.kashflow,
                                               "magento_calls": calls.magento}
    if report.run_id is not None:
        ledger.finish_run(url, report.run_id, report.counts, _details(report))
    return report


def _catalogue_ready(url: str, rules: Rules, sku: str | None) -> Rules:
    """``rules`` with a product index worth matching in: the first pass ever (nothing cached)
    reads KashFlow's list; a one-SKU pass whose SKU matches nothing re-reads it (at most
    every few minutes, ``products.reread``)."""
    if not len(rules.products):
        product_cache.refresh_products(url, context.kashflow(),
                                        redis_url=context.settings().redis_url)
        return catalogue_index.attach(rules, url)
    if sku is not None and sku not in rules.skus and not rules.products.folded(sku) \
            and catalogue_index.reread(url):
        return catalogue_index.attach(rules, url)
    return rules


def _reading(sku: str, key: ProductKey, config: StockConfig,
             products: dict[ProductKey, dict[str, Any]], magento: dict[str, MagentoStock],
             invoiced: dict[str, Decimal], baselines: dict[str, Any]) -> SkuReading:
    product = products.get(key)
    problem = None
    if product is None:
        problem = f"no KashFlow product {key[0]}/{key[1]}"
    elif not product.get("ManageStockLevel"):
        problem = f"KashFlow product {key[0]}/{key[1]} is not stock-managed"
    elif sku not in magento:
        where = f"source {config.source_code}" if config.source_code else "stockItems"
        problem = f"no Magento stock for this SKU ({where})"
    kashflow = Decimal(str(product.get("QuantityInStock", 0))) if product else None
    return SkuReading(sku, config.mode_of(sku), kashflow,
                      magento[sku].qty if sku in magento else None,
                      invoiced.get(sku, Decimal(0)), baselines.get(sku), problem)


def _write(sides: StockSides, report: PassReport, mapped: dict[str, ProductKey],
           products: dict[ProductKey, dict[str, Any]], magento: dict[str, MagentoStock],
           url: str | None) -> None:
    writes = [p for p in report.plans if p.action == "write"]
    kf = sides.write_kashflow({mapped[p.sku]: (p.sku, products[mapped[p.sku]], p.write_kashflow)
                               for p in writes if p.write_kashflow is not None})
    mg = sides.write_magento({p.sku: (magento[p.sku], p.write_magento)
                              for p in writes if p.write_magento is not None})
    failed = {**kf.failed, **mg.failed}
    after = {}
    for plan in report.plans:
        sku = plan.sku
        if plan.action not in ("write", "in_step"):
            report.outcome[sku] = plan.action
            continue
        base = plan.baseline_after(kashflow_ok=sku in kf.written, magento_ok=sku in mg.written)
        if base is not None and base != plan.reading.baseline:  # unchanged rows: no UPDATE
            after[sku] = (base, plan)
        moved = sku in kf.moved or sku in mg.moved
        report.outcome[sku] = ("error: " + failed[sku] if sku in failed else
                               "deferred: changed during the pass" if moved else
                               "written" if plan.action == "write" else "in step")
    if url is not None:
        ledger.save_baselines(url, after)


def _count(report: PassReport, dry_run: bool) -> dict[str, int]:
    counts = dict.fromkeys(("changed", "unchanged", "skipped", "conflicts", "errors"), 0)
    for plan in report.plans:
        result = report.outcome.get(plan.sku, "")
        if plan.action == "conflict":
            counts["conflicts"] += 1
        elif plan.action == "skipped" or result.startswith("deferred"):
            counts["skipped"] += 1
        elif result.startswith("error"):
            counts["errors"] += 1
        elif plan.action == "write":
            counts["changed"] += 1
        else:
            counts["unchanged"] += 1
    planned = {p.sku for p in report.plans}
    counts["skipped"] += sum(1 for s in report.outcome if s not in planned)
    return counts


def _details(report: PassReport) -> dict[str, Any]:
    skus = {p.sku: {"action": p.action, "kashflow": _text(p.reading.kashflow),
                    "magento": _text(p.reading.magento), "target": _text(p.target),
                    "reason": p.reason, "result": report.outcome.get(p.sku, "planned")}
            for p in report.plans if p.action != "in_step"}
    skus |= {s: {"action": "skipped", "reason": r, "result": r}
             for s, r in report.outcome.items() if s not in skus and r.startswith("unmapped")}
    return {"skus": skus, "unmapped_kashflow_products": report.unmapped[:200],
            "unmatched_magento_skus": report.unmatched_magento[:200]}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


@celery_app.task(name="kfsync.stock.sync_all")
def sync_all() -> int:
    """The beat's full pass of every enabled pair; returns the number of SKUs written (0 for
    a pair whose last pass still runs)."""
    return context.for_each_pair(_sync_pair)


def _sync_pair() -> int:
    """The current pair's full pass (beat)."""
    report = run_pass(trigger="beat")
    return 0 if report is None else report.counts.get("changed", 0)


@celery_app.task(bind=True, name="kfsync.stock.sync_sku")
def sync_sku(self: Task, sku: str, trigger: str = "webhook", pair: str | None = None) -> int:
    """One SKU's pass of ``pair`` (its shop sent the webhook); waits for a running pass by
    retrying (it may have read the SKU before the change that triggered this one)."""
    pairs.enter(pair)
    report = run_pass(sku, trigger=trigger)
    if report is None:
        if self.request.retries < BUSY_RETRIES:
            raise self.retry(countdown=BUSY_RETRY_S, max_retries=None)
        return 0
    return report.counts.get("changed", 0)


def handle_stock_event(sku: str, event_id: int) -> str:
    """``stock.updated`` for ``sku`` (called by ``workers.events``): queue its one-SKU pass.

    A reading equal to what kfsync last wrote is no change, so kfsync's own writes coming
    back as webhooks cost one read of each side and write nothing.
    """
    kwargs: dict[str, Any] = {"trigger": "webhook"}
    if not pairs.is_default():  # a message pair default's older workers also read
        kwargs["pair"] = pairs.current()
    if not publish_task(sync_sku.name, [sku], kwargs,
                        then="the next beat pass syncs it"):
        return (f"stock sync of {sku} left to the next beat pass: the broker did not answer "
                f"(event {event_id})")
    return f"stock sync of {sku} queued (event {event_id})"
