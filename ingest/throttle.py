"""Failed logins and bearer attempts, counted per client and per account on the shared Redis
(the ``limits`` library's moving window, the engine under Flask-Limiter).

Only failures count, so an operator who types well is never slowed. When a limit is reached,
further attempts get 429 until the window has moved on, even with the right secret. If Redis
does not answer, attempts are let through (and that is logged): the rest of kfsync is down
then too, and locking every operator out would not help.
"""

from __future__ import annotations

import logging

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)
LOGIN_PER_CLIENT = parse("5/minute")  # a person mistypes once or twice, not five times
LOGIN_PER_ACCOUNT = parse("10/minute")  # many clients guessing one account's password
BEARER_PER_CLIENT = parse("60/minute")  # scripts with a stale token; 32 random bytes resist


class Throttle:
    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._limiter: MovingWindowRateLimiter | None = None

    def _get(self) -> MovingWindowRateLimiter:
        if self._limiter is None:
            storage = storage_from_string(self._url, socket_timeout=1, socket_connect_timeout=1)
            self._limiter = MovingWindowRateLimiter(storage)
        return self._limiter

    def blocked(self, checks: list[tuple[RateLimitItem, str]]) -> bool:
        """True when any ``(limit, key)`` has no failure left in its window."""
        try:
            return any(not self._get().test(limit, "kfsync-auth", key) for limit, key in checks)
        except Exception as exc:  # Redis down: let the attempt be judged on its secret
            log.warning("auth throttle unavailable (%s); not throttling", type(exc).__name__)
            return False

    def failed(self, checks: list[tuple[RateLimitItem, str]]) -> None:
        """Count one failed attempt against every ``(limit, key)``."""
        try:
            for limit, key in checks:
                self._get().hit(limit, "kfsync-auth", key)
        except Exception as exc:
            log.warning("auth throttle unavailable (%s); failure not counted",
                        type(exc).__name__)
