"""JSON helpers both sandboxes share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.jsonhttp import copy_json, omit_nulls, path_template


def test_copy_json_copies_every_dict_and_list_so_the_original_cannot_change() -> None:
    original: dict[str, Any] = {"Lines": [{"Rate": Decimal("12.50"), "Tags": ["a"]}], "Note": None}
    copied = copy_json(original)
    assert copied == original
    copied["Lines"][0]["Tags"].append("b")
    copied["Lines"].append({})
    copied["Note"] = "changed"
    assert original == {"Lines": [{"Rate": Decimal("12.50"), "Tags": ["a"]}], "Note": None}


def test_omit_nulls_and_path_templates() -> None:
    assert omit_nulls({"a": None, "b": [{"c": None, "d": 1}]}) == {"b": [{"d": 1}]}
    assert path_template("/v2/invoices/<int:number>", "/v2") == "/invoices/{number}"
    assert path_template(None, "/v2") == "(unmatched)"
