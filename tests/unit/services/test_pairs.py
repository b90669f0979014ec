"""services.pairs and core.pairs: the default pair is the environment unchanged; stored pairs
keep their secrets encrypted; per-store rules; jobs and links kept apart per pair."""

from __future__ import annotations

from typing import Any

import pytest
import simplejson
from sqlalchemy import select, text

from core import pairs as scope
from core.pairs import PairError
from core.settings import Settings
from ingest import create_app
from ingest.signing import signed_headers
from services import pairs
from store import jobs, links
from store.db import session_scope
from store.models import InboundEvent, Step, SyncJob

OLD_ENV = {  # a single-shop .env as it was before pairs: no new variable
    "KFSYNC_MAGENTO_BASE_URL": "http://127.0.0.1:1/rest", "KFSYNC_MAGENTO_TOKEN": "tok",
    "KFSYNC_KASHFLOW_USERNAME": "user", "KFSYNC_KASHFLOW_PASSWORD": "pw-secret-1",
    "KFSYNC_KASHFLOW_MEMORABLE_WORD": "word-secret", "KFSYNC_WEBHOOK_SECRETS": "hook-secret",
}
CONFIG = {"magento_base_url": "https://b.example/rest",
          "kashflow_base_url": "https://api.kashflow.com/v2", "kashflow_username": "bee",
          "store_ids": [2, 3], "kashflow_rate": 1.5,
          "store_rules": {"2": {"default_nominal_code": 4010, "prefix": "B"}}}
SECRETS = {"magento_token": "b-token-value", "kashflow_password": "b-password-value",
           "kashflow_memorable_word": "b-memorable", "webhook_secrets": ["b-hook-secret"]}


def settings_for(db_url: str, redis_url: str, **extra: str) -> Settings:
    return Settings.load({**OLD_ENV, "KFSYNC_DATABASE_URL": db_url,
                          "KFSYNC_REDIS_URL": redis_url, **extra}, env_file=None)


def test_an_old_single_shop_env_is_pair_default_and_its_webhooks_work_unchanged(
        db_url: str, redis_url: str) -> None:
    settings = settings_for(db_url, redis_url)
    assert settings.pairs_key is None
    assert pairs.names(settings) == ["default"]
    assert pairs.load(settings, "default").settings is settings
    assert not pairs.any_stored(settings)
    assert scope.current() == "default" and scope.scoped_key("kfsync:x") == "kfsync:x"
    body = simplejson.dumps({"id": "evt-old", "topic": "order.created", "store_id": 7,
                             "occurred_at": "2026-11-24T10:00:03Z",
                             "resource": {"type": "order", "entity_id": 5}}).encode()
    reply = create_app(settings).test_client().post(
        "/webhooks/magento", data=body, headers=signed_headers("hook-secret", "evt-old", body))
    assert reply.status_code == 202, reply.get_data(as_text=True)
    with session_scope(db_url) as s:
        event = s.scalar(select(InboundEvent))
        assert event is not None and (event.pair, event.event_id) == ("default", "evt-old")


def test_a_stored_pair_is_encrypted_at_rest_and_never_shown(db_url: str,
                                                             redis_url: str) -> None:
    settings = settings_for(db_url, redis_url, KFSYNC_PAIRS_KEY=pairs.new_key())
    pairs.add(settings, "shopb", CONFIG, SECRETS, "test")
    with session_scope(db_url) as s:
        raw = str(s.execute(text("SELECT secrets FROM integration_pairs")).scalar_one())
    shown = repr(pairs.views(settings))
    for value in ("b-token-value", "b-password-value", "b-memorable", "b-hook-secret"):
        assert value not in raw and value not in shown
    loaded = pairs.load(settings, "shopb")
    assert loaded.settings.kashflow_password == "b-password-value"
    assert loaded.settings.webhook_secrets == ("b-hook-secret",)
    assert loaded.settings.kashflow_rate == 1.5 and loaded.settings.database_url == db_url
    assert "b-password-value" not in repr(loaded.settings)
    assert loaded.serves(2) and not loaded.serves(1)
    assert pairs.names(settings) == ["default", "shopb"]
    with pytest.raises(PairError, match="exists already"):
        pairs.add(settings, "shopb", CONFIG, SECRETS, "test")
    other_key = settings_for(db_url, redis_url, KFSYNC_PAIRS_KEY=pairs.new_key())
    pairs.forget_all()
    with pytest.raises(PairError, match="do not decrypt"):
        pairs.load(other_key, "shopb")
    with pytest.raises(PairError, match="KFSYNC_PAIRS_KEY must be set"):
        pairs.load(settings_for(db_url, redis_url), "shopb")
    pairs.set_enabled(settings, "shopb", False, "test")
    assert pairs.names(settings) == ["default"] and not pairs.load(settings, "shopb").enabled


@pytest.mark.parametrize(("name", "config", "secrets", "problem"), [
    ("Shop B", CONFIG, SECRETS, "must be 1-32 characters"),
    ("default", CONFIG, SECRETS, "is the KFSYNC_"),
    ("shopb", {**CONFIG, "colour": "red"}, SECRETS, "unknown key"),
    ("shopb", CONFIG, {**SECRETS, "kashflow_password": ""}, "missing kashflow_password"),
    ("shopb", {**CONFIG, "magento_base_url": "b.example"}, SECRETS, "http\\(s\\) URL"),
    ("shopb", {**CONFIG, "store_ids": ["two"]}, SECRETS, "whole numbers"),
    ("shopb", {**CONFIG, "store_rules": {"2": {"default_nominal_code": "x"}}}, SECRETS,
     "pair shopb: store 2: default_nominal_code"),
])
def test_a_bad_pair_is_refused_with_one_line(name: str, config: dict[str, Any],
                                             secrets: dict[str, Any], problem: str) -> None:
    with pytest.raises(PairError, match=problem) as caught:
        pairs.validate(name, config, secrets)
    assert "\n" not in str(caught.value)


def test_store_rules_apply_to_their_store_only() -> None:
    pair = pairs._as_pair("shopb", Settings(), CONFIG, SECRETS)
    base, by_store = pairs.pair_rules({"default_nominal_code": 4000}, pair)
    assert base is not None and base.default_nominal_code == 4000
    assert by_store["2"].default_nominal_code == 4010
    assert by_store["2"].stores["2"].prefix == "B"
    from dataclasses import replace
    rules = replace(base, by_store=by_store)
    assert rules.for_store(2).default_nominal_code == 4010
    assert rules.for_store(3) is rules and rules.for_store(None) is rules
    assert pairs.store_rules_of(["2:default_nominal_code=4010", "2:prefix=B"]) == {
        "2": {"default_nominal_code": 4010, "prefix": "B"}}
    with pytest.raises(PairError, match="STORE_ID:KEY=VALUE"):
        pairs.parse_store_rule("default_nominal_code=4010")


def test_the_same_magento_key_is_one_job_and_one_link_per_pair(db_url: str) -> None:
    def upsert() -> int:
        with session_scope(db_url) as s:
            done = jobs.upsert_job(s, "order", "42", Step.ENSURE_CUSTOMER, lambda job, new: new)
            assert done is not None
            job_id = done[0].id
            links.add_links(s, [("customer", "email:ann@example.com", f"C{scope.current()}")])
            return job_id

    first = upsert()
    assert upsert() == first  # the same pair: the same job
    with scope.scope("shopb"):
        other = upsert()
        with session_scope(db_url) as s:
            assert links.find_link_in(s, "customer", "email:ann@example.com") == "Cshopb"
        assert scope.scoped_key("kfsync:circuit:kashflow") == "kfsync:circuit:kashflow@shopb"
    assert other != first
    with session_scope(db_url) as s:
        assert links.find_link_in(s, "customer", "email:ann@example.com") == "Cdefault"
        assert sorted(s.scalars(select(SyncJob.pair))) == ["default", "shopb"]


def test_the_ops_api_lists_one_pairs_jobs(db_url: str, redis_url: str) -> None:
    for pair in ("default", "shopb"):
        with scope.scope(pair), session_scope(db_url) as s:
            jobs.upsert_job(s, "order", "42", Step.ENSURE_CUSTOMER, lambda job, new: new)
    settings = settings_for(db_url, redis_url, KFSYNC_OPS_TOKEN="ops-token-for-tests",
                            KFSYNC_PAIRS_KEY=pairs.new_key())
    pairs.add(settings, "shopb", CONFIG, SECRETS, "test")  # a pair filter names a pair
    client = create_app(settings).test_client()
    auth = {"Authorization": "Bearer ops-token-for-tests"}
    reply = client.get("/api/v1/jobs?pair=shopb", headers=auth)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body: dict[str, Any] = reply.get_json()
    assert [(j["pair"], j["magento_key"]) for j in body["items"]] == [("shopb", "42")]
    assert len(client.get("/api/v1/jobs", headers=auth).get_json()["items"]) == 2
