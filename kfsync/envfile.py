"""``.env`` files kfsync writes for its user: the Compose sandbox's (``kfsync compose-env``)
and a real shop's (``kfsync connect``). Secrets are generated here, never defaulted."""

from __future__ import annotations

import secrets
from pathlib import Path

import sandbox

SANDBOX_NOTE = ("# Sandbox-only values: the fake Magento and KashFlow accept exactly these; they "
                "open nothing real.")


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def compose_env_text(*, sandbox: bool) -> str:
    """A ``.env`` for ``docker compose``: fresh webhook secret, ops token and Flower login;
    with ``sandbox``, the Compose ``sandbox`` service's addresses and credentials."""
    lines = ["# Written by `kfsync compose-env`" + (" --sandbox" if sandbox else "") + ".",
             "KFSYNC_ENV=dev" if sandbox else "KFSYNC_ENV=prod",
             f"KFSYNC_WEBHOOK_SECRETS={new_secret()}", f"KFSYNC_OPS_TOKEN={new_secret()}",
             f"KFSYNC_FLOWER_BASIC_AUTH=ops:{new_secret()}"]
    if sandbox:
        lines += [SANDBOX_NOTE, *sandbox_lines("http://sandbox:8081/rest",
                                               "http://sandbox:8082/v2")]
    else:
        lines += ["# Your shop: `kfsync connect` fills these in.",
                  "KFSYNC_MAGENTO_BASE_URL=", "KFSYNC_MAGENTO_TOKEN=",
                  "KFSYNC_KASHFLOW_BASE_URL=https://api.kashflow.com/v2",
                  "KFSYNC_KASHFLOW_USERNAME=", "KFSYNC_KASHFLOW_PASSWORD=",
                  "KFSYNC_KASHFLOW_MEMORABLE_WORD="]
    return "\n".join(lines) + "\n"


def sandbox_lines(magento_url: str, kashflow_url: str) -> list[str]:
    return [f"KFSYNC_MAGENTO_BASE_URL={magento_url}",
            f"KFSYNC_MAGENTO_TOKEN={sandbox.MAGENTO_TOKEN}",
            f"KFSYNC_KASHFLOW_BASE_URL={kashflow_url}",
            f"KFSYNC_KASHFLOW_USERNAME={sandbox.KASHFLOW_USERNAME}",
            f"KFSYNC_KASHFLOW_PASSWORD={sandbox.KASHFLOW_PASSWORD}",
            f"KFSYNC_KASHFLOW_MEMORABLE_WORD={sandbox.KASHFLOW_MEMORABLE_WORD}"]


def update_env_file(path: Path, values: dict[str, str]) -> None:
    """Set ``values`` in the ``.env`` at ``path`` (created if absent, mode 0600), keeping
    every other line as it was."""
    from dotenv import set_key

    if not path.exists():
        path.touch(mode=0o600)
    for key, value in values.items():
        set_key(str(path), key, value, quote_mode="never")
