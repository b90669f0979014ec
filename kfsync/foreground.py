"""``kfsync run`` and ``kfsync run --sandbox``: every service in the foreground, one block of
addresses once they answer, prefixed log lines, and the same block again when they stop.

``--sandbox`` needs no configuration at all: it starts the fake Magento and KashFlow servers
and gives every service the sandbox's public credentials, a sandbox-only webhook secret and
ops token, its own SQLite database and its own embedded Redis under ``var/sandbox/`` (reset
at each start, like the sandbox's in-memory data), so nothing in ``.env`` or the machine's
Redis is read or written.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import sandbox
from core.settings import Settings
from kfsync import runinfo
from kfsync.runinfo import SANDBOX_OPS_TOKEN, SANDBOX_WEBHOOK_SECRET, RunInfo
from kfsync.supervisor import Supervisor

SANDBOX_DIR = Path("var/sandbox")


class PortBusy(Exception):
    """A port kfsync needs is taken; the message names it and the option that moves it."""


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``port`` now. SO_REUSEADDR as the servers set it, so
    a port still in TIME_WAIT from a previous run counts as free (it is, for them)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def require_ports(ports: dict[str, int]) -> None:
    """Raise PortBusy naming the first busy port of ``{"--port": 8000, ...}``."""
    for option, port in ports.items():
        if not port_free(port):
            raise PortBusy(f"port {port} is in use (another kfsync, or another program); "
                           f"choose another with {option}")


def sandbox_env(magento_url: str, kashflow_url: str, state_dir: Path) -> dict[str, str]:
    """Every setting a service needs to work against the sandbox; blanks hide whatever
    ``.env`` says about a real shop (a blank value counts as unset)."""
    return {
        "KFSYNC_ENV": "dev", "KFSYNC_DATABASE_URL": f"sqlite:///{state_dir / 'kfsync.db'}",
        "KFSYNC_MAGENTO_BASE_URL": magento_url, "KFSYNC_MAGENTO_TOKEN": sandbox.MAGENTO_TOKEN,
        **{f"KFSYNC_MAGENTO_OAUTH_{k}": "" for k in
           ("CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET")},
        "KFSYNC_KASHFLOW_BASE_URL": kashflow_url,
        "KFSYNC_KASHFLOW_USERNAME": sandbox.KASHFLOW_USERNAME,
        "KFSYNC_KASHFLOW_PASSWORD": sandbox.KASHFLOW_PASSWORD,
        "KFSYNC_KASHFLOW_MEMORABLE_WORD": sandbox.KASHFLOW_MEMORABLE_WORD,
        "KFSYNC_WEBHOOK_SECRETS": SANDBOX_WEBHOOK_SECRET, "KFSYNC_OPS_TOKEN": SANDBOX_OPS_TOKEN,
        # The sandbox has no rate limit; a real KashFlow account keeps the default (2/s).
        "KFSYNC_KASHFLOW_RATE": "50", "KFSYNC_KASHFLOW_BURST": "20",
        "KFSYNC_ALERT_WEBHOOK_URL": "", "KFSYNC_SENTRY_DSN": "", "KFSYNC_MAPPING_FILE": "",
    }


def sandbox_settings(info: RunInfo) -> Settings:
    """The settings a ``kfsync run --sandbox`` gave its services (``kfsync status``)."""
    env = sandbox_env(info.magento, info.kashflow, SANDBOX_DIR)
    return Settings.load({**os.environ, **env, "KFSYNC_DATABASE_URL": info.database_url,
                          "KFSYNC_REDIS_URL": info.redis_url})


def run_services(*, port: int, flower_port: int, concurrency: int | None) -> None:
    """``kfsync run``: the configured shop (settings from the environment and ``.env``)."""
    require_ports({"--port": port, "--flower-port": flower_port})
    with Supervisor() as sup:
        _serve(sup, port, flower_port, concurrency, sandbox_urls=None)


def run_sandbox(*, port: int, flower_port: int, concurrency: int | None,
                magento_port: int = 8081, kashflow_port: int = 8082) -> None:
    """``kfsync run --sandbox``: the sandbox servers, then every service against them."""
    from sandbox.server import SandboxServers

    require_ports({"--port": port, "--flower-port": flower_port,
                   "--magento-port": magento_port, "--kashflow-port": kashflow_port})
    shutil.rmtree(SANDBOX_DIR, ignore_errors=True)
    SANDBOX_DIR.mkdir(parents=True)
    servers = SandboxServers(magento_port=magento_port, kashflow_port=kashflow_port).start()
    try:
        env = sandbox_env(servers.magento_url, servers.kashflow_url, SANDBOX_DIR)
        with Supervisor(env, own_redis_dir=str(SANDBOX_DIR)) as sup:
            _serve(sup, port, flower_port, concurrency,
                   sandbox_urls=(servers.magento_url, servers.kashflow_url))
    finally:
        servers.stop()


def _serve(sup: Supervisor, port: int, flower_port: int, concurrency: int | None,
           sandbox_urls: tuple[str, str] | None) -> None:
    sup.start_all(port=port, flower_port=flower_port, concurrency=concurrency, flower=False)
    web = f"http://127.0.0.1:{port}"
    sup.wait_ready(web)
    sup.wait_worker()
    sup.start_flower(flower_port)
    magento, kashflow = sandbox_urls or ("", "")
    info = RunInfo(pid=os.getpid(), dashboard=f"{web}/", flower=f"http://127.0.0.1:{flower_port}/",
                   sandbox=sandbox_urls is not None, magento=magento, kashflow=kashflow,
                   ops_token_set=bool(sup.settings.ops_token),
                   database_url=sup.settings.database_url if sandbox_urls else "",
                   redis_url=sup.redis_url if sandbox_urls else "")
    runinfo.write(info)
    sup.say(runinfo.banner(info))
    try:
        sup.wait()
        sup.say("stopping every service...")
        sup.stop()
    finally:
        runinfo.clear()
    sup.say(runinfo.banner(info, stopping=True))
