"""Alerts reach a real HTTP receiver once per burst, with a count for the rest."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import redis

from core.settings import Settings
from workers import alerts, context


class Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_a_burst_of_dead_letters_is_one_message_then_one_summary(
        receiver: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.load({"KFSYNC_REDIS_URL": redis_url,
                              "KFSYNC_ALERT_WEBHOOK_URL": receiver}, env_file=None)
    monkeypatch.setattr(context, "settings", lambda: settings)
    for n in range(12):
        alerts.alert("dead_letter", f"dead letter {n}")
    alerts.alert("needs_review", "order 7 needs review")
    assert [m["text"] for m in Receiver.received] == [
        "kfsync: dead letter 0", "kfsync: order 7 needs review"]
    assert alerts.flush(redis_url, receiver) == 1
    assert Receiver.received[-1]["text"].startswith("kfsync: 11 more dead letters")
    assert alerts.flush(redis_url, receiver) == 0  # nothing held back any more
    assert redis.Redis.from_url(redis_url).exists("kfsync:alert:window:dead_letter")


def test_an_unreachable_alert_webhook_never_breaks_the_work(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.load({"KFSYNC_REDIS_URL": redis_url,
                              "KFSYNC_ALERT_WEBHOOK_URL": "http://127.0.0.1:1/hook"},
                             env_file=None)
    monkeypatch.setattr(context, "settings", lambda: settings)
    alerts.alert("circuit_open", "KashFlow refused our credentials")  # must not raise
