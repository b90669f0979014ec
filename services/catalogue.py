"""The studio's reference data: the cached KashFlow catalogue, what orders used, checks' inputs.

``refresh`` reads KashFlow's products, VAT rates, bank accounts and invoice payment methods
(and Magento's product list, for suggestions) into ``catalogue_items``; an item a refresh no
longer finds keeps its row with ``missing_since`` set, so a profile row pointing at it shows
as *broken* (``mappings.studio.validate``) instead of vanishing. ``kfsync mapping refresh``
and the studio's Refresh button run it; beat runs it daily.

A refresh asked for in the dashboard runs in a worker (``refresh_catalogue``), never in the
web request: ``mark_refresh`` records its progress in Redis (queued, running, then done or
failed with the report or the error) and ``refresh_status`` is what the studio shows.

``record_seen`` keeps ``seen_values`` up to date from every invoiced order (SKU and name,
payment method, VAT rates), which is what "unmapped in the last 90 days" and the coverage bar
read. ``recent_like`` and ``dup_key`` feed the ``dup.near`` check; ``hold_for`` turns check
findings into a review hold or nothing.

The catalogue and its refresh marks are the current integration pair's (``core.pairs``):
each pair's KashFlow company has its own products, VAT rates, bank accounts and methods.
What orders used (``seen_values``) is the deployment's.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import redis
from sqlalchemy import Connection, Table, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import pairs, redis_clients
from mappings.checks import Finding, OrderSummary, summarize
from mappings.errors import MappingError
from mappings.items import billable_items
from mappings.magento import Order, parse_magento_time
from mappings.rules import vat_key
from mappings.studio import Catalogue, CatalogueProduct, Seen
from services.kashflow_session import forget_lookups
from store.db import dialect_name, session_scope
from store.mapping_models import CatalogueItem, SeenValue
from store.models import SyncJob

SEEN_DAYS = 90
KASHFLOW_KINDS = ("product", "vat_rate", "bank_account", "payment_method")
REFRESH_ACTIVE_KEY = "kfsync:catalogue:refresh:active"  # queued or running
REFRESH_LAST_KEY = "kfsync:catalogue:refresh:last"  # the last one to end: done or failed
# A queued or running mark older than the refresh task's lock (15 min) lost its task (a
# worker killed mid-refresh): the studio offers the button again.
REFRESH_STALE_S = 900

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshReport:
    counts: dict[str, int]
    missing: list[str]  # "product 4000/MUG" ... gone since the last refresh

    def __str__(self) -> str:
        found = ", ".join(f"{n} {kind.replace('_', ' ')}(s)" for kind, n in self.counts.items())
        gone = f"; no longer in KashFlow: {', '.join(self.missing)}" if self.missing else ""
        return f"catalogue refreshed: {found}{gone}"


def refresh(url: str, kashflow: Any, magento: Any | None = None,
            magento_pages: int = 50, *, redis_url: str) -> RefreshReport:
    """Read the reference lists and store them (see the module docstring); ``redis_url``:
    where the workers hear of the change (``products_changed``)."""
    items: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        "product": [product_row(p) for p in kashflow.list_products()],
        "vat_rate": [(str(r["VATId"]), str(r.get("VATText") or r["VATRate"]), r)
                     for r in kashflow.vat_rates()],
        "bank_account": [(str(a["Id"]), str(a.get("AccountName") or a["Id"]), a)
                         for a in kashflow.bank_accounts()],
        "payment_method": [(str(m["Id"]), str(m.get("Name") or m["Id"]), m)
                           for m in kashflow.invoice_payment_methods()],
    }
    if magento is not None:
        items["magento_product"] = [(str(p["sku"]), str(p.get("name") or p["sku"]), p)
                                    for p in _magento_products(magento, magento_pages)]
    now = datetime.now(UTC)
    missing: list[str] = []
    with session_scope(url) as session:
        for kind, rows in items.items():
            missing += store_rows(session, kind, rows, now)
    from services.product_cache import products_changed  # it builds on this module

    products_changed(redis_url)
    forget_lookups(redis_url)  # the payment step re-reads bank accounts and methods
    return RefreshReport({kind: len(rows) for kind, rows in items.items()}, missing)


def product_row(p: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    return f"{p['NominalCode']}/{p['Code']}", str(p.get("Name") or p["Code"]), p


def store_rows(session: Session, kind: str, rows: list[tuple[str, str, dict[str, Any]]],
           now: datetime) -> list[str]:
    """Upsert ``rows`` of ``kind``; mark the stored ones not in ``rows`` missing (returned)."""
    missing: list[str] = []
    stored = {row.key: row for row in session.scalars(
        select(CatalogueItem).where(CatalogueItem.pair == pairs.current(),
                                    CatalogueItem.kind == kind))}
    for key, name, data in rows:
        row = stored.pop(key, None)
        if row is None:
            session.add(CatalogueItem(pair=pairs.current(), kind=kind, key=key, name=name,
                                      data=jsonable(data), refreshed_at=now))
        else:
            row.name, row.data, row.refreshed_at = name, jsonable(data), now
            row.missing_since = None
    for row in stored.values():
        if row.missing_since is None:
            row.missing_since = now
            missing.append(f"{kind.replace('_', ' ')} {row.key}")
    return missing


def _magento_products(magento: Any, pages: int) -> Iterable[dict[str, Any]]:
    for page in range(1, pages + 1):
        found = magento.search_products(page_size=100, current_page=page)
        rows = found.get("items") or []
        yield from rows
        if not rows or page * 100 >= int(found.get("total_count", 0)):
            return


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in data.items()
            if isinstance(v, str | int | float | bool | Decimal) or v is None}


def load(url: str) -> Catalogue:
    """The catalogue as last refreshed (items KashFlow no longer has are left out)."""
    with session_scope(url) as session:
        rows = list(session.scalars(select(CatalogueItem).where(
            CatalogueItem.pair == pairs.current(), CatalogueItem.kind.in_(KASHFLOW_KINDS),
            CatalogueItem.missing_since.is_(None))))
    by_kind: dict[str, list[CatalogueItem]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)
    products = [CatalogueProduct(str(r.data.get("Code")), r.name, int(r.data["NominalCode"]))
                for r in by_kind.get("product", [])]
    return Catalogue(
        products=products,
        vat_rates=[Decimal(str(r.data["VATRate"])) for r in by_kind.get("vat_rate", [])],
        bank_accounts={int(r.key): r.name for r in by_kind.get("bank_account", [])},
        payment_methods={int(r.key): r.name for r in by_kind.get("payment_method", [])},
        # A full refresh, not only the SKU rule's product re-read (workers/products.py).
        refreshed=any(kind in by_kind for kind in KASHFLOW_KINDS if kind != "product"),
    )


def items(url: str, kind: str, *, include_missing: bool = True) -> list[CatalogueItem]:
    with session_scope(url) as session:
        query = select(CatalogueItem).where(CatalogueItem.pair == pairs.current(),
                                            CatalogueItem.kind == kind)
        if not include_missing:
            query = query.where(CatalogueItem.missing_since.is_(None))
        return list(session.scalars(query.order_by(CatalogueItem.key)))


# --- what orders used ---------------------------------------------------------------------

def record_seen(url: str, order: Order) -> None:
    """Count the order's SKUs, payment method and VAT rates in ``seen_values`` (one upsert)."""
    with session_scope(url) as session:
        record_seen_on(session, order)


def record_seen_on(session: Session | Connection, order: Order) -> None:
    """``record_seen`` in the caller's transaction (the invoice step's finishing one)."""
    now = datetime.now(UTC)
    values: dict[tuple[str, str], str | None] = {}
    try:
        for item in billable_items(order):
            values[("sku", item.sku)] = item.name
    except MappingError:  # an unbillable order still shows its raw SKUs
        for raw in order.items:
            values[("sku", raw.sku)] = raw.name
    for raw in order.items:
        if raw.tax_percent is not None:
            values.setdefault(("vat", vat_key(raw.tax_percent)), f"{vat_key(raw.tax_percent)}%")
    if order.payment is not None:
        values[("payment", order.payment.method)] = order.payment.method
    if not values:
        return
    rows = [{"b_kind": k, "b_key": key[:128], "b_label": label, "b_at": now,
             "b_ref": order.increment_id} for (k, key), label in sorted(values.items())]
    session.execute(_SEEN_UPSERT[dialect_name(session)], rows)


def _seen_upsert(insert: Any) -> Any:
    stmt = insert(SEEN).values(kind=bindparam("b_kind"), key=bindparam("b_key"),
                               label=bindparam("b_label"), count=1,
                               first_seen=bindparam("b_at"), last_seen=bindparam("b_at"),
                               last_ref=bindparam("b_ref"))
    return stmt.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={"count": SEEN.c.count + 1, "last_seen": stmt.excluded.last_seen,
              "last_ref": stmt.excluded.last_ref, "label": stmt.excluded.label})


SEEN = cast(Table, SeenValue.__table__)
# Built once, executed with one parameter set per value: every invoice runs it.
_SEEN_UPSERT = {"postgresql": _seen_upsert(postgresql.insert),
                "sqlite": _seen_upsert(sqlite.insert)}


def seen(url: str, days: int = SEEN_DAYS) -> Seen:
    """SKUs (with names), payment methods and VAT rates used in the last ``days`` days."""
    since = datetime.now(UTC) - timedelta(days=days)
    with session_scope(url) as session:
        rows = list(session.scalars(select(SeenValue).where(SeenValue.last_seen >= since)))
    return Seen(skus={r.key: r.label or r.key for r in rows if r.kind == "sku"},
                methods=[r.key for r in rows if r.kind == "payment"],
                vat_rates=[r.key for r in rows if r.kind == "vat"])


def seen_rows(url: str, kind: str, days: int = SEEN_DAYS) -> list[SeenValue]:
    since = datetime.now(UTC) - timedelta(days=days)
    with session_scope(url) as session:
        return list(session.scalars(select(SeenValue).where(
            SeenValue.kind == kind, SeenValue.last_seen >= since).order_by(
            SeenValue.count.desc(), SeenValue.key)))


def forget_seen(session: Session) -> None:
    session.execute(delete(SeenValue))


# --- data-quality checks' inputs ----------------------------------------------------------

def dup_key(order: Order) -> str | None:
    """Email, total and SKU multiset of an order: near-duplicates share it (``None``: the
    order has no billable rows to compare)."""
    try:
        s = summarize(order)
    except MappingError:
        return None
    text = "|".join([s.email, str(s.grand_total)] + [f"{sku}:{qty}" for sku, qty in s.skus])
    return hashlib.sha256(text.encode()).hexdigest()


def recent_like(url: str, order: Order, job_id: int) -> list[OrderSummary]:
    """Other invoiced orders with the same ``dup_key`` (for ``dup.near``)."""
    with session_scope(url) as session:
        return recent_like_on(session, order, job_id)


def recent_like_on(session: Session | Connection, order: Order, job_id: int
                   ) -> list[OrderSummary]:
    """``recent_like`` read on ``session`` (the invoice step's own connection).

    The other orders' documents are not read: an order with the same ``dup_key`` has this
    order's email, grand total and SKU multiset (the key is their hash), so its summary is this
    order's with its own reference and time. Reading and parsing each whole document cost
    about as much as parsing this order (bench/NOTES.md).
    """
    key = dup_key(order)
    if key is None:
        return []
    mine = summarize(order)
    rows = session.execute(_LIKE, {"b_key": key, "b_job": job_id})
    placed = [(str(ref), parse_magento_time(str(at))) for ref, at in rows if ref and at]
    return [replace(mine, increment_id=ref, created_at=at) for ref, at in placed if at]


_LIKE = select(SyncJob.magento_ref, SyncJob.document["created_at"].as_string()).where(
    SyncJob.kind == "order", SyncJob.dup_key == bindparam("b_key"),
    SyncJob.id != bindparam("b_job")).limit(20)


def hold_for(findings: Sequence[Finding], acknowledged: Sequence[str]) -> str | None:
    """The review reason when a finding holds the order, else ``None``.

    ``block`` always holds; ``review`` holds unless an operator's requeue acknowledged that
    check (``workers.operations`` records it); ``warn`` never holds.
    """
    blocking = [f for f in findings if f.severity == "block"]
    reviewing = [f for f in findings if f.severity == "review" and f.check not in acknowledged]
    if not blocking and not reviewing:
        return None
    parts = [f"{f.check} ({f.severity}): {f.message}" for f in blocking + reviewing]
    tail = (" — blocked: change the order or the check's severity in the mapping profile"
            if blocking else " — requeue to accept and post it")
    return "data-quality check: " + "; ".join(parts) + tail


@dataclass(frozen=True)
class RefreshStatus:
    """One refresh's progress: ``state`` queued | running | done | failed since ``at``, asked
    for by ``by``; ``detail`` is the report (done) or the error (failed)."""

    state: str
    at: datetime
    by: str
    detail: str

    @property
    def active(self) -> bool:
        """Queued or running, and recent enough that its task is still alive."""
        age = (datetime.now(UTC) - self.at).total_seconds()
        return self.state in ("queued", "running") and age < REFRESH_STALE_S


def mark_refresh(redis_url: str, state: str, by: str, detail: str = "") -> None:
    """Record a refresh's progress: queued and running replace the active mark; done and
    failed end it and become the last result."""
    mark = json.dumps({"state": state, "at": datetime.now(UTC).isoformat(), "by": by,
                       "detail": detail})
    client = redis_clients.client(redis_url)
    if state in ("queued", "running"):
        client.set(pairs.scoped_key(REFRESH_ACTIVE_KEY), mark)
        return
    with client.pipeline() as ended:  # one transaction: never two marks, never none
        ended.set(pairs.scoped_key(REFRESH_LAST_KEY), mark)
        ended.delete(pairs.scoped_key(REFRESH_ACTIVE_KEY))
        ended.execute()


def clear_refresh(redis_url: str) -> None:
    """Forget a queued mark whose task could not be sent."""
    redis_clients.client(redis_url).delete(
        pairs.scoped_key(REFRESH_ACTIVE_KEY))


def refresh_status(redis_url: str) -> tuple[RefreshStatus | None, RefreshStatus | None]:
    """(the active refresh, the last one that ended); (None, None) when Redis does not answer,
    so the studio still renders."""
    try:
        client = redis_clients.client(redis_url)
        active, last = client.mget(pairs.scoped_key(REFRESH_ACTIVE_KEY),
                                   pairs.scoped_key(REFRESH_LAST_KEY))
    except redis.RedisError:
        log.warning("Redis did not answer: the catalogue refresh status is unknown")
        return None, None
    return _status(active), _status(last)


def _status(stored: bytes | str | None) -> RefreshStatus | None:
    if stored is None:
        return None
    mark = json.loads(stored)
    return RefreshStatus(str(mark["state"]), datetime.fromisoformat(mark["at"]),
                         str(mark["by"]), str(mark["detail"]))
