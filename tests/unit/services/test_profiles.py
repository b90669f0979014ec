"""Profile versions in the store: seed, draft, publish, rollback, YAML promotion, audit.

On SQLite and PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mappings.errors import MappingError
from mappings.rules import Rules
from services import profiles, studio
from store.db import session_scope
from store.mapping_models import CatalogueItem
from store.models import AuditEntry


def set_nominal(code: int) -> Any:
    def edit(doc: dict[str, Any]) -> str:
        doc["default_nominal_code"] = code
        return f"default nominal {code}"
    return edit


def audit_actions(url: str) -> list[str]:
    with session_scope(url) as s:
        return [a.action for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_versions_are_immutable_and_rollback_is_a_new_version(db_url: str) -> None:
    assert profiles.seed(db_url, None) == 1
    assert profiles.seed(db_url, None) == 1  # idempotent
    assert profiles.active(db_url).rules == Rules()

    profiles.edit_draft(db_url, "alice", set_nominal(4010))
    assert profiles.active(db_url).id == 1  # a draft is not in force
    v2 = studio.publish(db_url, "alice", "sales to 4010")
    assert (v2.id, v2.parent_id, v2.author, v2.comment) == (2, 1, "alice", "sales to 4010")
    assert [c["path"] for c in v2.changes] == ["default_nominal_code"]
    assert profiles.draft(db_url) is None

    v3 = profiles.rollback(db_url, 1, "bob")
    assert (v3.id, v3.rollback_of, v3.source) == (3, 1, "rollback")
    assert profiles.active(db_url).rules == Rules()
    assert profiles.get_version(db_url, 2).rules.default_nominal_code == 4010  # unchanged
    with pytest.raises(profiles.ProfileError, match="already in force"):
        profiles.rollback(db_url, 1, "bob")
    assert audit_actions(db_url) == ["mapping-edit", "mapping-publish",
                                     "mapping-rollback"]


def test_publishing_needs_a_real_change_and_no_errors(db_url: str) -> None:
    profiles.seed(db_url, None)
    with pytest.raises(profiles.ProfileError, match="no draft"):
        studio.publish(db_url, "alice", "nothing")
    profiles.edit_draft(db_url, "alice", set_nominal(4000))
    with pytest.raises(profiles.ProfileError, match="nothing to publish"):
        studio.publish(db_url, "alice", "same")

    # A catalogue is known: a SKU pointing at a product KashFlow lacks blocks the publish.
    with session_scope(db_url) as s:
        s.add(CatalogueItem(kind="product", key="4000/MUG", name="Enamel Mug",
                            data={"Code": "MUG", "NominalCode": 4000}))
        s.add(CatalogueItem(kind="vat_rate", key="1", name="20%", data={"VATRate": "20"}))

    def map_sku(doc: dict[str, Any]) -> str:
        doc["skus"] = {"MUG": {"nominal_code": 4000, "product_code": "MUG"},
                       "BOWL": {"nominal_code": 4000, "product_code": "BOWL"}}
        doc["vat_levels"] = {"20": 20}
        return "two SKUs"

    profiles.edit_draft(db_url, "alice", map_sku)
    with pytest.raises(profiles.ProfileError, match=r"skus\.BOWL\.product_code: broken"):
        studio.publish(db_url, "alice", "refused")
    assert profiles.active(db_url).id == 1


def test_a_bad_draft_is_refused_with_the_key_and_nothing_is_stored(db_url: str) -> None:
    profiles.seed(db_url, None)
    doc = profiles.working_document(db_url)
    doc["skus"] = {"MUG": {"nominal_code": "four thousand"}}
    with pytest.raises(MappingError, match=r"skus\.MUG\.nominal_code: Not a valid integer"):
        profiles.save_draft(db_url, doc, "alice")
    assert profiles.draft(db_url) is None


def test_yaml_export_imports_elsewhere_as_a_draft_with_its_diff(db_url: str,
                                                                  tmp_path: Path) -> None:
    profiles.seed(db_url, None)
    profiles.edit_draft(db_url, "dev", set_nominal(4020))
    studio.publish(db_url, "dev", "dev change")
    text = profiles.export_yaml(db_url)
    assert "# exported from profile version 2: dev change" in text

    # "prod": a fresh store at version 1 (simulated by rolling back here)
    profiles.rollback(db_url, 1, "ops")
    draft = profiles.import_yaml(db_url, text, "ops", source_name="profile.yml")
    assert [str(c) for c in draft.changes] == ["~ default_nominal_code: 4000 -> 4020"]
    assert profiles.active(db_url).rules.default_nominal_code == 4000
    assert studio.publish(db_url, "ops", "promoted").rules.default_nominal_code == 4020

    with pytest.raises(MappingError, match=r"profile\.yml: invalid YAML"):
        profiles.import_yaml(db_url, "skus: [", "ops", source_name="profile.yml")
    with pytest.raises(MappingError, match="bogus"):
        profiles.import_yaml(db_url, "bogus: 1\n", "ops")
