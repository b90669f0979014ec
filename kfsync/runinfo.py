"""What a foreground ``kfsync run`` is serving, for the people and commands that need it.

``kfsync run`` prints one short block (``banner``) once its services answer, prints it again
when it stops, and keeps it in ``var/run.json`` while it runs, so ``kfsync status`` and
``kfsync send-test-order`` find the dashboard without anyone copying URLs around. The file
never holds a secret: the ops token is shown only when it is the sandbox's public value.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RUN_FILE = Path("var/run.json")
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"  # noqa: S105 - public, sandbox-only value
SANDBOX_OPS_TOKEN = "sandbox-ops-token"  # noqa: S105 - public, sandbox-only value


@dataclass(frozen=True)
class RunInfo:
    pid: int
    dashboard: str                 # http://127.0.0.1:8000/
    flower: str                    # http://127.0.0.1:5555/
    sandbox: bool = False          # the sandbox's fixed credentials and tokens are in use
    magento: str = ""              # the sandbox's Magento REST base (sandbox runs)
    kashflow: str = ""             # the sandbox's KashFlow REST base (sandbox runs)
    ops_token_set: bool = True     # KFSYNC_OPS_TOKEN has a value (else nobody can log in)
    database_url: str = ""         # the sandbox run's own database (sandbox runs)
    redis_url: str = ""            # the sandbox run's own Redis (sandbox runs)


def write(info: RunInfo, path: Path = RUN_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(info), indent=2))


def clear(path: Path = RUN_FILE) -> None:
    path.unlink(missing_ok=True)


def read(path: Path = RUN_FILE) -> RunInfo | None:
    """The running ``kfsync run``'s info; None when none runs (no file, or its process is
    gone: a run killed with SIGKILL leaves its file behind)."""
    try:
        data = json.loads(path.read_text())
        info = RunInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
    return info if _alive(info.pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def url_lines(info: RunInfo) -> list[str]:
    """The addresses, one per line (``kfsync status`` prints these)."""
    if info.sandbox:
        login = f"log in with the sandbox ops token: {SANDBOX_OPS_TOKEN}"
    elif info.ops_token_set:
        login = "log in with your KFSYNC_OPS_TOKEN"
    else:
        login = "log in as a kfsync user (kfsync users add), or set KFSYNC_OPS_TOKEN"
    lines = [f"dashboard   {info.dashboard}   ({login})", f"flower      {info.flower}"]
    if info.sandbox:
        lines.append(f"sandbox     Magento {info.magento}   KashFlow {info.kashflow}")
    return lines


def banner(info: RunInfo, *, stopping: bool = False) -> str:
    """The block ``kfsync run`` prints once everything answers (and again as it stops)."""
    rule = "-" * 78
    head = ("kfsync stopped; it was serving:" if stopping else
            "kfsync is running" + (" against the sandbox (fake Magento and KashFlow)"
                                   if info.sandbox else ""))
    body = [f"  {line}" for line in url_lines(info)]
    if not stopping:
        if info.sandbox:
            body.append("  test order  kfsync send-test-order   (in another terminal; "
                        "docs: README, 'Run it yourself')")
        body.append("  Ctrl-C stops every service; `kfsync status` shows this again.")
    return "\n".join([rule, head, *body, rule])
