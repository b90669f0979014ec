"""Long-running services: web, worker, beat, flower, sandbox, run."""

from __future__ import annotations

import os
from typing import Any

import click

from kfsync.cli import ALL_QUEUES, fail, load_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=3, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes")
def web(host: str, port: int, workers: int) -> None:
    """Webhook ingest, health and metrics (gunicorn)."""
    settings = load_settings("webhook_secrets", purpose="kfsync web", service=True)
    from celeryconfig import routine_task_names
    from core import logs
    from kfsync.gunicorn import serve

    logs.configure(settings.env, secrets=settings.secret_values(),  # JSON lines in qa/prod
                   routine_tasks=routine_task_names())

    serve(settings, host=host, port=port, workers=workers)


@click.command()
@click.option("-Q", "--queues", default=ALL_QUEUES, show_default=True,
              help="comma-separated queues to consume")
@click.option("-c", "--concurrency", type=click.IntRange(1, 64),
              help="worker processes (default: cores + 1, celeryconfig.worker_concurrency)")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(queues: str, concurrency: int | None, loglevel: str) -> None:
    """A Celery worker (default: every kfsync queue)."""
    settings = load_settings("magento_auth", "kashflow_username", "kashflow_password",
                             "kashflow_memorable_word", purpose="kfsync worker", service=True)
    check_mapping(settings.mapping_file)
    from workers.app import configure

    unknown = {q for q in set(queues.split(",")) - set(ALL_QUEUES.split(","))
               if not _is_pair_queue(q)}
    if unknown:
        raise click.BadParameter(f"unknown queue(s): {', '.join(sorted(unknown))}",
                                 param_hint="-Q")
    processes = ["-c", str(concurrency)] if concurrency else []
    queues = with_pair_queues(settings, queues)
    configure(settings).worker_main(["worker", "-Q", queues, *processes, "--loglevel", loglevel,
                                     "-n", f"kfsync-{os.getpid()}@%h"])


def _is_pair_queue(queue: str) -> bool:
    from core.pairs import NAME

    return queue.startswith("ingest.") and bool(NAME.match(queue[len("ingest."):]))


def with_pair_queues(settings: Any, queues: str) -> str:
    """``queues``, plus each stored pair's ingest queue when ``ingest`` is among them (a
    pair's events have a queue of their own: docs/pairs.md)."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.pairs import ingest_queue
    from services import pairs

    names = queues.split(",")
    if "ingest" not in names:
        return queues
    try:
        extra = [ingest_queue(view.name) for view in pairs.views(settings)[1:]]
    except SQLAlchemyError:  # no tables yet (migrate runs first): the queues given
        return queues
    return ",".join(names + [q for q in extra if q not in names])


def check_mapping(path: str | None) -> None:
    """Refuse to start on a bad mapping file: one line naming the file and the key."""
    from mappings.errors import MappingError
    from mappings.rules import load_rules

    try:
        load_rules(path)
    except MappingError as exc:
        fail(f"mapping rules: {' '.join(str(exc).split())}")


@click.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """The scheduler (one per deployment)."""
    settings = load_settings(purpose="kfsync beat", service=True)
    from workers.app import configure

    # LockedScheduler: a Redis lock makes a second beat a standby, never a duplicate.
    configure(settings).start(["beat", "--loglevel", loglevel,
                               "--scheduler", "workers.beat:LockedScheduler"])


@click.command()
@click.option("--port", default=5555, show_default=True, type=click.IntRange(1, 65535))
@click.option("--address", default="127.0.0.1", show_default=True)
@click.option("--loglevel", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def flower(port: int, address: str, loglevel: str) -> None:
    """Flower, the Celery monitor (basic auth from KFSYNC_FLOWER_BASIC_AUTH)."""
    settings = load_settings(purpose="kfsync flower", service=True)
    from kfsync.flower import show_every_queue
    from workers.app import configure

    show_every_queue()  # dead_letter too, though no worker consumes it
    # Prometheus metrics are on by default at /metrics (behind the same basic auth).
    argv = ["flower", f"--port={port}", f"--address={address}", f"--logging={loglevel.lower()}"]
    if settings.flower_basic_auth:
        argv.append(f"--basic-auth={settings.flower_basic_auth}")
    configure(settings).start(argv)


@click.command()
@click.option("--magento-port", default=8081, show_default=True, type=click.IntRange(0, 65535))
@click.option("--kashflow-port", default=8082, show_default=True, type=click.IntRange(0, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
def sandbox(magento_port: int, kashflow_port: int, host: str) -> None:
    """Fake Magento and KashFlow REST servers (demo, tests, benchmarks)."""
    load_settings(purpose="kfsync sandbox", service=True)  # never in prod
    from sandbox.server import serve_forever

    serve_forever(host, magento_port, kashflow_port)


@click.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--flower-port", default=5555, show_default=True, type=click.IntRange(1, 65535))
@click.option("-c", "--concurrency", type=click.IntRange(1, 64),
              help="worker processes (default: cores + 1, celeryconfig.worker_concurrency)")
@click.option("--sandbox", "with_sandbox", is_flag=True,
              help="also start the fake Magento and KashFlow, everything preconfigured")
@click.option("--magento-port", default=8081, show_default=True, type=click.IntRange(1, 65535),
              help="the Magento sandbox's port (with --sandbox)")
@click.option("--kashflow-port", default=8082, show_default=True, type=click.IntRange(1, 65535),
              help="the KashFlow sandbox's port (with --sandbox)")
def run(port: int, flower_port: int, concurrency: int | None, with_sandbox: bool,
        magento_port: int, kashflow_port: int) -> None:
    """Web, worker, beat and flower in the foreground; embedded Redis if none answers."""
    from kfsync.foreground import PortBusy, run_sandbox, run_services

    try:
        if with_sandbox:
            load_settings(purpose="kfsync run --sandbox", service=True)  # never in prod
            run_sandbox(port=port, flower_port=flower_port, concurrency=concurrency,
                        magento_port=magento_port, kashflow_port=kashflow_port)
            return
        settings = load_settings(purpose="kfsync run", service=True)
        missing = settings.missing("webhook_secrets", "magento_auth", "kashflow_username",
                                   "kashflow_password", "kashflow_memorable_word")
        if missing:
            fail(f"kfsync run needs {', '.join(missing)} to be set (`kfsync connect` writes "
                 "them to .env; `kfsync run --sandbox` needs none)")
        if not settings.ops_token and not _has_active_user(settings.database_url):
            click.echo("kfsync: warning: nobody can log in to the dashboard or the ops API: "
                       "add a user (kfsync users add NAME --role admin) or set "
                       "KFSYNC_OPS_TOKEN in .env", err=True)
        run_services(port=port, flower_port=flower_port, concurrency=concurrency)
    except PortBusy as exc:
        fail(str(exc))


def _has_active_user(database_url: str) -> bool:
    """True when a named user can log in (a database not migrated yet has none)."""
    from store.accounts import list_users

    try:
        return any(user.disabled_at is None for user, _ in list_users(database_url))
    except Exception:  # no tables yet: `kfsync run` migrates, and nobody exists then
        return False


COMMANDS: list[Any] = [web, worker, beat, flower, sandbox, run]
