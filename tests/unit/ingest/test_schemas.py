"""``ingest.schemas.plain_envelope``, the webhook envelope checked without marshmallow: it
takes the usual shape, and whatever it accepts, ``EnvelopeSchema`` accepts with the same
values (anything else is left to the schema, which writes the field errors)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from ingest.schemas import EnvelopeSchema, plain_envelope

SCHEMA = EnvelopeSchema()
BASE: dict[str, Any] = {
    "id": "evt-1", "topic": "order.created", "occurred_at": "2026-11-24T10:00:03Z",
    "store_id": 1,
    "resource": {"type": "order", "entity_id": 123, "increment_id": "000000123",
                 "updated_at": "2026-11-24 10:00:03"},
    "data": {},
}
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2**32), st.floats(allow_nan=False),
    st.sampled_from(["", "x" * 65, "x" * 129, "a\x00b", "tab\there", "\x7f", "ok",
                     "2026-11-24T10:00:03", "2026-11-24T10:00:03+01:00",
                     "2026-11-24T10:00:03.5Z", "2026-13-24T10:00:03Z", "2026-11-24 10:00:03Z",
                     "product", "order", "invoice", "customer", "creditmemo",
                     "stock.updated", "invoice.created", "nope.topic", "SKU-1"]),
    st.text(max_size=140), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["type", "entity_id", "sku", "x"]),
                    st.sampled_from(["order", "product", 5, "S", None]), max_size=3))
PATHS = [("id",), ("topic",), ("occurred_at",), ("store_id",), ("resource",), ("data",),
         ("extra",), ("resource", "type"), ("resource", "entity_id"), ("resource", "sku"),
         ("resource", "increment_id"), ("resource", "updated_at"), ("resource", "other")]


def schema_load(payload: dict[str, Any]) -> dict[str, Any] | None:
    try:
        loaded = SCHEMA.load(payload)
    except ValidationError:
        return None
    assert isinstance(loaded, dict)
    return loaded


def test_the_usual_envelopes_take_the_plain_path_with_the_schemas_values() -> None:
    product = {**BASE, "topic": "stock.updated", "resource": {"type": "product", "sku": "S"}}
    no_extras = {k: v for k, v in BASE.items() if k not in ("store_id", "data")}
    for payload in (BASE, product, no_extras):
        plain = plain_envelope(payload)
        assert plain is not None and plain == schema_load(payload)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.one_of(ODD_VALUES, st.just(...))),
                min_size=1, max_size=3))
def test_whatever_the_plain_path_accepts_the_schema_accepts_alike(
        changes: list[tuple[tuple[str, ...], Any]]) -> None:
    payload = copy.deepcopy(BASE)
    for path, value in changes:
        target = payload
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                break
            target = target[key]
        else:
            if value is ...:
                target.pop(path[-1], None)  # the field left out
            else:
                target[path[-1]] = value
    plain = plain_envelope(payload)
    if plain is not None:
        assert plain == schema_load(payload)
