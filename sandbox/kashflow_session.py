"""KashFlow's two-step login, session tokens with an idle timeout, and account lock-out.

``POST /sessiontoken`` checks ``UserName``/``Password`` and asks for three random characters
of the memorable word; ``PUT /sessiontoken`` checks them (ignoring case) and issues the
``SessionToken``. A wrong password or wrong characters -> 400 ``InvalidCredentials``; after
``MAX_FAILURES`` failures in a row every login answers 401 ``AccountLocked`` until
``/_sandbox/reset``. A token unused for ``session_idle_timeout_s`` (default 3600) is dead.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sandbox import KASHFLOW_MEMORABLE_WORD, KASHFLOW_PASSWORD, KASHFLOW_USERNAME
from sandbox.jsonhttp import is_number
from sandbox.kashflow_docs import KashFlowError, field, rejected

MAX_FAILURES = 5
DEFAULT_IDLE_TIMEOUT_S = 3600.0  # KashFlow: 60 minutes without use
TEMPORARY_TOKEN_TTL_S = 300.0  # KashFlow says "x minutes" between the two steps
POSITIONS = 3


def _invalid_credentials(message: str) -> KashFlowError:
    return rejected("InvalidCredentials", message)


class Sessions:
    """Thread-safe login state for the one sandbox user."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._random = random.SystemRandom()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.idle_timeout_s = DEFAULT_IDLE_TIMEOUT_S
            self._failures = 0
            self._locked = False
            self._pending: dict[str, tuple[list[int], float]] = {}
            self._tokens: dict[str, float] = {}

    # -- login -----------------------------------------------------------------------------
    def begin(self, body: Any) -> dict[str, Any]:
        """Step 1: user name and password -> temporary token and the positions asked for."""
        user, password = field(body, "UserName"), field(body, "Password")
        with self._lock:
            self._check_unlocked()
            if not (isinstance(user, str) and user.strip().lower() == KASHFLOW_USERNAME
                    and password == KASHFLOW_PASSWORD):
                raise self._failed("The user name or password is incorrect.")
            positions = sorted(self._random.sample(
                range(1, len(KASHFLOW_MEMORABLE_WORD) + 1), POSITIONS))
            temporary = str(uuid.uuid4())
            self._pending[temporary] = (positions, self._clock() + TEMPORARY_TOKEN_TTL_S)
        return {"TemporaryToken": temporary,
                "MemorableWordList": [{"Position": p, "Value": ""} for p in positions],
                "HasTemporaryPassword": False, "IsAdmin": True, "PackageName": "Sandbox",
                "PartnerBrandingOptOut": False, "PartnerId": 0, "SubscriptionExpired": False}

    def complete(self, body: Any) -> dict[str, Any]:
        """Step 2: the characters at the asked positions -> a session token."""
        temporary, answers = field(body, "TemporaryToken"), field(body, "MemorableWordList")
        with self._lock:
            self._check_unlocked()
            pending = self._pending.pop(temporary, None) if isinstance(temporary, str) else None
            if pending is None or pending[1] < self._clock():
                raise _invalid_credentials("The temporary token is invalid or has expired.")
            if not self._characters_match(pending[0], answers):
                raise self._failed("The memorable word characters are incorrect.")
            self._failures = 0
            token = str(uuid.uuid4()).upper()
            self._tokens[token] = self._clock()
        return {"SessionToken": token, "CompanyName": "Sandbox Trading Ltd", "IsAdmin": True,
                "SubscriptionExpired": False, "PackageName": "Sandbox", "PartnerId": 0,
                "PartnerBrandingOptOut": False, "HasTemporaryPassword": False}

    @staticmethod
    def _characters_match(positions: list[int], answers: Any) -> bool:
        if not isinstance(answers, list):
            return False
        given = {field(a, "Position"): field(a, "Value") for a in answers}
        return set(given) == set(positions) and all(
            isinstance(given[p], str) and given[p].strip().lower()
            == KASHFLOW_MEMORABLE_WORD[p - 1].lower() for p in positions)

    def _check_unlocked(self) -> None:
        if self._locked:
            raise KashFlowError(401, "AccountLocked",
                                "User account is locked, please contact administrator.")

    def _failed(self, message: str) -> KashFlowError:
        self._failures += 1
        self._locked = self._failures >= MAX_FAILURES
        return _invalid_credentials(message)

    # -- tokens ------------------------------------------------------------------------------
    def touch(self, token: str) -> bool:
        """True (and the idle clock restarts) when ``token`` is a live session."""
        now = self._clock()
        with self._lock:
            last = self._tokens.get(token)
            if last is None:
                return False
            if now - last > self.idle_timeout_s:
                del self._tokens[token]
                return False
            self._tokens[token] = now
            return True

    def end(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    # -- control -----------------------------------------------------------------------------
    def apply_settings(self, body: dict[str, Any]) -> None:
        if "session_idle_timeout_s" in body:
            value = body["session_idle_timeout_s"]
            if not is_number(value) or value <= 0:
                raise ValueError("session_idle_timeout_s must be a positive number")
            with self._lock:
                self.idle_timeout_s = float(value)

    def settings(self) -> dict[str, Any]:
        return {"session_idle_timeout_s": self.idle_timeout_s}

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"failed_logins": self._failures, "locked": self._locked,
                    "active_sessions": len(self._tokens)}
