"""The JSON-over-HTTP base both clients share, and ``classify``: the one place a failure
becomes a ``connectors.errors`` exception.

Contract of ``JsonClient``:

- one ``requests.Session`` per client (pooled keep-alive connections, ``max_retries=0``: retries
  are the task layer's job), ``Accept``/``Content-Type: application/json``;
- every call has a ``(connect, read)`` timeout and never follows redirects;
- bodies are written with ``simplejson.dumps(use_decimal=True)`` and answers read with
  ``use_decimal=True``: money is ``Decimal`` both ways, never ``float``;
- any failure raises a ``ConnectorError`` subclass, decided by ``classify``:

  ==========================================  =====================  ========================
  failure                                     GET                    POST / PUT / DELETE
  ==========================================  =====================  ========================
  connect refused / connect timeout / DNS     Transient              Transient (never sent)
  read timeout, connection reset after send   Transient              Ambiguous
  429                                         Transient (wait)       Transient (wait)
  5xx                                         Transient ``http_5xx`` Ambiguous ``http_5xx``
  an API error name in ``Dialect.transient``  Transient (its reason) Transient (its reason)
  401 / 403                                   AuthFailed             AuthFailed
  404                                         NotFound               NotFound
  other 3xx / 4xx                             Rejected               Rejected
  2xx whose body is not JSON                  Transient ``bad_json`` Ambiguous ``bad_json``
  ==========================================  =====================  ========================

  ``reason`` is the API's error name when it gives one (KashFlow ``Error``), else ``http_<code>``
  or a short transport word. Messages and kept bodies pass through the client's scrubber, so no
  password or token text survives into an error.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol

import requests
import simplejson
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError

from connectors.errors import (
    Ambiguous,
    AuthFailed,
    ConnectorError,
    NotFound,
    Rejected,
    Transient,
)

CONNECT_TIMEOUT_S = 10.0  # a TCP/TLS handshake slower than this is not coming
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MIN_SECRET_LEN = 4  # shorter "secrets" would blank ordinary words out of messages
_CHAIN_DEPTH = 8

Params = Mapping[str, str | int] | Sequence[tuple[str, str]]
# on_call(system, method, path without query, HTTP status or None, seconds); must not raise
CallObserver = Callable[[str, str, str, int | None, float], None]
# (parsed error body) -> (API error name or None, readable message)
ErrorReader = Callable[[Any], tuple[str | None, str]]

_INVALID_REQUEST = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)
_AUTH_HEADER = re.compile(r"\b(KfToken|Bearer|OAuth)\s+[^\s\"',]+", re.IGNORECASE)
_SECRET_FIELD = re.compile(
    r"(\"[A-Za-z_]*(?:password|token|secret)[A-Za-z_]*\"\s*:\s*)\"[^\"]*\"", re.IGNORECASE
)


def read_generic_error(body: Any) -> tuple[str | None, str]:
    """Error name and message of a body that follows no known convention."""
    if isinstance(body, dict):
        message = body.get("message") or body.get("Message") or ""
        return None, str(message)
    return None, ""


@dataclass(frozen=True)
class Dialect:
    """What differs between APIs when reading a failure."""

    system: str
    read_error: ErrorReader = read_generic_error
    transient: Mapping[str, str] = field(default_factory=dict)  # API error name -> reason


def _ignore_call(system: str, method: str, path: str, status: int | None, seconds: float) -> None:
    """Default ``on_call`` observer: nothing."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (args, urllib3 ``reason``, ``__cause__``/``__context__``)."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo and len(seen) < _CHAIN_DEPTH:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(a for a in current.args if isinstance(a, BaseException))
        for attr in ("reason", "__cause__", "__context__"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)


def _never_sent(exc: BaseException) -> bool:
    """True when the failure happened while connecting, before any byte of the request left.

    urllib3's ``NewConnectionError`` (refused, DNS) subclasses ``ConnectTimeoutError``.
    """
    return any(isinstance(e, ConnectTimeoutError | ConnectionRefusedError) for e in _chain(exc))


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date; ``None`` when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def _loads_lenient(text: str) -> Any:
    try:
        return simplejson.loads(text, use_decimal=True) if text else None
    except simplejson.JSONDecodeError:
        return None


def classify(
    method: str,
    path: str,
    *,
    dialect: Dialect,
    exc: BaseException | None = None,
    response: requests.Response | None = None,
    scrub: Callable[[str], str] = lambda text: text,
    retry_safe: bool = False,
) -> ConnectorError:
    """Turn a transport exception or an unwanted HTTP answer into the error to raise.

    Args:
        method, path: the call (``path`` without host; only used in the message).
        dialect: how this API names its errors and which names are transient.
        exc: the exception caught (a ``requests`` error, or the JSON error of a 2xx body).
        response: the HTTP answer, when one arrived.
        scrub: removes secrets from any text kept on the error.
        retry_safe: the call may be repeated blindly even though it is a write (a login):
            never ``Ambiguous``.

    Returns:
        The exception; the caller raises it ``from exc``.
    """
    method = method.upper()
    write = method not in SAFE_METHODS and not retry_safe
    where = f"{method} {path.split('?', 1)[0]}"
    if response is None:
        if exc is None:
            raise ValueError("classify needs an exception or a response")
        return _classify_transport(where, exc, dialect.system, write, scrub)
    status = response.status_code
    text = scrub(response.text)
    name, message = dialect.read_error(_loads_lenient(text))
    message = scrub(message) or f"HTTP {status}"
    kw: dict[str, Any] = {"system": dialect.system, "status": status, "body": text}
    if exc is not None:  # a 2xx we cannot read: it may have been applied
        cls = Ambiguous if write else Transient
        return cls(f"{where}: unreadable JSON answer", reason="bad_json", **kw)
    if status == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        return Transient(f"{where}: rate limited", retry_after=wait, reason="rate_limited", **kw)
    if status >= 500:
        cls = Ambiguous if write else Transient
        return cls(f"{where}: {message}", reason=f"http_{status}", **kw)
    if name is not None and name in dialect.transient:
        return Transient(f"{where}: {message}", reason=dialect.transient[name], **kw)
    reason = name or f"http_{status}"
    if status in (401, 403):
        return AuthFailed(f"{where}: {message}", reason=reason, **kw)
    if status == 404:
        return NotFound(f"{where}: {message}", reason=reason, **kw)
    return Rejected(f"{where}: {message}", reason=reason, **kw)


def _classify_transport(
    where: str, exc: BaseException, system: str, write: bool, scrub: Callable[[str], str]
) -> ConnectorError:
    innermost = list(_chain(exc))[-1]
    detail = scrub(f"{type(innermost).__name__}: {innermost}")[:200]
    if isinstance(exc, _INVALID_REQUEST):
        return Rejected(f"{where}: invalid request ({detail})", system=system,
                        reason="invalid_request")
    if isinstance(exc, requests.ConnectTimeout) or _never_sent(exc):
        reason = "connect_timeout" if isinstance(exc, requests.ConnectTimeout) else "connect_error"
        return Transient(f"{where}: {reason} ({detail})", system=system, reason=reason)
    if isinstance(exc, requests.Timeout):
        reason = "read_timeout"
    elif isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        reason = "connection_reset"
    else:
        reason = "request_error"
    # The request left: a write may have been applied even though no answer came back.
    cls = Ambiguous if write else Transient
    return cls(f"{where}: {reason} ({detail})", system=system, reason=reason)


class HeaderAuth(requests.auth.AuthBase):
    """``Authorization: <scheme> <token>`` (``Bearer``, ``KfToken``)."""

    def __init__(self, scheme: str, token: str) -> None:
        self.scheme = scheme
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"{self.scheme} {self.token}"
        return r


class Limiter(Protocol):
    """A shared rate limit: ``acquire`` before each call (may sleep, or raise ``Transient``);
    ``pause`` everyone after a 429."""

    def acquire(self) -> float: ...

    def pause(self, seconds: float) -> float: ...


DEFAULT_429_PAUSE_S = 1.0  # a 429 without Retry-After still backs everyone off a little


class JsonClient:
    """Base of the API clients: one pooled session, timeouts, Decimal JSON, classified errors.

    Subclasses set ``dialect`` and may override ``_secrets``.
    """

    dialect: ClassVar[Dialect] = Dialect(system="http")

    def __init__(
        self, base_url: str, *, timeout: float = 30.0, on_call: CallObserver | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.timeout = (min(CONNECT_TIMEOUT_S, timeout), timeout)
        self.on_call: CallObserver = on_call or _ignore_call
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._adapter = adapter
        self.session.headers.update(
            {"Accept": "application/json", "Content-Type": "application/json"}
        )
        # The environment's proxy and CA-bundle settings, read once here rather than by
        # requests on every call (a measurable share of a worker's CPU per order).
        self.session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.session.verify = bundle
        self.session.trust_env = False

    def close(self) -> None:
        """Close pooled connections (after fork, or at shutdown)."""
        self.session.close()

    def _secrets(self) -> Sequence[str | None]:
        """Values that must never appear in an error (passwords, tokens)."""
        return ()

    def _scrub(self, text: str) -> str:
        for secret in self._secrets():
            if secret and len(secret) >= MIN_SECRET_LEN:
                text = text.replace(secret, "***")
        text = _AUTH_HEADER.sub(r"\1 ***", text)
        return _SECRET_FIELD.sub(r'\1"***"', text)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        auth: requests.auth.AuthBase | None = None,
        retry_safe: bool = False,
    ) -> Any:
        """Send one call to ``base_url + path`` and return the parsed JSON (``None`` if empty).

        Raises:
            ConnectorError: any failure, as ``classify`` decides.
        """
        data = None if body is None else simplejson.dumps(body, use_decimal=True)
        if self.limiter is not None:
            self.limiter.acquire()
        started = time.monotonic()
        response: requests.Response | None = None
        try:
            response = self._send(method, path, params, data, auth or self.session.auth)
        except requests.RequestException as exc:
            raise self._classify(method, path, exc=exc, retry_safe=retry_safe) from exc
        finally:
            status = None if response is None else response.status_code
            self.on_call(self.dialect.system, method, path.split("?", 1)[0], status,
                         time.monotonic() - started)
        if not 200 <= response.status_code < 300:
            error = self._classify(method, path, response=response, retry_safe=retry_safe)
            if response.status_code == 429 and self.limiter is not None:
                self.limiter.pause(getattr(error, "retry_after", None) or DEFAULT_429_PAUSE_S)
            raise error
        if not response.content.strip():
            return None
        try:
            return simplejson.loads(response.content, use_decimal=True)
        except simplejson.JSONDecodeError as exc:
            raise self._classify(
                method, path, exc=exc, response=response, retry_safe=retry_safe
            ) from exc

    def _send(self, method: str, path: str, params: Params | None, data: str | None,
              auth: Any) -> requests.Response:
        """The call through the session's adapter, with the body read (as
        ``Session.request`` with ``allow_redirects=False`` does it, without what a client
        that never redirects and keeps no cookies does not need: merging the session's
        settings into every request and the cookie jar's bookkeeping cost more CPU than the
        rest of the call, bench/NOTES.md)."""
        request = requests.PreparedRequest()
        request.prepare_method(method)
        request.prepare_url(self.base_url + path, params)
        request.prepare_headers(self.session.headers)
        request.prepare_body(data, None)
        request.prepare_auth(auth)
        request.hooks = {"response": []}
        verify = True if self.session.verify is None else self.session.verify
        response = self._adapter.send(request, timeout=self.timeout, verify=verify,
                                      proxies=self.session.proxies, cert=self.session.cert)
        response.content  # noqa: B018 - read it now: the connection goes back to the pool
        return response

    def _classify(
        self,
        method: str,
        path: str,
        *,
        exc: BaseException | None = None,
        response: requests.Response | None = None,
        retry_safe: bool = False,
    ) -> ConnectorError:
        return classify(method, path, dialect=self.dialect, exc=exc, response=response,
                        scrub=self._scrub, retry_safe=retry_safe)

    def _object(self, data: Any, what: str) -> dict[str, Any]:
        """``data`` when it is a JSON object, else ``Rejected`` (the API changed shape)."""
        if isinstance(data, dict):
            return data
        raise Rejected(f"{what}: expected a JSON object, got {type(data).__name__}",
                       system=self.dialect.system, reason="unexpected_response")
