"""The first hour: ``send-test-order`` (try the sandbox), ``connect`` (point kfsync at a real
shop) and ``compose-env`` (a ``.env`` for Docker Compose)."""

from __future__ import annotations

from typing import Any

import click

from kfsync.cli import fail, load_settings


@click.command("send-test-order")
@click.option("--web", help="kfsync's address (default: the running `kfsync run --sandbox`)")
@click.option("--magento-control", help="the Magento sandbox's /_sandbox address")
@click.option("--wait", "wait_s", default=30.0, show_default=True, type=click.FloatRange(0, 600),
              help="seconds to follow the order to KashFlow (0: do not wait)")
def send_test_order(web: str | None, magento_control: str | None, wait_s: float) -> None:
    """Place an order in the Magento sandbox, send its signed webhook, follow it to KashFlow."""
    from kfsync import runinfo, testorder
    from kfsync.runinfo import SANDBOX_OPS_TOKEN, SANDBOX_WEBHOOK_SECRET

    running = runinfo.read()
    settings = load_settings()
    if running is not None and not running.sandbox and not (web and magento_control):
        fail("the running kfsync is connected to a real shop; send-test-order only writes "
             "into the sandbox (start `kfsync run --sandbox`)")
    sandboxed = running is not None and running.sandbox
    target = testorder.Target(
        web=(web or (running.dashboard if running else "http://127.0.0.1:8000")).rstrip("/"),
        magento_control=(magento_control or testorder.control_url(
            running.magento if sandboxed and running else settings.magento_base_url)),
        secret=SANDBOX_WEBHOOK_SECRET if sandboxed or not settings.webhook_secrets
        else settings.webhook_secrets[0],
        ops_token=SANDBOX_OPS_TOKEN if sandboxed or not settings.ops_token
        else settings.ops_token,
    )
    try:
        order = testorder.place_order(target)
        ref = str(order["increment_id"])
        status = testorder.announce(target, order)
        click.echo(f"order {ref} placed in the Magento sandbox; webhook {status}")
        if wait_s > 0:
            job = testorder.follow(target, ref, wait_s)
            click.echo(testorder.describe(job, ref, target.web))
    except testorder.TestOrderFailed as exc:
        fail(str(exc))


COMMANDS: list[Any] = [send_test_order]
