"""Settings: every ``KFSYNC_*`` variable, read once into one frozen, typed object.

Values come from the process environment, then from ``.env`` in the working directory (the
environment wins). ``Settings.load()`` parses and validates types; ``Settings.require()``
checks the values a particular command needs, so ``kfsync web`` without a webhook secret fails
at start with one line naming the variable, not later with a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values

ENVIRONMENTS = ("dev", "qa", "prod")
MIN_PROD_SECRET = 32  # characters; `openssl rand -hex 32` gives 64
SANDBOX_MAGENTO_URL = "http://127.0.0.1:8081/rest"
SANDBOX_KASHFLOW_URL = "http://127.0.0.1:8082/v2"


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


@dataclass(frozen=True)
class MagentoOAuth:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str


@dataclass(frozen=True, repr=False)
class Settings:
    env: str = "dev"
    database_url: str = "sqlite:///var/kfsync.db"
    redis_url: str = "redis://127.0.0.1:6379/0"
    magento_base_url: str = SANDBOX_MAGENTO_URL
    magento_token: str | None = field(default=None, repr=False)
    magento_oauth: MagentoOAuth | None = field(default=None, repr=False)
    kashflow_base_url: str = SANDBOX_KASHFLOW_URL
    kashflow_username: str | None = None
    kashflow_password: str | None = field(default=None, repr=False)
    kashflow_memorable_word: str | None = field(default=None, repr=False)
    kashflow_rate: float = 2.0
    kashflow_burst: int = 5
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    ops_token: str | None = field(default=None, repr=False)
    flower_basic_auth: str | None = field(default=None, repr=False)
    sentry_dsn: str | None = field(default=None, repr=False)
    alert_webhook_url: str | None = field(default=None, repr=False)
    mapping_file: str | None = None
    http_timeout_s: float = 30.0
    max_retries: int = 8
    semantic_suggestions: bool = False  # kfsync[semantic]: embeddings rank SKU suggestions
    catch_up_interval_s: float = 300.0  # the catch-up poll: the guarantee behind every push
    adobe_client_id: str | None = None  # Adobe I/O Events: our recipient_client_id
    adobe_key_host: str = "https://static.adobeioevents.com"  # the only host keys come from
    mageos_tokens: tuple[str, ...] = field(default=(), repr=False)  # Mage-OS verification
    # Browser pages the dashboard links to (not the REST APIs, which a browser cannot open).
    magento_admin_url: str | None = None     # default: the shop's /admin
    kashflow_invoice_url: str | None = None  # a template with {number}
    # Payment reconciliation on beat: daily at this UTC time ("HH:MM", or "off"), over the
    # last reconcile_days days (so a day a stopped beat missed is still covered).
    reconcile_at: str = "02:30"
    reconcile_days: int = 2
    # Settlement journals (docs/settlements.md): the bank account payouts reach (a KashFlow
    # bank account Id; default the default account), the fees and suspense nominals.
    settlement_bank_account: int | None = None
    settlement_fees_nominal: int = 7900
    settlement_suspense_nominal: int = 9998
    # Fernet key encrypting the credentials of integration pairs at rest (services.pairs);
    # unset: only pair `default` (these variables) exists.
    pairs_key: str | None = field(default=None, repr=False)
    # At most this many of pair default's orders in worker processes at once (unset: no cap);
    # other pairs set theirs with `kfsync pairs add --max-in-flight` (services.inflight).
    max_in_flight: int | None = None

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None,
             env_file: str | None = ".env") -> Settings:
        """Read settings from ``environ`` (default ``os.environ``) over ``env_file``.

        Raises:
            ConfigError: a value has the wrong type or is out of range.
        """
        merged: dict[str, str] = {}
        if env_file and Path(env_file).is_file():
            merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        merged.update(os.environ if environ is None else environ)
        raw = {k[len("KFSYNC_"):].lower(): v for k, v in merged.items() if k.startswith("KFSYNC_")}
        return cls._from_raw({k: v.strip() for k, v in raw.items() if v.strip() != ""})

    @classmethod
    def _from_raw(cls, raw: dict[str, str]) -> Settings:
        env = raw.get("env", "dev")
        if env not in ENVIRONMENTS:
            raise ConfigError(f"KFSYNC_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
        oauth_keys = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
        oauth_vals = [raw.get(f"magento_oauth_{k}") for k in oauth_keys]
        oauth = None
        if any(oauth_vals):
            missing = [k for k, v in zip(oauth_keys, oauth_vals, strict=True) if not v]
            if missing:
                names = ", ".join(f"KFSYNC_MAGENTO_OAUTH_{k.upper()}" for k in missing)
                raise ConfigError(f"Magento OAuth needs all four credentials; missing {names}")
            oauth = MagentoOAuth(*[str(v) for v in oauth_vals])
        secrets = tuple(s.strip() for s in raw.get("webhook_secrets", "").split(",") if s.strip())
        tokens = tuple(s.strip() for s in raw.get("mageos_tokens", "").split(",") if s.strip())
        known = {f.name for f in fields(cls)} - {"magento_oauth", "webhook_secrets", "env",
                                                  "mageos_tokens"}
        kwargs: dict[str, object] = {k: v for k, v in raw.items() if k in known}
        for name, kind in (("kashflow_rate", float), ("http_timeout_s", float),
                           ("kashflow_burst", int), ("max_retries", int),
                           ("catch_up_interval_s", float), ("reconcile_days", int),
                           ("settlement_bank_account", int), ("settlement_fees_nominal", int),
                           ("settlement_suspense_nominal", int), ("max_in_flight", int)):
            if name in kwargs:
                kwargs[name] = _number(name, str(kwargs[name]), kind)
        for name in ("magento_base_url", "kashflow_base_url", "adobe_key_host",
                     "magento_admin_url"):
            if name in kwargs:
                kwargs[name] = str(kwargs[name]).rstrip("/")
        if "reconcile_at" in kwargs:
            kwargs["reconcile_at"] = reconcile_time(str(kwargs["reconcile_at"]))
        if "semantic_suggestions" in kwargs:
            kwargs["semantic_suggestions"] = _flag("semantic_suggestions",
                                                   str(kwargs["semantic_suggestions"]))
        return cls(env=env, magento_oauth=oauth, webhook_secrets=secrets, mageos_tokens=tokens,
                   **kwargs)  # type: ignore[arg-type]

    def require(self, *names: str, purpose: str) -> None:
        """Raise ConfigError naming every one of ``names`` that is unset (all at once, so a
        first run needs one try, not one per variable).

        A name ``magento_auth`` means "a bearer token or the four OAuth credentials".
        """
        missing = self.missing(*names)
        if missing:
            raise ConfigError(f"{purpose} needs {', '.join(missing)} to be set")

    def missing(self, *names: str) -> list[str]:
        """The variables of ``names`` that are unset, as ``KFSYNC_...`` names."""
        out: list[str] = []
        for name in names:
            if name == "magento_auth":
                if not (self.magento_token or self.magento_oauth):
                    out.append("KFSYNC_MAGENTO_TOKEN (or the four KFSYNC_MAGENTO_OAUTH_* "
                               "values)")
            elif not getattr(self, name):
                out.append(f"KFSYNC_{name.upper()}")
        return out

    def __repr__(self) -> str:
        """Like the dataclass's, without secrets: those fields are left out, and the
        passwords inside the database and Redis URLs are masked."""
        shown = []
        for f in fields(self):
            if f.repr:
                value = getattr(self, f.name)
                text = _mask_url(value) if f.name.endswith("_url") else repr(value)
                shown.append(f"{f.name}={text}")
        return f"Settings({', '.join(shown)})"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def check_environment(self, purpose: str) -> None:
        """Refuse what ``KFSYNC_ENV=prod`` must never run with (one-line ConfigError).

        In prod, the web, worker and run commands need a webhook secret and a non-SQLite
        database; Flower needs basic auth; every secret kfsync's operator chooses (webhook
        secrets, ops token, Flower password) has at least ``MIN_PROD_SECRET`` characters; the
        sandbox and the demo never start. The ops token is optional (named users replace it).
        dev and qa are not checked here (``require`` still applies per command).
        """
        if self.env != "prod":
            return
        where = f"KFSYNC_ENV=prod: {purpose}"
        if purpose in ("kfsync sandbox", "kfsync demo", "kfsync run --sandbox"):
            raise ConfigError(f"{where} never runs in production (fake APIs)")
        if purpose == "kfsync flower":
            if not self.flower_basic_auth:
                raise ConfigError(f"{where} needs KFSYNC_FLOWER_BASIC_AUTH to be set")
            self._check_secret_lengths(where)
            return
        if not self.webhook_secrets:
            raise ConfigError(f"{where} needs KFSYNC_WEBHOOK_SECRETS to be set")
        if self.is_sqlite:
            raise ConfigError(f"{where} needs a PostgreSQL KFSYNC_DATABASE_URL, not SQLite")
        self._check_secret_lengths(where)

    def _check_secret_lengths(self, where: str) -> None:
        """The secrets kfsync's operator chooses must be long enough not to be guessed."""
        chosen = [("KFSYNC_WEBHOOK_SECRETS", s) for s in self.webhook_secrets]
        chosen.append(("KFSYNC_OPS_TOKEN", self.ops_token or ""))
        if self.flower_basic_auth and ":" in self.flower_basic_auth:
            chosen.append(("KFSYNC_FLOWER_BASIC_AUTH", self.flower_basic_auth.split(":", 1)[1]))
        for name, value in chosen:
            if value and len(value) < MIN_PROD_SECRET:
                raise ConfigError(f"{where} needs each secret in {name} to be at least "
                                  f"{MIN_PROD_SECRET} characters (try: openssl rand -hex 32)")

    def secret_values(self) -> list[str]:
        """Every configured secret value (for scrubbing logs, error reports and pages)."""
        values: list[str | None] = [
            self.magento_token, self.kashflow_password, self.kashflow_memorable_word,
            self.ops_token, self.flower_basic_auth, self.sentry_dsn, *self.webhook_secrets,
            *self.mageos_tokens, self.pairs_key,
            getattr(self, "alert_webhook_url", None),
        ]
        if self.magento_oauth:
            o = self.magento_oauth
            values += [o.consumer_key, o.consumer_secret, o.access_token, o.access_token_secret]
        if self.flower_basic_auth and ":" in self.flower_basic_auth:
            values.append(self.flower_basic_auth.split(":", 1)[1])
        redis_password = _url_password(self.redis_url)
        passwords = {make_url_password(self.database_url), redis_password,
                     unquote(redis_password or "")}
        return [v for v in {*values, *passwords} if v]


def make_url_password(url: str) -> str | None:
    """The password inside a database URL, if any."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password
    except Exception:
        return None


def _url_password(url: str) -> str | None:
    """The password inside any URL (``redis://:pw@host/0``), if any."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (quoted, as repr would)."""
    password = _url_password(url)
    if password:
        url = url.replace(f":{password}@", ":***@")
    return repr(url)


def reconcile_time(value: str) -> str:
    """``KFSYNC_RECONCILE_AT`` checked: ``"HH:MM"`` (UTC, 24-hour) or ``"off"``.

    Raises:
        ConfigError: anything else.
    """
    text = value.strip().lower()
    if text == "off":
        return text
    hour, sep, minute = text.partition(":")
    if sep and hour.isdigit() and minute.isdigit() and len(minute) == 2 and (
            int(hour) < 24 and int(minute) < 60):
        return f"{int(hour):02d}:{minute}"
    raise ConfigError(f"KFSYNC_RECONCILE_AT must be HH:MM (UTC) or off, got {value!r}")


def _flag(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"KFSYNC_{name.upper()} must be true or false (1/0), got {value!r}")


def _number(name: str, value: str, kind: type[float] | type[int]) -> float | int:
    try:
        number = kind(value)
    except ValueError:
        raise ConfigError(f"KFSYNC_{name.upper()} must be a number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"KFSYNC_{name.upper()} must be positive, got {value!r}")
    return number
