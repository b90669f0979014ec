"""Finding Debian's php-cli and phpunit for the Magento module's tests.

Missing tools skip those tests on a developer's machine, and fail them where
``KFSYNC_TEST_REQUIRE_PHP=1`` (``.ci/run`` sets it and installs the packages).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[1] / "magento" / "module-kfsync"
SEND_EVENT = MODULE / "Test" / "Integration" / "send_event.php"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        problem = f"{name} not found (Debian: apt-get install php-cli phpunit)"
        if os.environ.get("KFSYNC_TEST_REQUIRE_PHP"):
            pytest.fail(problem)
        pytest.skip(problem)
    return path
