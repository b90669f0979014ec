"""``kfsync pairs``: integration pairs (one Magento store scope <-> one KashFlow company).

``add`` stores a pair (its secrets read from standard input as ``KEY=VALUE`` lines, or
prompted for, and encrypted with ``KFSYNC_PAIRS_KEY``), ``list``, ``show`` (never a secret
value: only which are set), ``disable`` / ``enable``, ``test`` (logs in to both sides and
says what answered), ``export`` / ``import`` (promotion of its rules between environments,
with a diff) and ``key`` (prints a new ``KFSYNC_PAIRS_KEY``). Pair ``default`` is the
``KFSYNC_*`` environment: it is listed and tested, never stored. See docs/pairs.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from core.pairs import PairError
from kfsync.cli import echo_json, fail, load_settings, make_console

T = TypeVar("T")
SECRET_PROMPTS = (("magento_token", "Magento integration token"),
                  ("kashflow_password", "KashFlow password"),
                  ("kashflow_memorable_word", "KashFlow memorable word"),
                  ("webhook_secrets", "Webhook secret(s), comma-separated"))


def _run(action: Callable[[], T], usage: bool = False) -> T:
    """``action()``; a PairError is one line (exit 2 when ``usage``: the input was wrong),
    a database error names the likely fix."""
    try:
        return action()
    except PairError as exc:
        if usage:
            raise click.UsageError(str(exc)) from None
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"database: {type(exc).__name__} (is it migrated? run: kfsync migrate)")


def pair_filter(settings: Any, name: str | None) -> str | None:
    """A ``--pair`` filter checked against the pairs there are (a misspelt name would
    otherwise list nothing, or requeue nothing): one line, exit 2, when it names none."""
    if not name:
        return None
    from services import pairs as stored

    return _run(lambda: stored.check_known(settings, name), usage=True)


def work_as_pair(name: str | None, *required: str, purpose: str = "") -> Any:
    """Settings for a command that works for pair ``name`` (``--pair``; None: ``default``),
    made the current pair for the rest of the process (``core.pairs``): the workers'
    clients, cursors, jobs and queue are then that pair's. Pair ``default`` needs the
    ``required`` settings of the environment; another pair has its own (``kfsync pairs
    add``). An unknown or disabled pair is one line, exit 2.
    """
    from core import pairs as scope
    from services import pairs as stored

    if not name or name == scope.DEFAULT:
        return load_settings(*required, purpose=purpose)
    settings = load_settings()
    _run(lambda: stored.check_known(settings, name), usage=True)
    pair = _run(lambda: stored.load(settings, name))
    if not pair.enabled:
        raise click.UsageError(f"pair {name} is disabled; enable it first: kfsync pairs enable "
                               f"{name}")
    scope.enter(name)
    return settings


@click.group()
def pairs() -> None:
    """Integration pairs: several shops and KashFlow companies in one deployment."""


def _key_values(items: tuple[str, ...], option: str) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"{option} {item!r} must look like KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _read_secrets(from_stdin: bool) -> dict[str, Any]:
    """The pair's secrets: ``KEY=VALUE`` lines on stdin, or prompted for (hidden)."""
    raw: dict[str, str] = {}
    if from_stdin:
        for line in sys.stdin.read().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, sep, value = line.partition("=")
                if not sep:
                    raise click.UsageError("--secrets-stdin: each line must be KEY=VALUE "
                                           f"(keys: {', '.join(k for k, _ in SECRET_PROMPTS)})")
                raw[key.strip()] = value.strip()
    else:
        for key, label in SECRET_PROMPTS:
            raw[key] = click.prompt(label, hide_input=True)
    secrets: dict[str, Any] = dict(raw)
    if "webhook_secrets" in raw:
        secrets["webhook_secrets"] = [s.strip() for s in raw["webhook_secrets"].split(",")
                                      if s.strip()]
    return secrets


@pairs.command("add")
@click.argument("name")
@click.option("--magento-url", required=True, help="the shop's REST base, e.g. https://b.example/rest")
@click.option("--kashflow-url", default="https://api.kashflow.com/v2", show_default=True)
@click.option("--kashflow-username", required=True)
@click.option("--store-id", "store_ids", type=int, multiple=True,
              help="a Magento store id this pair serves (repeat; none: every store)")
@click.option("--rate", type=float, help="KashFlow calls per second for this company")
@click.option("--burst", type=int, help="KashFlow bucket size for this company")
@click.option("--max-in-flight", type=int,
              help="at most this many of its orders in worker processes at once")
@click.option("--rule", "rules", multiple=True,
              help="a mapping key over the profile, KEY=VALUE (JSON values), e.g. "
                   "default_nominal_code=4100")
@click.option("--store-rule", "store_rules", multiple=True,
              help="per store: STORE_ID:KEY=VALUE, e.g. 2:shipping_nominal_code=4110 or "
                   "2:prefix=B")
@click.option("--secrets-stdin", is_flag=True,
              help="read magento_token=, kashflow_password=, kashflow_memorable_word=, "
                   "webhook_secrets= lines from standard input instead of prompting")
def pairs_add(name: str, magento_url: str, kashflow_url: str, kashflow_username: str,
              store_ids: tuple[int, ...], rate: float | None, burst: int | None,
              max_in_flight: int | None,
              rules: tuple[str, ...], store_rules: tuple[str, ...],
              secrets_stdin: bool) -> None:
    """Store pair NAME; its webhooks go to /webhooks/magento/NAME."""
    from services import pairs as stored

    config: dict[str, Any] = {
        "magento_base_url": magento_url, "kashflow_base_url": kashflow_url,
        "kashflow_username": kashflow_username, "store_ids": list(store_ids),
        "rules": _key_values(rules, "--rule"),
        "store_rules": _run(lambda: stored.store_rules_of(store_rules), usage=True)}
    config.update({k: v for k, v in (("kashflow_rate", rate), ("kashflow_burst", burst),
                                     ("max_in_flight", max_in_flight)) if v is not None})
    _run(lambda: stored.validate(name, config, {k: "x" for k, _ in SECRET_PROMPTS}),
         usage=True)
    secrets = _read_secrets(secrets_stdin)
    settings = load_settings()
    _run(lambda: stored.add(settings, name, config, secrets, "cli"), usage=True)
    click.echo(f"added pair {name}: webhooks to /webhooks/magento/{name}")
    _tell_workers(settings, name)


def _tell_workers(settings: Any, name: str) -> None:
    """Running workers start consuming the pair's ingest queue (new workers do at start)."""
    from core.pairs import ingest_queue
    from workers.app import configure

    try:
        configure(settings).control.add_consumer(ingest_queue(name), reply=False)
    except Exception:
        click.echo(f"kfsync: warning: the broker did not answer; restart the workers so they "
                   f"consume {ingest_queue(name)}", err=True)


SECRET_ENV = {key: f"KFSYNC_PAIR_{key.upper()}" for key, _ in SECRET_PROMPTS}


def _new_secrets(keys: tuple[str, ...], from_stdin: bool, from_env: bool) -> dict[str, Any]:
    """The secrets to replace: prompted for (hidden) by ``--secret KEY``, read as ``KEY=VALUE``
    lines from stdin, or taken from the ``KFSYNC_PAIR_*`` variables that are set."""
    import os

    if sum((bool(keys), from_stdin, from_env)) > 1:
        raise click.UsageError("give one of --secret, --secrets-stdin or --secrets-env")
    if from_stdin:
        return _read_secrets(True)
    if from_env:
        raw = {key: os.environ[var] for key, var in SECRET_ENV.items() if os.environ.get(var)}
        if not raw:
            raise click.UsageError(f"--secrets-env: none of {', '.join(SECRET_ENV.values())} "
                                   "is set")
    else:
        labels = dict(SECRET_PROMPTS)
        raw = {key: click.prompt(labels[key], hide_input=True) for key in keys}
    out: dict[str, Any] = dict(raw)
    if "webhook_secrets" in raw:
        out["webhook_secrets"] = [x.strip() for x in raw["webhook_secrets"].split(",")
                                  if x.strip()]
    return out


@pairs.command("update")
@click.argument("name")
@click.option("--magento-url", help="the shop's REST base, e.g. https://b.example/rest")
@click.option("--kashflow-url")
@click.option("--kashflow-username")
@click.option("--store-id", "store_ids", type=int, multiple=True,
              help="the Magento store ids it serves (repeat; replaces the list)")
@click.option("--all-stores", is_flag=True, help="serve every store of its shop")
@click.option("--rate", type=float, help="KashFlow calls per second for this company")
@click.option("--burst", type=int, help="KashFlow bucket size for this company")
@click.option("--max-in-flight", type=int,
              help="at most this many of its orders in worker processes at once")
@click.option("--no-max-in-flight", is_flag=True, help="remove its in-flight cap")
@click.option("--secret", "secret_keys", multiple=True,
              type=click.Choice([k for k, _ in SECRET_PROMPTS]),
              help="prompt (hidden) for a new value of this secret (repeat)")
@click.option("--secrets-stdin", is_flag=True,
              help="read the secrets to replace as KEY=VALUE lines from standard input")
@click.option("--secrets-env", is_flag=True,
              help="take the secrets to replace from " + ", ".join(SECRET_ENV.values())
                   + " (those set)")
def pairs_update(name: str, magento_url: str | None, kashflow_url: str | None,
                 kashflow_username: str | None, store_ids: tuple[int, ...], all_stores: bool,
                 rate: float | None, burst: int | None, max_in_flight: int | None,
                 no_max_in_flight: bool, secret_keys: tuple[str, ...], secrets_stdin: bool,
                 secrets_env: bool) -> None:
    """Change stored pair NAME's endpoints, KashFlow user, stores, rate, in-flight cap or
    secrets (re-entered, never shown); in force everywhere within 5 s, audited."""
    from services import pair_update

    if store_ids and all_stores:
        raise click.UsageError("give --store-id or --all-stores, not both")
    if max_in_flight is not None and no_max_in_flight:
        raise click.UsageError("give --max-in-flight or --no-max-in-flight, not both")
    config: dict[str, Any] = {k: v for k, v in (
        ("magento_base_url", magento_url), ("kashflow_base_url", kashflow_url),
        ("kashflow_username", kashflow_username), ("kashflow_rate", rate),
        ("kashflow_burst", burst), ("max_in_flight", max_in_flight)) if v is not None}
    if store_ids or all_stores:
        config["store_ids"] = list(store_ids) if store_ids else None
    if no_max_in_flight:
        config["max_in_flight"] = None
    settings = load_settings()
    if not (config or secret_keys or secrets_stdin or secrets_env):
        raise click.UsageError(f"pair {name}: nothing to change")
    # a wrong name or value is said before any secret is typed
    _run(lambda: pair_update.check(settings, name, config), usage=True)
    secrets = _new_secrets(secret_keys, secrets_stdin, secrets_env)
    changed = _run(lambda: pair_update.update(settings, name, config, secrets, "cli"),
                   usage=True)
    click.echo(f"pair {name}: updated {', '.join(changed)}" if changed else
               f"pair {name}: no change")


@pairs.command("list")
def pairs_list() -> None:
    """Every pair, default first (no secret is shown)."""
    from services import pairs as stored

    settings = load_settings()
    table = Table("pair", "state", "Magento", "KashFlow user", "stores", "version")
    for view in _run(lambda: stored.views(settings)):
        table.add_row(view.name, "enabled" if view.enabled else "disabled",
                      str(view.config.get("magento_base_url")),
                      str(view.config.get("kashflow_username") or "-"),
                      ", ".join(map(str, view.config.get("store_ids") or [])) or "all",
                      str(view.version))
    make_console().print(table)


@pairs.command("show")
@click.argument("name")
def pairs_show(name: str) -> None:
    """Pair NAME's settings and rules as JSON; secrets only by name ("secrets_set")."""
    from services import pairs as stored

    settings = load_settings()
    found = [v for v in _run(lambda: stored.views(settings)) if v.name == name]
    if not found:
        raise click.UsageError(f"no pair named {name} (see: kfsync pairs list)")
    view = found[0]
    echo_json({"name": view.name, "enabled": view.enabled, "version": view.version,
               "webhook_path": "/webhooks/magento" + ("" if name == "default" else f"/{name}"),
               "config": view.config, "secrets_set": list(view.secrets_set)})


def _set_enabled(name: str, enabled: bool) -> None:
    from services import pairs as stored

    settings = load_settings()
    _run(lambda: stored.set_enabled(settings, name, enabled, "cli"), usage=True)
    click.echo(f"pair {name} {'enabled' if enabled else 'disabled'}")
    if enabled:
        _tell_workers(settings, name)


@pairs.command("disable")
@click.argument("name")
def pairs_disable(name: str) -> None:
    """Refuse NAME's webhooks (404) and stop its polling; accepted work still finishes."""
    _set_enabled(name, False)


@pairs.command("enable")
@click.argument("name")
def pairs_enable(name: str) -> None:
    """Accept NAME's webhooks again."""
    _set_enabled(name, True)


@pairs.command("test")
@click.argument("name")
def pairs_test(name: str) -> None:
    """Log in to NAME's Magento and KashFlow and say what answered (exit 1 if either fails)."""
    from kfsync.commands.ops import _kashflow, _magento
    from services import pairs as stored

    settings = load_settings()
    pair = _run(lambda: stored.load(settings, name), usage=True)
    results = {"magento": _magento(pair.settings), "kashflow": _kashflow(pair.settings)}
    for side, outcome in results.items():
        click.echo(f"{name}: {side}: {outcome}")
    if any(outcome != "ok" for outcome in results.values()):
        fail(f"pair {name}: not every side answered")


@pairs.command("export")
@click.argument("name")
def pairs_export(name: str) -> None:
    """Print NAME's rules, per-store rules, stores and rate as YAML (no endpoint, no secret),
    to promote them to another environment."""
    from services.pair_promotion import export_document

    settings = load_settings()
    click.echo(_run(lambda: export_document(settings, name), usage=True), nl=False)


@pairs.command("import")
@click.argument("name")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--apply", "apply_", is_flag=True, help="store it (without: only the diff)")
def pairs_import(name: str, file: Any, apply_: bool) -> None:
    """Show what FILE (a `pairs export`) changes in pair NAME; --apply stores it (audited)."""
    from services.pair_promotion import import_document

    settings = load_settings()
    text = file.read()
    changes = _run(lambda: import_document(settings, name, text, "cli", apply_), usage=True)
    for change in changes:
        click.echo(str(change))
    if not changes:
        click.echo(f"pair {name}: no change")
    elif apply_:
        click.echo(f"pair {name}: {len(changes)} change(s) stored")
    else:
        click.echo(f"pair {name}: {len(changes)} change(s); run again with --apply to store")


@pairs.command("key")
def pairs_key() -> None:
    """Print a new KFSYNC_PAIRS_KEY (keep it like a password; losing it loses the secrets)."""
    from services import pairs as stored

    click.echo(stored.new_key())


COMMANDS = [pairs]
