"""Fault injection shared by both sandboxes: a thread-safe rule registry plus Flask hooks.

A rule (``POST /_sandbox/faults``)::

    {"method": "POST", "path": "/invoices", "kind": "status", "status": 503, "count": 1}

``path`` is a prefix of the path after the API base, matched on whole segments ("/invoices"
matches "/invoices" and "/invoices/bulk/payments", not "/invoicesx"); omit it, or ``method``,
to match any. ``count`` is how many times the rule fires (default 1, ``null`` = forever);
``probability`` (default 1) makes it fire at random, for chaos runs. Kinds:

- ``status``: answer ``status`` (default 503) with an error body (or ``body``), and do nothing.
- ``drop``: close the TCP connection without a response, and do nothing.
- ``ambiguous``: perform the request (the write commits), then ``then`` = ``"status"``
  (answer ``status``, default 500), ``"drop"`` (close the connection) or ``"hang"`` (sleep
  ``seconds``, default 10, before answering so the client times out).
- ``latency``: add ``ms`` milliseconds (stacks with other rules and the global setting).

Global settings (``POST /_sandbox/settings``): ``latency_ms`` and ``rate_limit``
(``{"rate": R, "burst": B}`` token bucket, or ``null``): over the limit -> 429 with
``Retry-After`` (whole seconds, >= 1). Control endpoints are never faulted, limited or counted.
"""

from __future__ import annotations

import itertools
import random
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

from flask import Flask, Response, g, request

from sandbox.jsonhttp import is_number, json_response, path_template
from sandbox.traffic import CallLog, TokenBucket

KINDS = ("status", "drop", "ambiguous", "latency")
THEN = ("status", "drop", "hang")
DEFAULT_HANG_S = 10.0  # longer than any sane client timeout in tests (they use 1-5 s)


class RuleError(ValueError):
    """A fault rule or setting that cannot be used; the message says why."""


@dataclass
class FaultRule:
    id: int
    kind: str
    method: str | None = None
    path: str = ""
    count: int | None = 1
    status: int = 503
    then: str = "status"
    seconds: float = DEFAULT_HANG_S
    ms: int = 0
    probability: float = 1.0
    body: Any = None
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        prefix = self.path.rstrip("/")
        return not prefix or path == prefix or path.startswith(prefix + "/")

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def _number(raw: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    if raw.get(key) is None:
        return default
    value = raw[key]
    if not is_number(value) or not low <= value <= high:
        raise RuleError(f"{key} must be a number from {low} to {high}")
    return float(value)


def _parse_count(raw: dict[str, Any]) -> int | None:
    count = raw.get("count", 1)
    if count is None:
        return None
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise RuleError("count must be an integer >= 1, or null for forever")
    return count


def parse_rule(raw: Any, rule_id: int) -> FaultRule:
    """Validate one rule document. Raises ``RuleError``."""
    if not isinstance(raw, dict):
        raise RuleError("a fault rule is a JSON object")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise RuleError(f"kind must be one of {', '.join(KINDS)}")
    then = raw.get("then", "status")
    if then not in THEN:
        raise RuleError(f"then must be one of {', '.join(THEN)}")
    method, path = raw.get("method"), raw.get("path") or ""
    if (method is not None and not isinstance(method, str)) or not isinstance(path, str):
        raise RuleError("method and path must be strings")
    default_status = 500 if kind == "ambiguous" else 503
    if kind == "latency" and "ms" not in raw:
        raise RuleError("a latency rule needs ms")
    return FaultRule(
        id=rule_id, kind=kind, method=method.upper() if method else None, path=path,
        count=_parse_count(raw), status=int(_number(raw, "status", default_status, 400, 599)),
        then=then, seconds=_number(raw, "seconds", DEFAULT_HANG_S, 0, 3600),
        ms=int(_number(raw, "ms", 0, 0, 600_000)),
        probability=_number(raw, "probability", 1, 0, 1), body=raw.get("body"))


class FaultRegistry:
    """Rules, global settings and call counters for one sandbox server; thread-safe."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._random = random.Random(seed)
        self.calls = CallLog()
        self.reset()

    def reset(self) -> None:
        """No rules, no latency, no rate limit, zero counters."""
        with self._lock:
            self._rules: list[FaultRule] = []
            self.latency_ms = 0
            self._bucket: TokenBucket | None = None
        self.calls.reset()

    # -- rules -------------------------------------------------------------------------------
    def add(self, raw: Any) -> list[FaultRule]:
        """Add one rule or a list of rules (all validated before any is added)."""
        docs = raw if isinstance(raw, list) else [raw]
        with self._lock:
            rules = [parse_rule(doc, next(self._ids)) for doc in docs]
            self._rules.extend(rules)
        return rules

    def clear(self, rule_id: int | None = None) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if rule_id is not None and r.id != rule_id]

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.describe() for r in self._rules]

    def pick(self, method: str, path: str) -> tuple[int, FaultRule | None]:
        """Fire the rules for one call: (extra latency in ms, the first non-latency rule)."""
        extra_ms, chosen = 0, None
        with self._lock:
            for rule in list(self._rules):
                if rule.kind != "latency" and chosen is not None:
                    continue
                if not rule.matches(method, path) or self._random.random() >= rule.probability:
                    continue
                self._fire(rule)
                if rule.kind == "latency":
                    extra_ms += rule.ms
                else:
                    chosen = rule
        return self.latency_ms + extra_ms, chosen

    def _fire(self, rule: FaultRule) -> None:
        rule.fired += 1
        if rule.count is not None and rule.fired >= rule.count:
            self._rules.remove(rule)
        self.calls.fault_fired(rule.kind)

    # -- settings ----------------------------------------------------------------------------
    def take_token(self) -> int | None:
        """``None`` when the call may go ahead, else the ``Retry-After`` seconds."""
        with self._lock:
            return None if self._bucket is None else self._bucket.take()

    def update_settings(self, body: dict[str, Any]) -> None:
        """Apply ``latency_ms`` and ``rate_limit`` when present. Raises ``RuleError``."""
        latency = self.latency_ms
        if "latency_ms" in body:
            latency = int(_number(body, "latency_ms", 0, 0, 600_000))
        bucket, limit = self._bucket, body.get("rate_limit", ...)
        if limit is None:
            bucket = None
        elif limit is not ...:
            if not isinstance(limit, dict):
                raise RuleError('rate_limit is {"rate": R, "burst": B} or null')
            rate = _number(limit, "rate", 0, 0.001, 1_000_000)
            burst = int(_number(limit, "burst", max(1, int(rate)), 1, 1_000_000))
            bucket = TokenBucket(rate, burst)
        with self._lock:
            self.latency_ms, self._bucket = latency, bucket

    def settings(self) -> dict[str, Any]:
        with self._lock:
            bucket = self._bucket.describe() if self._bucket else None
            return {"latency_ms": self.latency_ms, "rate_limit": bucket}


# -- Flask hooks ------------------------------------------------------------------------------
ErrorBody = Callable[[int, str, str], Any]
"""(HTTP status, short error code, message) -> the server's own error body."""

ERROR_CODES = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
               503: "ServiceUnavailable", 504: "GatewayTimeout"}


class ConnectionDropped(ConnectionError):
    """A ``drop`` fault fired where there is no socket to close (Flask's test client).

    With ``app.testing = True`` the test client raises it; otherwise Flask answers 500.
    """


def install(app: Flask, registry: FaultRegistry, api_prefix: str, error_body: ErrorBody) -> None:
    """Count, rate-limit, delay and fault every call under ``api_prefix``.

    Call it before the app registers its own ``before_request`` hooks (auth), so faults act
    like the network and load balancer in front of the real service.
    """

    def before() -> Response | None:
        rel = _relative_path(api_prefix)
        if rel is None:
            return None
        g.sandbox_api = True
        wait = registry.take_token()
        if wait is not None:
            body = error_body(429, "TooManyRequests", f"Too many requests; retry in {wait} s.")
            return json_response(body, 429, {"Retry-After": str(wait)})
        delay_ms, rule = registry.pick(request.method, rel)
        if delay_ms:
            time.sleep(delay_ms / 1000)
        if rule is None:
            return None
        if rule.kind == "status":
            return _fault_response(rule, error_body)
        if rule.kind == "drop":
            _drop_connection(registry, api_prefix)
            return Response(status=502)  # never reaches the client: the socket is shut
        g.sandbox_ambiguous = rule
        return None

    def after(response: Response) -> Response:
        if not g.get("sandbox_api") or g.get("sandbox_recorded"):
            return response
        rule: FaultRule | None = g.pop("sandbox_ambiguous", None)
        if rule is not None and rule.then == "drop":
            _drop_connection(registry, api_prefix)
            return response
        if rule is not None and rule.then == "status":
            response = _fault_response(rule, error_body)
        _record(registry, api_prefix, str(response.status_code))
        if rule is not None and rule.then == "hang":
            time.sleep(rule.seconds)
        return response

    app.before_request(before)
    app.after_request(after)


def _relative_path(api_prefix: str) -> str | None:
    path = request.path
    if path == api_prefix or path.startswith(api_prefix + "/"):
        return path[len(api_prefix):] or "/"
    return None


def _record(registry: FaultRegistry, api_prefix: str, status: str) -> None:
    g.sandbox_recorded = True
    rule = request.url_rule.rule if request.url_rule is not None else None
    registry.calls.record(f"{request.method} {path_template(rule, api_prefix)}", status)


def _fault_response(rule: FaultRule, error_body: ErrorBody) -> Response:
    code = ERROR_CODES.get(rule.status, "Error")
    body = rule.body if rule.body is not None else error_body(
        rule.status, code, f"Injected fault: {rule.status} {code}.")
    return json_response(body, rule.status)


def _drop_connection(registry: FaultRegistry, api_prefix: str) -> None:
    """Shut the client's socket so it sees the connection close with no response at all.

    Shutting down (not closing) leaves the file descriptor to werkzeug, whose later write
    then fails with ``BrokenPipeError``, a "connection dropped" it ignores quietly.
    """
    _record(registry, api_prefix, "dropped")
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        raise ConnectionDropped("drop fault: no socket to close (test client)")
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
