"""The cached KashFlow product list, as the SKU rule reads it (``workers.products``).

The products are rows of ``catalogue_items`` (kind ``product``), written by the studio's
refresh (``services.catalogue.refresh``), by the on-demand re-read (``refresh_products``), by
a full stock pass (``store_products``) and when kfsync creates one (``store_product``).
Every write changes a Redis stamp (``products_changed``); each process compares it with the
one it loaded its index with (``products_stamp``), so none keeps an outdated list.
Everything here is the current integration pair's (``core.pairs``): its KashFlow company's
products are rows of that pair, and its stamp is ``kfsync:catalogue:products:stamp@<pair>``
(pair ``default`` keeps the keys it always had).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import select

from core import pairs, redis_clients
from mappings.products import ProductIndex
from services.catalogue import RefreshReport, jsonable, product_row, store_rows
from store.db import session_scope
from store.mapping_models import CatalogueItem

log = logging.getLogger(__name__)

PRODUCTS_STAMP_KEY = "kfsync:catalogue:products:stamp"


def refresh_products(url: str, kashflow: Any, *, redis_url: str) -> RefreshReport:
    """Re-read only KashFlow's product list (the SKU rule's on-demand re-read); ``redis_url``:
    where the workers hear of the change (``products_changed``)."""
    return store_products(url, kashflow.list_products(), redis_url=redis_url)


def store_products(url: str, products: Iterable[dict[str, Any]], *, redis_url: str
                   ) -> RefreshReport:
    """Store KashFlow's whole product list as read (a refresh without the read)."""
    rows = [product_row(p) for p in products]
    with session_scope(url) as session:
        missing = store_rows(session, "product", rows, datetime.now(UTC))
    products_changed(redis_url)
    return RefreshReport({"product": len(rows)}, missing)


def store_product(url: str, product: dict[str, Any], *, redis_url: str) -> None:
    """Add or update one KashFlow product in the cache (one kfsync just created)."""
    key, name, data = product_row(product)
    with session_scope(url) as session:
        row = session.scalar(select(CatalogueItem).where(CatalogueItem.pair == pairs.current(),
                                                         CatalogueItem.kind == "product",
                                                         CatalogueItem.key == key))
        if row is None:
            session.add(CatalogueItem(pair=pairs.current(), kind="product", key=key, name=name,
                                      data=jsonable(data), refreshed_at=datetime.now(UTC)))
        else:
            row.name, row.data, row.missing_since = name, jsonable(data), None
    products_changed(redis_url)


def products_stamp(redis_url: str) -> str:
    """A token that changes whenever the cached products change (``products_changed``); a
    worker reloads its product index when it differs from the one it loaded with. A missing
    key (Redis flushed) gets a new token, so nobody keeps an index from before."""
    client, key = redis_clients.client(redis_url), pairs.scoped_key(PRODUCTS_STAMP_KEY)
    value = client.get(key)
    if value is None:
        client.set(key, uuid.uuid4().hex, nx=True)
        value = client.get(key)
    return value.decode() if isinstance(value, bytes) else str(value)


def products_changed(redis_url: str) -> None:
    """Tell every process that the cached products changed (see ``products_stamp``)."""
    try:
        redis_clients.client(redis_url).set(pairs.scoped_key(PRODUCTS_STAMP_KEY), uuid.uuid4().hex)
    except redis.RedisError:
        log.warning("could not announce the catalogue change; workers keep their product "
                    "index until the next change is announced", exc_info=True)


def product_index(url: str) -> ProductIndex:
    """The cached KashFlow products (those still in KashFlow) as the SKU rule's index."""
    with session_scope(url) as session:
        rows = list(session.scalars(select(CatalogueItem.data).where(
            CatalogueItem.pair == pairs.current(), CatalogueItem.kind == "product",
            CatalogueItem.missing_since.is_(None))))
    return ProductIndex.from_kashflow(rows)
