"""KashFlow REST v2 client: customers, invoices (and credit notes), payments, products and the
reference lists, per ``API-SUBSET.md``.

Session: the two-step login (``POST /sessiontoken`` with user name and password, then ``PUT
/sessiontoken`` with the memorable word's characters at the three requested 1-based positions)
runs lazily on the first call; later calls send ``Authorization: KfToken <token>``. The client
is thread-safe: one lock guards the login, and a thread that finds the token already renewed by
another thread uses it instead of logging in again. With a ``session_store`` (``SessionStore``:
kfsync's is in Redis, ``services.kashflow_session``) the token is shared by every process: a
new or restarted process adopts the stored token instead of logging in, and a re-login runs
under the store's lock, so one process logs in while the others wait and adopt its token.

Failures (``connectors.errors``; classification in ``connectors.http``):

- ``AuthFailed``: a login rejected (``InvalidCredentials``, ``AccountLocked``,
  ``PasswordExpired``, any 4xx on ``/sessiontoken``), or a call still answered 401 after one
  fresh login. Either starts a cooldown (``login_cooldown_s``, default 600 s) during which every
  call raises ``AuthFailed`` at once without touching the network, so nothing can loop on the
  login endpoint and lock the account.
- ``NotFound``: 404 (``get_customer``, ``get_invoice``, ``get_product``).
- ``Rejected``: other 4xx, ``reason`` = KashFlow's ``Error`` (``DuplicateInvoiceNumber``...).
- ``Transient``: 429 (``retry_after``), 5xx on reads, timeouts before sending, and the 400
  ``Error: "-2146232060"`` server database timeout (``reason="db_timeout"``).
- ``Ambiguous``: a write with no answer (read timeout, reset, 5xx): look it up before writing.

Calls marked **assumed** in ``API-SUBSET.md`` each live in one method here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from connectors.errors import AuthFailed, ConnectorError, Transient
from connectors.http import CallObserver, Dialect, HeaderAuth, JsonClient, Limiter, Params

PER_PAGE = 100  # modest pages: large ones trigger KashFlow's database timeout
LOGIN_COOLDOWN_S = 600.0  # hcs-sync's 10-minute back-off after a lock or a rejected login
DB_TIMEOUT_ERROR = "-2146232060"  # SQL "Execution Timeout Expired", sent as a 400
# A 401 naming no error is treated like an expired token (a proxy may strip the body).
RELOGIN_REASONS = frozenset({"InvalidSessionToken", "http_401"})


class SessionStore(Protocol):
    """Where processes share the session token (the token is a secret: keep it off logs)."""

    def load(self) -> str | None:
        """The shared token, or None."""

    def save(self, token: str) -> None:
        """Share a token just obtained by a login."""

    def forget(self, token: str) -> None:
        """Drop ``token`` if it is still the shared one (KashFlow refused it)."""

    def login_lock(self) -> AbstractContextManager[object]:
        """Held by the one process that logs in; the others wait on it."""


def read_kashflow_error(body: Any) -> tuple[str | None, str]:
    """``{"Error": name, "Message": text}`` -> (name, text)."""
    if not isinstance(body, dict):
        return None, ""
    name = body.get("Error")
    return (None if name in (None, "") else str(name)), str(body.get("Message") or "")


def memorable_word_answer(word: str, positions: Iterable[int]) -> list[dict[str, Any]]:
    """The ``MemorableWordList`` answer: the character of ``word`` at each 1-based position
    (KashFlow compares them ignoring case).

    Raises:
        ValueError: a position outside the word.
    """
    answer: list[dict[str, Any]] = []
    for position in positions:
        if not 1 <= position <= len(word):
            raise ValueError(f"memorable word has no character at position {position}")
        answer.append({"Position": position, "Value": word[position - 1]})
    return answer


def _list_page(data: Any) -> tuple[list[dict[str, Any]], str | None, int | None]:
    """Items, next-page URL and total of a list answer: ``{"Data", "MetaData"}`` or a bare array."""
    if isinstance(data, list):
        return data, None, None
    if not isinstance(data, dict):
        return [], None, None
    meta = data.get("MetaData") or {}
    total = meta.get("TotalRecords")
    return list(data.get("Data") or []), meta.get("NextPageUrl") or None, (
        None if total is None else int(total))


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


class KashFlowClient(JsonClient):
    """KashFlow REST v2. Build once per process (it keeps the session token)."""

    dialect = Dialect(system="kashflow", read_error=read_kashflow_error,
                      transient={DB_TIMEOUT_ERROR: "db_timeout"})

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        memorable_word: str,
        timeout: float = 30.0,
        login_cooldown_s: float = LOGIN_COOLDOWN_S,
        on_call: CallObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
        limiter: Limiter | None = None,
        session_store: SessionStore | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, on_call=on_call, limiter=limiter)
        self._store = session_store
        self._username = username
        self._password = password
        self._memorable_word = memorable_word
        self._cooldown_s = login_cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._temporary_token: str | None = None
        self._paused_until = 0.0
        self._paused_reason = ""
        self.login_count = 0  # login attempts (POST /sessiontoken) made by this client

    def _secrets(self) -> Sequence[str | None]:
        return (self._password, self._memorable_word, self._token, self._temporary_token)

    # -- session --------------------------------------------------------------------------

    def _login(self, replacing: str | None) -> str:
        """A valid session token: the current one unless it is ``replacing`` (or none yet),
        else the shared one (``session_store``) unless it is ``replacing``, else a login."""
        with self._lock:
            if self._token is not None and self._token != replacing:
                return self._token  # another thread logged in meanwhile
            self._token = None
            if self._store is None:
                return self._fresh_login()
            if replacing is not None:
                self._store.forget(replacing)
            shared = self._store.load()
            if shared is None:
                with self._store.login_lock():  # one process logs in, the others adopt
                    shared = self._store.load()
                    if shared is None:
                        shared = self._fresh_login()
                        self._store.save(shared)
            self._token = shared
            return shared

    def _fresh_login(self) -> str:
        """Log in (the caller holds ``self._lock``)."""
        remaining = self._paused_until - self._clock()
        if remaining > 0:
            raise AuthFailed(f"logins paused for {remaining:.0f} s after {self._paused_reason}",
                             system="kashflow", reason=self._paused_reason)
        self.login_count += 1
        try:
            self._token = self._two_step_login()
        except Transient:
            raise  # KashFlow trouble, not a verdict on the credentials
        except ConnectorError as exc:
            self._pause(exc.reason)
            raise AuthFailed(f"login failed: {exc.args[0]}", system="kashflow",
                             reason=exc.reason, status=exc.status, body=exc.body) from exc
        finally:
            self._temporary_token = None
        return self._token

    def _two_step_login(self) -> str:
        first = self._object(self._request(
            "POST", "/sessiontoken", retry_safe=True,
            body={"UserName": self._username, "Password": self._password},
        ), "POST /sessiontoken")
        self._temporary_token = first.get("TemporaryToken")
        positions = [int(item["Position"]) for item in first.get("MemorableWordList") or ()]
        if not self._temporary_token or not positions:
            raise AuthFailed("login answer lacks TemporaryToken or MemorableWordList",
                             system="kashflow", reason="unexpected_login_answer")
        try:
            answer = memorable_word_answer(self._memorable_word, positions)
        except ValueError as exc:
            raise AuthFailed(str(exc), system="kashflow",
                             reason="memorable_word_too_short") from exc
        second = self._object(self._request(
            "PUT", "/sessiontoken", retry_safe=True,
            body={"TemporaryToken": self._temporary_token, "MemorableWordList": answer},
        ), "PUT /sessiontoken")
        token = second.get("SessionToken")
        if not token:
            raise AuthFailed("login answer lacks SessionToken", system="kashflow",
                             reason="unexpected_login_answer")
        return str(token)

    def _pause(self, reason: str) -> None:
        self._paused_until = self._clock() + self._cooldown_s
        self._paused_reason = reason

    def _call(self, method: str, path: str, *, params: Params | None = None,
              body: Any = None) -> Any:
        """One authenticated call, with at most one fresh login on an expired token."""
        token = self._token or self._login(replacing=None)
        try:
            return self._request(method, path, params=params, body=body,
                                 auth=HeaderAuth("KfToken", token))
        except AuthFailed as exc:
            if exc.reason not in RELOGIN_REASONS:
                raise
        # Repeating the call, even a POST, is safe: a 401 means KashFlow refused the request
        # at the door and did not process it, so the retry cannot write anything twice.
        token = self._login(replacing=token)
        try:
            return self._request(method, path, params=params, body=body,
                                 auth=HeaderAuth("KfToken", token))
        except AuthFailed as exc:
            with self._lock:
                self._pause(exc.reason)  # a brand-new token refused: credentials need a human
            raise

    def _list(self, path: str, params: dict[str, str | int] | None = None, *,
              paged: bool = True) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following ``NextPageUrl`` or counting pages."""
        base = dict(params or {})
        query: Params | None = {**base, "page": 1, "perpage": PER_PAGE} if paged else base
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        page, current = 1, path
        while True:
            batch, next_url, total = _list_page(self._call("GET", current, params=query))
            items.extend(batch)
            if not paged or not batch:
                return items
            if next_url:
                current, query = self._relative(next_url), None
                if current in seen:
                    return items  # a server repeating itself: stop rather than loop
                seen.add(current)
            elif len(batch) >= PER_PAGE and (total is None or len(items) < total):
                page += 1
                current, query = path, {**base, "page": page, "perpage": PER_PAGE}
            else:
                return items

    def _relative(self, url: str) -> str:
        """``NextPageUrl`` (absolute, host-relative or base-relative) as a path under
        ``base_url``. Only path and query are kept: the token never goes to another host."""
        parts = urlsplit(url)
        path = parts.path
        base_path = urlsplit(self.base_url).path.rstrip("/")
        if not path.startswith("/"):
            path = "/" + path
        elif base_path and (path == base_path or path.startswith(base_path + "/")):
            path = path[len(base_path):]
        return path + (f"?{parts.query}" if parts.query else "")

    def _get_object(self, path: str) -> dict[str, Any]:
        return self._object(self._call("GET", path), f"GET {path}")

    def _write(self, method: str, path: str, body: Any) -> dict[str, Any]:
        return self._object(self._call(method, path, body=body), f"{method} {path}")

    # -- customers ------------------------------------------------------------------------

    def get_customer(self, code: str) -> dict[str, Any]:
        """``GET /customers/{code}``. Raises ``NotFound``."""
        return self._get_object(f"/customers/{_segment(code)}")

    def find_customers_by_email(self, email: str) -> list[dict[str, Any]]:
        """Customers whose ``Email`` or a contact's email is ``email`` (any case).

        **Assumed** route and parameter name: ``GET /customers/search?email=``.
        """
        return self._list("/customers/search", {"email": email})

    def create_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /customers``; returns the stored customer. A taken ``Code`` is ``Rejected``
        (``DuplicateCustomerCode``, assumed name); no answer is ``Ambiguous``."""
        return self._write("POST", "/customers", body)

    def update_customer(self, code: str, body: dict[str, Any]) -> Any:
        """``PUT /customers/{code}``; returns KashFlow's answer (may be empty)."""
        return self._call("PUT", f"/customers/{_segment(code)}", body=body)

    # -- invoices, credit notes, payments -------------------------------------------------

    def get_invoice(self, number: int) -> dict[str, Any]:
        """``GET /invoices/{number}`` with ``PaymentLines``. Raises ``NotFound``."""
        return self._get_object(f"/invoices/{_segment(number)}")

    def list_invoices(self, customer_code: str) -> list[dict[str, Any]]:
        """Summaries of every invoice of a customer (``GET /invoices?customerCode=``)."""
        return self._list("/invoices", {"customerCode": customer_code})

    def create_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /invoices``; returns the stored invoice (201). ``Rejected`` with reason
        ``DuplicateInvoiceNumber`` when the number is taken; ``Ambiguous`` without an answer."""
        return self._write("POST", "/invoices", body)

    def create_credit_note(self, body: dict[str, Any]) -> dict[str, Any]:
        """A credit note. **Assumed** form: ``POST /invoices`` whose lines all have a negative
        ``Quantity`` (``CustomerReference`` = ``"CM-" + increment_id`` is the caller's part).

        Raises:
            ValueError: a line with a positive or missing ``Quantity``.
        """
        for line in body.get("LineItems") or ():
            if not Decimal(str(line.get("Quantity", 0))) < 0:
                raise ValueError("credit note lines need a negative Quantity")
        return self._write("POST", "/invoices", body)

    def post_invoice_payment(self, *, date: str, account_id: int, method: int, comment: str,
                             items: Sequence[tuple[int, Decimal]]) -> Any:
        """``POST /invoices/bulk/payments``: one payment line per ``(invoice number, amount)``
        (negative on a credit note). ``Ambiguous`` without an answer: check ``PaymentLines``."""
        body = {"Date": date, "AccountId": account_id, "Method": method, "Comment": comment,
                "PaymentItems": [{"ObjectNumber": number, "Amount": amount}
                                 for number, amount in items]}
        return self._call("POST", "/invoices/bulk/payments", body=body)

    # -- products and reference lists -----------------------------------------------------

    def list_products(self) -> list[dict[str, Any]]:
        """Every product (``GET /products``, all pages)."""
        return self._list("/products")

    def get_product(self, nominal_code: int, code: str) -> dict[str, Any]:
        """``GET /products/{nominalCode}/{code}``. Raises ``NotFound``."""
        return self._get_object(f"/products/{_segment(nominal_code)}/{_segment(code)}")

    def create_product(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /products`` (``Code``, ``NominalCode``, ``Name``, ``Price``, ``VATRate``,
        ``ManageStockLevel``); returns the stored product. A code taken under that nominal is
        ``Rejected`` (``DuplicateProductCode``, assumed name); no answer is ``Ambiguous``."""
        return self._write("POST", "/products", body)

    def update_product(self, nominal_code: int, code: str, body: dict[str, Any]) -> Any:
        """``PUT /products/{nominalCode}/{code}`` (``QuantityInStock`` writable: assumed)."""
        return self._call("PUT", f"/products/{_segment(nominal_code)}/{_segment(code)}",
                          body=body)

    def vat_rates(self) -> list[dict[str, Any]]:
        """``GET /vat/settings/vatrates``: ``[{"VATId", "VATRate", "VATText"}]``."""
        return self._list("/vat/settings/vatrates", paged=False)

    def bank_accounts(self) -> list[dict[str, Any]]:
        """``GET /bankaccounts``: ``[{"Id", "Code", "AccountName", "IsDefaultAccount"}]``."""
        return self._list("/bankaccounts", paged=False)

    def invoice_payment_methods(self) -> list[dict[str, Any]]:
        """``GET /paymentmethods/invoice``: ``[{"Id", "Name"}]`` (assumed shape)."""
        return self._list("/paymentmethods/invoice", paged=False)
