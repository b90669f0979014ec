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

    running = runinfo.read()
    if running is not None and not running.sandbox and not (web and magento_control):
        fail("the running kfsync is connected to a real shop; send-test-order only writes "
             "into the sandbox (start `kfsync run --sandbox`)")
    target = testorder.target_for(running, load_settings(), web, magento_control)
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


PROMPTS = (  # option, prompt, hidden
    ("magento_url", "Magento REST address (e.g. https://shop.example/rest)", False),
    ("magento_token", "Magento integration access token", True),
    ("kashflow_username", "KashFlow user name", False),
    ("kashflow_password", "KashFlow password", True),
    ("kashflow_memorable_word", "KashFlow memorable word (the whole word)", True),
)


@click.command()
@click.option("--magento-url", help="Magento's REST base, e.g. https://shop.example/rest")
@click.option("--magento-token", help="integration access token (bearer)")
@click.option("--kashflow-url", default="https://api.kashflow.com/v2", show_default=True)
@click.option("--kashflow-username")
@click.option("--kashflow-password")
@click.option("--kashflow-memorable-word")
@click.option("--env-file", default=".env", show_default=True, type=click.Path(dir_okay=False),
              help="where the settings that work are kept")
@click.option("--no-input", is_flag=True, help="never prompt: every value comes from options")
def connect(magento_url: str | None, magento_token: str | None, kashflow_url: str,
            kashflow_username: str | None, kashflow_password: str | None,
            kashflow_memorable_word: str | None, env_file: str, no_input: bool) -> None:
    """Connect your shop: test Magento and KashFlow, keep what works in .env, say what is left."""
    from pathlib import Path

    values = {"magento_url": magento_url, "magento_token": magento_token,
              "kashflow_username": kashflow_username, "kashflow_password": kashflow_password,
              "kashflow_memorable_word": kashflow_memorable_word}
    for name, text, hidden in PROMPTS:
        if not values[name] and not no_input:
            values[name] = click.prompt(text, hide_input=hidden, err=True).strip()
    absent = [f"--{k.replace('_', '-')}" for k, v in values.items() if not v]
    if absent:
        raise click.UsageError(f"missing {', '.join(absent)}")
    from kfsync.connect_flow import run_connect

    if run_connect(values, kashflow_url.rstrip("/"), Path(env_file)):
        fail("a connection failed (see FAILED above); nothing of it was saved")


@click.command("compose-env")
@click.option("--sandbox", "for_sandbox", is_flag=True,
              help="point every service at the Compose `sandbox` service, with its credentials")
def compose_env(for_sandbox: bool) -> None:
    """Print a .env for Docker Compose: fresh secrets (and the sandbox's settings)."""
    from kfsync.envfile import compose_env_text

    click.echo(compose_env_text(sandbox=for_sandbox), nl=False)


COMMANDS: list[Any] = [send_test_order, connect, compose_env]
