"""``kfsync`` commands run in the test's own process, through the console entry point
(``kfsync.cli.main``: its one-line errors and exit codes), with the environment's ``KFSYNC_*``
variables exactly those of ``env`` and ``stdin`` as the command's standard input.

Starting ``python -m kfsync`` costs a second or more of imports per call; the ``pairs``,
``users`` and ``summary`` commands, which neither queue tasks nor start services, are run here
instead. ``tests/unit/kfsync/test_cli.py`` keeps running the real ``python -m kfsync``, and
commands that queue tasks on the broker or start services stay in subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from click.testing import CliRunner

from kfsync.cli import main


def kfsync(*args: str, env: Mapping[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``kfsync ARGS`` as a user's shell runs it: its exit code, stdout and stderr."""
    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("KFSYNC_")}
    overrides.update({k: v for k, v in env.items() if k.startswith("KFSYNC_")})
    with CliRunner().isolation(input=stdin, env=overrides) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        finally:  # what the command wrote to sys.stdout itself, not through click.echo
            sys.stdout.flush()
            sys.stderr.flush()
    return subprocess.CompletedProcess(["kfsync", *args], code, out.getvalue().decode(),
                                       err.getvalue().decode())
