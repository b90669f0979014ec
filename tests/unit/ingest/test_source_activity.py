"""Which push sources delivered in the last hour: the overview page and the catch-up setting."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask import Flask

from core.settings import ConfigError, Settings
from store.db import session_scope
from store.models import InboundEvent, utcnow
from tests.unit.ingest.ops_helpers import make_app
from tests.unit.ingest.test_dashboard import logged_in


def add_event(url: str, source: str, n: int, age: timedelta) -> datetime:
    """Store a webhook of ``source`` received ``age`` ago; returns when it was received."""
    received = utcnow() - age
    with session_scope(url) as s:
        s.add(InboundEvent(source=source, event_id=f"{source}-{n}", topic="order.created",
                           resource_type="order", resource_key=str(n), payload={},
                           received_at=received))
    return received


def test_the_overview_says_which_sources_pushed_and_which_stopped(db_url: str,
                                                                  redis_url: str) -> None:
    add_event(db_url, "magento", 1, timedelta(minutes=5))
    add_event(db_url, "magento", 2, timedelta(minutes=20))
    last_adobe = add_event(db_url, "adobe-io", 3, timedelta(hours=3))
    add_event(db_url, "poll", 4, timedelta(minutes=1))  # the fallback is not a push
    app: Flask = make_app(db_url, redis_url)
    page = logged_in(app).get("/").get_data(as_text=True)
    table = re.search(r'<table id="push-sources">(.*?)</table>', page, re.S)
    assert table is not None
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split())
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)]
    stopped = last_adobe.strftime("%Y-%m-%d %H:%M")  # not now - 3 h: a minute may turn
    assert rows == ["magento 2 event(s) in the last hour",
                    f"adobe-io no push events since {stopped} UTC",
                    "mageos-async no push events yet"]


def test_the_catch_up_interval_is_a_setting() -> None:
    assert Settings.load({}, env_file=None).catch_up_interval_s == 300
    assert Settings.load({"KFSYNC_CATCH_UP_INTERVAL_S": "60"},
                         env_file=None).catch_up_interval_s == 60
    try:
        Settings.load({"KFSYNC_CATCH_UP_INTERVAL_S": "soon"}, env_file=None)
    except ConfigError as exc:
        assert "KFSYNC_CATCH_UP_INTERVAL_S" in str(exc)
    else:
        raise AssertionError("a non-number interval was accepted")


def test_mageos_tokens_are_secrets_never_shown() -> None:
    settings = Settings.load({"KFSYNC_MAGEOS_TOKENS": "tok-a, tok-b"}, env_file=None)
    assert settings.mageos_tokens == ("tok-a", "tok-b")
    assert {"tok-a", "tok-b"} <= set(settings.secret_values())
    assert "tok-a" not in repr(settings)
