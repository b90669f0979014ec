"""The one error tree every connector raises, decided in one place (``classify``).

::

    ConnectorError                 base: ``status``, ``reason``, ``body`` (trimmed), ``system``
    ├── Transient                  retry with backoff: timeout before send, connection refused,
    │   │                          5xx on a read, 429 (``retry_after`` seconds), KashFlow's
    │   │                          400 "-2146232060" database timeout
    │   └── Ambiguous              a write that may have landed: timeout/reset after the request
    │                              was sent, or a 5xx answer to a POST/PUT. Retry, but look the
    │                              record up first.
    ├── AuthFailed                 credentials rejected after one re-login, account locked:
    │                              pause the work, alert a human, never loop on login
    ├── Rejected                   business/validation 4xx: no retry, the job goes to review
    └── NotFound                   404: an answer, not a failure (callers decide)

Each class also derives from the app's error root (``core.errors``): ``Transient`` is a
``RetriableError``, ``Ambiguous`` an ``AmbiguousError``, ``AuthFailed``, ``Rejected`` and
``NotFound`` are ``FatalError``s (an ``AuthFailed`` also pauses KashFlow work). A bare
``ConnectorError`` is unclassified: retried, then dead-lettered.

``reason`` is a short machine string (``timeout``, ``http_503``, ``rate_limited``,
``InvalidSessionToken``, ``DuplicateInvoiceNumber``...) used in metrics and the attempt log.
Messages never contain credentials or tokens.
"""

from __future__ import annotations

from core.errors import AmbiguousError, FatalError, KfsyncError, RetriableError

BODY_LIMIT = 500  # characters of a response body kept on an error, enough to read the reason


class ConnectorError(KfsyncError):
    """Base of every connector failure."""

    outcome = "error"

    def __init__(
        self,
        message: str,
        *,
        system: str,
        reason: str,
        status: int | None = None,
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.system = system
        self.reason = reason
        self.status = status
        self.body = body[:BODY_LIMIT]

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{self.system}: {self.args[0]}{status}"


class Transient(ConnectorError, RetriableError):
    """Worth retrying later; ``retry_after`` is the server's requested wait in seconds."""

    outcome = "transient"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Ambiguous(Transient, AmbiguousError):
    """A write whose effect is unknown: look it up before writing again."""

    outcome = "ambiguous"


class AuthFailed(ConnectorError, FatalError):
    outcome = "auth"


class Rejected(ConnectorError, FatalError):
    outcome = "rejected"


class NotFound(ConnectorError, FatalError):
    outcome = "not_found"
