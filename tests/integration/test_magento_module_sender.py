"""Cross-language: the Magento module's PHP consumer posts to a real ``kfsync web``.

The module's own classes (EventFactory, OutboxProcessor, Sender, StreamTransport) run under
``php``; kfsync runs as ``kfsync web`` (gunicorn) on loopback. A signed envelope is answered
202 and stored; the same envelope altered after signing is answered 401 and not stored.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from store.db import session_scope
from store.models import InboundEvent
from tests.integration.web_server import WebServer, web_server
from tests.php import SEND_EVENT, tool

pytestmark = pytest.mark.integration
__all__ = ["web_server"]  # the fixture, imported for this module's tests
SECRET = "module-secret"


@pytest.fixture(scope="module")
def web_server_env() -> dict[str, str]:
    return {"KFSYNC_WEBHOOK_SECRETS": f"other,{SECRET}"}  # the module's secret second: rotation


def send(url: str, entity_id: int, *flags: str) -> dict[str, Any]:
    php = tool("php")
    result = subprocess.run([php, str(SEND_EVENT), url, SECRET, str(entity_id), *flags],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def stored(db_url: str) -> list[InboundEvent]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(InboundEvent).order_by(InboundEvent.id)))


def test_the_php_consumer_delivers_a_signed_envelope_kfsync_stores(
        web_server: WebServer) -> None:
    url, db_url = web_server.base, web_server.db_url
    before = len(stored(db_url))
    answer = send(url, 7001)
    assert (answer["status"], answer["outcome"]) == (202, "delivered"), answer
    event = stored(db_url)[-1]
    assert len(stored(db_url)) == before + 1
    assert (event.source, event.event_id, event.topic) == ("magento", answer["event_id"],
                                                           "order.created")
    assert (event.resource_key, event.increment_id) == ("7001", "000007001")
    # Recorded in the outbox (whole seconds), then committed by kfsync: never before.
    occurred = datetime.fromisoformat(event.payload["occurred_at"].replace("Z", "+00:00"))
    received = event.received_at.replace(tzinfo=UTC) if event.received_at.tzinfo is None \
        else event.received_at
    assert received >= occurred


def test_a_body_altered_after_signing_is_refused_and_kept_for_retry(
        web_server: WebServer) -> None:
    url, db_url = web_server.base, web_server.db_url
    before = len(stored(db_url))
    answer = send(url, 7002, "--tamper")
    assert answer["status"] == 401, answer
    assert answer["outcome"] == "retry"  # the module keeps it: a secret mix-up is fixable
    assert len(stored(db_url)) == before
