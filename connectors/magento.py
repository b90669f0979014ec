"""Magento 2 REST client: the read side of the sync (orders, credit memos, customers,
transactions, products) and stock writes, per ``API-SUBSET.md``.

Auth is a bearer token (``Authorization: Bearer <token>``) or OAuth 1.0a with the integration's
four credentials, signed ``HMAC-SHA256`` (the only method Magento 2.4.6 offers); the query string
is part of the signature. Magento has no re-login: a 401 is ``AuthFailed``.

Every method raises a ``connectors.errors.ConnectorError`` on failure (see ``connectors.http``):
``NotFound`` for an unknown id or SKU (404), ``AuthFailed`` for 401/403 (bad token, or an ACL
the integration lacks), ``Rejected`` for other 4xx with ``reason="http_<code>"`` and the message
with its ``%1``/``%name`` placeholders filled, ``Transient``/``Ambiguous`` for transport
failures, 429 and 5xx.

List searches take ``filters``: a list of groups, each a list of ``Filter(field, value,
condition_type)`` (plain 3-tuples work too). Groups are ANDed, filters within a group ORed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote

import oauthlib.oauth1
from requests_oauthlib import OAuth1

from connectors.http import CallObserver, Dialect, HeaderAuth, JsonClient

MAX_PAGE_SIZE = 300  # Magento's default webapi/validation/maximum_page_size; more -> 400
MAX_SOURCE_ITEMS = 20  # webapi/validation/complex_array_limit for synchronous calls

FilterValue = str | int | Decimal | Sequence[str | int]


class Filter(NamedTuple):
    """One ``searchCriteria`` filter; a sequence value is joined with commas (for ``in``)."""

    field: str
    value: FilterValue
    condition_type: str = "eq"


FilterGroups = Sequence[Sequence[Filter | tuple[str, FilterValue, str]]]
SortOrders = Sequence[tuple[str, str]]  # (field, "ASC" | "DESC")

_PLACEHOLDER = re.compile(r"%(\w+)")


def fill_placeholders(message: str, parameters: Any) -> str:
    """Magento's ``message`` with ``%1`` (list parameters) or ``%name`` (object) filled in."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if isinstance(parameters, dict) and key in parameters:
            return str(parameters[key])
        if isinstance(parameters, list) and key.isdigit() and 0 < int(key) <= len(parameters):
            return str(parameters[int(key) - 1])
        return match.group(0)

    return _PLACEHOLDER.sub(value, message)


def read_magento_error(body: Any) -> tuple[str | None, str]:
    """Magento names no errors (reason stays ``http_<code>``); the message is filled in."""
    if not isinstance(body, dict):
        return None, ""
    parts = [fill_placeholders(str(body.get("message", "")), body.get("parameters"))]
    for item in body.get("errors") or ():
        if isinstance(item, dict):
            parts.append(fill_placeholders(str(item.get("message", "")), item.get("parameters")))
    return None, "; ".join(p for p in parts if p)


def search_criteria(
    filters: FilterGroups = (),
    *,
    page_size: int = 100,
    current_page: int = 1,
    sort: SortOrders | None = None,
) -> list[tuple[str, str]]:
    """The ``searchCriteria[...]`` query parameters, in order.

    Raises:
        ValueError: ``page_size`` outside 1..300 or ``current_page`` < 1.
    """
    if not 0 < page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
    if current_page < 1:
        raise ValueError(f"current_page must be >= 1, got {current_page}")
    params: list[tuple[str, str]] = []
    for i, group in enumerate(filters):
        for j, (name, value, condition) in enumerate(group):
            prefix = f"searchCriteria[filter_groups][{i}][filters][{j}]"
            if isinstance(value, list | tuple):
                value = ",".join(str(v) for v in value)
            params += [(f"{prefix}[field]", name), (f"{prefix}[value]", str(value)),
                       (f"{prefix}[condition_type]", condition)]
    for k, (name, direction) in enumerate(sort or ()):
        params += [(f"searchCriteria[sortOrders][{k}][field]", name),
                   (f"searchCriteria[sortOrders][{k}][direction]", direction.upper())]
    params += [("searchCriteria[pageSize]", str(page_size)),
               ("searchCriteria[currentPage]", str(current_page))]
    return params


def _segment(value: str | int) -> str:
    """One URL path segment: SKUs may hold ``/``, spaces, ``#``..."""
    return quote(str(value), safe="")


class OAuthCredentials(Protocol):
    """Magento integration OAuth 1.0a credentials (``core.settings.MagentoOAuth`` is one)."""

    @property
    def consumer_key(self) -> str: ...
    @property
    def consumer_secret(self) -> str: ...
    @property
    def access_token(self) -> str: ...
    @property
    def access_token_secret(self) -> str: ...


class MagentoClient(JsonClient):
    """Magento 2 REST API. Build once per process; safe to share between threads."""

    dialect = Dialect(system="magento", read_error=read_magento_error)

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        oauth: OAuthCredentials | None = None,
        timeout: float = 30.0,
        on_call: CallObserver | None = None,
    ) -> None:
        """``base_url`` ends before ``/V1`` (e.g. ``https://shop.example/rest``).

        Raises:
            ValueError: neither or both of ``token`` and ``oauth`` given.
        """
        if (token is None) == (oauth is None):
            raise ValueError("MagentoClient needs exactly one of token= or oauth=")
        super().__init__(base_url, timeout=timeout, on_call=on_call)
        self._token = token
        self._oauth = oauth
        if oauth is not None:
            self.session.auth = OAuth1(
                oauth.consumer_key, oauth.consumer_secret,
                oauth.access_token, oauth.access_token_secret,
                signature_method=oauthlib.oauth1.SIGNATURE_HMAC_SHA256,
            )
        else:
            assert token is not None
            self.session.auth = HeaderAuth("Bearer", token)

    def _secrets(self) -> Sequence[str | None]:
        oauth = self._oauth
        if oauth is None:
            return (self._token,)
        return (oauth.consumer_secret, oauth.access_token, oauth.access_token_secret)

    def _get_object(self, path: str, params: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        return self._object(self._request("GET", path, params=params), f"GET {path}")

    def _search(self, path: str, filters: FilterGroups, *, page_size: int, current_page: int,
                sort: SortOrders | None) -> dict[str, Any]:
        params = search_criteria(filters, page_size=page_size, current_page=current_page,
                                 sort=sort)
        return self._get_object(path, params)

    def _iter_search(self, path: str, filters: FilterGroups, *, page_size: int,
                     sort: SortOrders | None) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            found = self._search(path, filters, page_size=page_size, current_page=page, sort=sort)
            items = found.get("items") or []
            yield from items
            # Old Magento answers a page past the end with the last page again: count instead.
            if not items or page * page_size >= int(found.get("total_count", 0)):
                return
            page += 1

    # -- orders ---------------------------------------------------------------------------

    def get_order(self, entity_id: int) -> dict[str, Any]:
        """``GET /V1/orders/{entity_id}`` (the internal id, not ``increment_id``).

        Raises:
            NotFound: no such order.
        """
        return self._get_object(f"/V1/orders/{_segment(entity_id)}")

    def search_orders(self, filters: FilterGroups = (), *, page_size: int = 100,
                      current_page: int = 1, sort: SortOrders | None = None) -> dict[str, Any]:
        """One page of ``GET /V1/orders``: ``{"items", "search_criteria", "total_count"}``."""
        return self._search("/V1/orders", filters, page_size=page_size,
                            current_page=current_page, sort=sort)

    def iter_orders(self, filters: FilterGroups = (), *, page_size: int = 100,
                    sort: SortOrders | None = None) -> Iterator[dict[str, Any]]:
        """Every order matching ``filters``, page by page (sort by a stable key, e.g.
        ``[("entity_id", "ASC")]``, so rows do not shift between pages)."""
        return self._iter_search("/V1/orders", filters, page_size=page_size, sort=sort)

    # -- credit memos, customers, transactions --------------------------------------------

    def get_creditmemo(self, entity_id: int) -> dict[str, Any]:
        """``GET /V1/creditmemo/{id}``. Raises ``NotFound``."""
        return self._get_object(f"/V1/creditmemo/{_segment(entity_id)}")

    def search_creditmemos(self, filters: FilterGroups = (), *, page_size: int = 100,
                           current_page: int = 1,
                           sort: SortOrders | None = None) -> dict[str, Any]:
        """One page of ``GET /V1/creditmemos``."""
        return self._search("/V1/creditmemos", filters, page_size=page_size,
                            current_page=current_page, sort=sort)

    def get_invoice(self, entity_id: int) -> dict[str, Any]:
        """``GET /V1/invoices/{id}`` (a Magento invoice: what was billed, and its capture's
        ``transaction_id``). Raises ``NotFound``."""
        return self._get_object(f"/V1/invoices/{_segment(entity_id)}")

    def search_invoices(self, filters: FilterGroups = (), *, page_size: int = 100,
                        current_page: int = 1, sort: SortOrders | None = None) -> dict[str, Any]:
        """One page of ``GET /V1/invoices``."""
        return self._search("/V1/invoices", filters, page_size=page_size,
                            current_page=current_page, sort=sort)

    def order_invoices(self, order_id: int) -> list[dict[str, Any]]:
        """Every Magento invoice of an order (``GET /V1/invoices``, filter ``order_id``), in
        ``entity_id`` order."""
        filters = [[Filter("order_id", order_id)]]
        return list(self._iter_search("/V1/invoices", filters, page_size=100,
                                      sort=[("entity_id", "ASC")]))

    def get_customer(self, customer_id: int) -> dict[str, Any]:
        """``GET /V1/customers/{id}``. Raises ``NotFound``."""
        return self._get_object(f"/V1/customers/{_segment(customer_id)}")

    def search_transactions(self, order_id: int) -> list[dict[str, Any]]:
        """All payment transactions of an order (``GET /V1/transactions``, filter ``order_id``)."""
        filters = [[Filter("order_id", order_id)]]
        return list(self._iter_search("/V1/transactions", filters, page_size=100,
                                      sort=[("transaction_id", "ASC")]))

    # -- catalog and stock ----------------------------------------------------------------

    def search_products(self, filters: FilterGroups = (), *, page_size: int = 100,
                        current_page: int = 1, sort: SortOrders | None = None) -> dict[str, Any]:
        """One page of ``GET /V1/products``."""
        return self._search("/V1/products", filters, page_size=page_size,
                            current_page=current_page, sort=sort)

    def get_stock_item(self, sku: str) -> dict[str, Any]:
        """Legacy stock of ``sku`` (``GET /V1/stockItems/{sku}``). Raises ``NotFound``."""
        return self._get_object(f"/V1/stockItems/{_segment(sku)}")

    def update_stock_item(self, sku: str, item_id: int, qty: Decimal | int,
                          is_in_stock: bool) -> int:
        """``PUT /V1/products/{sku}/stockItems/{itemId}``; returns the stock item id.

        Raises:
            Ambiguous: no answer after sending (the PUT is idempotent: repeat it).
        """
        body = {"stockItem": {"qty": qty, "is_in_stock": is_in_stock}}
        path = f"/V1/products/{_segment(sku)}/stockItems/{_segment(item_id)}"
        return int(self._request("PUT", path, body=body))

    def search_source_items(self, filters: FilterGroups = (), *, page_size: int = 100,
                            current_page: int = 1,
                            sort: SortOrders | None = None) -> dict[str, Any]:
        """One page of MSI ``GET /V1/inventory/source-items``."""
        return self._search("/V1/inventory/source-items", filters, page_size=page_size,
                            current_page=current_page, sort=sort)

    def save_source_items(self, items: Sequence[Mapping[str, Any]]) -> None:
        """MSI ``POST /V1/inventory/source-items`` (``sku``, ``source_code``, ``quantity``,
        ``status``); an absolute set, so repeating it is harmless.

        Raises:
            ValueError: more than 20 items (Magento rejects them; chunk first).
        """
        if len(items) > MAX_SOURCE_ITEMS:
            raise ValueError(f"at most {MAX_SOURCE_ITEMS} source items per call, got {len(items)}")
        if items:
            self._request("POST", "/V1/inventory/source-items",
                          body={"sourceItems": [dict(item) for item in items]})
