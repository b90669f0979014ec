"""The KashFlow products the SKU rule matches in (``mappings.skus``), for every process.

- ``attach(rules)``: the rules with the cached product list (``catalogue_items``) as their
  index. Each process keeps the index it loaded and reloads it when the catalogue's stamp
  changes (``product_cache.products_stamp``: one Redis read per task).
- ``prepare(order, rules)`` (the invoice step): when a SKU of the order matches neither the
  table nor any product, KashFlow's product list is re-read, at most once per
  ``REREAD_EVERY_S`` across all workers and through the shared rate limit; then, under
  ``create_missing_products: true``, each SKU still unmatched is created (``ensure_product``).
- Everything here is the current integration pair's (``core.pairs``): its KashFlow
  company's products, its re-read pace and its locks (``<key>@<pair>``).
- ``ensure_product``: exactly once, even for ten orders at once and across retries: a Redis
  lock per product, and under it a lookup before the create (``GET /products/{n}/{code}``),
  so a second order, or a retry after an answer that never came, adopts the product instead;
  a ``DuplicateProductCode`` answer is adopted too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis

from connectors.errors import NotFound, Rejected, Transient
from core import leases, pairs, redis_clients
from mappings.magento import Order
from mappings.products import ProductIndex, ProductRef
from mappings.rules import Rules, with_products
from mappings.skus import products_to_create, unmatched_skus
from services import product_cache
from workers import context

log = logging.getLogger(__name__)

REREAD_KEY = "kfsync:catalogue:products:reread"
REREAD_EVERY_S = 300  # a SKU not found re-reads KashFlow's list at most this often
REREAD_LOCK = "kfsync:catalogue:products:rereading"
REREAD_WAIT_S = 120  # > reading 5,000 products (50 pages) at the default 2 calls/s
CREATE_LOCK = "kfsync:lock:product:{nominal}:{code}"
CREATE_WAIT_S = 30  # another order creating the same product holds the lock this long at most
_index: dict[tuple[str, str], tuple[str, ProductIndex]] = {}  # (db URL, pair) -> (stamp, index)
_attached: list[tuple[Rules, ProductIndex, Rules]] = []  # the last (rules, index) -> result


@dataclass
class Prepared:
    """The rules to map the order with, and what preparing them did (for the job page)."""

    rules: Rules
    created: list[str] = field(default_factory=list)  # "<nominal>/<code>" created


def index(url: str, *, cached: bool = True) -> ProductIndex:
    """The cached products, reloaded when another process changed them (``cached=False``:
    read from the store now, as the studio pages do)."""
    if not cached:
        return product_cache.product_index(url)
    try:
        stamp = product_cache.products_stamp(context.settings().redis_url)
    except redis.RedisError:  # no way to know whether it changed: read it (the task will
        return product_cache.product_index(url)  # likely retry anyway without its broker)
    known = _index.get((url, pairs.current()))
    if known is not None and known[0] == stamp:
        return known[1]
    loaded = product_cache.product_index(url)
    _index[(url, pairs.current())] = (stamp, loaded)
    return loaded


def attach(rules: Rules, url: str | None = None, *, cached: bool = True) -> Rules:
    """``rules`` matching SKUs in the cached catalogue (the same object while nothing changed;
    ``cached``: as ``index``)."""
    # The current pair's KashFlow company's products (each pair has its own catalogue).
    products = index(url or context.db_url(), cached=cached)
    last = _attached[0] if _attached else None
    if last is not None and last[0] is rules and last[1] is products:
        return last[2]
    attached = with_products(rules, products)
    _attached[:] = [(rules, products, attached)]
    return attached


def prepare(order: Order, rules: Rules) -> Prepared:
    """Rules for ``order`` after a re-read and product creation where a SKU is unmatched."""
    url = context.db_url()
    # Rules attached in this task already (``context.profile``) match every SKU of most
    # orders: no second read of the catalogue's stamp then. A SKU they miss may be in a
    # catalogue another process stored since: look again before re-reading KashFlow.
    done = Prepared(rules)
    if _attached and _attached[0][2] is rules and not unmatched_skus(order, rules):
        return done
    done.rules = attach(rules, url)
    if not unmatched_skus(order, done.rules):
        return done
    if reread(url):
        done.rules = attach(rules, url)
    bodies = products_to_create(order, done.rules)
    for body in bodies:
        done.created.append(ensure_product(url, body).key)
    if bodies:
        done.rules = attach(rules, url)
    return done


def reread(url: str) -> bool:
    """Re-read KashFlow's product list unless any process did in the last REREAD_EVERY_S;
    True when the cached products may have changed since the caller loaded them.

    A task arriving while another reads waits for that read (under ``REREAD_LOCK``) instead
    of posting without it: the first orders after a start all see the products.
    """
    client = redis_clients.client(context.settings().redis_url)
    done_key = pairs.scoped_key(REREAD_KEY)  # each pair's company: its own list and pace
    if client.exists(done_key):
        return False
    with leases.locked(client, pairs.scoped_key(REREAD_LOCK), wait_s=REREAD_WAIT_S) as mine:
        if not mine:
            return True  # the reader took too long; whatever it stored is what there is
        if client.exists(done_key):
            return True  # read while this task waited
        report = product_cache.refresh_products(url, context.kashflow(),
                                                 redis_url=context.settings().redis_url)
        client.set(done_key, "1", ex=REREAD_EVERY_S)
        log.info("a SKU was not in the catalogue: %s", report)
        return True


def ensure_product(url: str, body: dict[str, Any]) -> ProductRef:
    """The KashFlow product ``body`` describes, created unless it exists (exactly once).

    Raises:
        Transient: another process held the product's lock for CREATE_WAIT_S.
        ConnectorError: the lookup or the create failed (``Ambiguous``: the retry looks first).
    """
    nominal, code = int(body["NominalCode"]), str(body["Code"])
    redis_url = context.settings().redis_url
    client = redis_clients.client(redis_url)
    lock_name = pairs.scoped_key(CREATE_LOCK.format(nominal=nominal, code=code))
    with leases.locked(client, lock_name, wait_s=CREATE_WAIT_S) as mine:
        if not mine:
            raise Transient(f"product {nominal}/{code} is being created by another task",
                            system="kashflow", reason="product_lock")
        product = _find_or_create(context.kashflow(), body, nominal, code)
        product_cache.store_product(url, product, redis_url=redis_url)
    return ProductRef(nominal, code, bool(product.get("ManageStockLevel")))


def _find_or_create(kashflow: Any, body: dict[str, Any], nominal: int, code: str
                    ) -> dict[str, Any]:
    try:
        found: dict[str, Any] = kashflow.get_product(nominal, code)
        return found
    except NotFound:
        pass
    try:
        created: dict[str, Any] = kashflow.create_product(body)
        log.info("created KashFlow product %s/%s (create_missing_products)", nominal, code)
        return created
    except Rejected as exc:
        if exc.reason != "DuplicateProductCode":
            raise
        adopted: dict[str, Any] = kashflow.get_product(nominal, code)
        return adopted
