"""JSON in and out for both sandboxes: money stays ``Decimal`` end to end, never ``float``."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeGuard, TypeVar, cast

import simplejson
from flask import Request, Response

RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
JsonT = TypeVar("JsonT")


class BadJson(ValueError):
    """The request body is not valid JSON."""


def dumps(obj: Any) -> str:
    """Serialise with ``Decimal`` as JSON numbers (``10.50`` stays ``10.50``)."""
    return str(simplejson.dumps(obj, use_decimal=True))


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    return json_text_response(dumps(obj), status, headers)


def json_text_response(text: str, status: int = 200, headers: dict[str, str] | None = None
                       ) -> Response:
    """An ``application/json`` answer from JSON already serialised."""
    return Response(text, status=status, headers=headers, mimetype="application/json")


def read_json(request: Request) -> Any:
    """The request body parsed with ``Decimal`` for every non-integer number.

    Raises:
        BadJson: the body is empty or not JSON.
    """
    text = request.get_data(as_text=True)
    if not text.strip():
        raise BadJson("empty body")
    try:
        return simplejson.loads(text, use_decimal=True)
    except simplejson.JSONDecodeError as exc:
        raise BadJson(str(exc)) from exc


def omit_nulls(obj: Any) -> Any:
    """A copy without ``null`` object members, the way Magento renders its data objects."""
    if isinstance(obj, dict):
        return {k: omit_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [omit_nulls(v) for v in obj]
    return obj


def copy_json(obj: JsonT) -> JsonT:
    """A deep copy of JSON data (dicts, lists and immutable scalars such as ``Decimal``).

    The stores copy every document they hand out; ``copy.deepcopy`` gives the same copy of
    such data about three times slower (it memoises and dispatches on every leaf).
    """
    if isinstance(obj, dict):
        return cast(JsonT, {key: copy_json(value) for key, value in obj.items()})
    if isinstance(obj, list):
        return cast(JsonT, [copy_json(value) for value in obj])
    return obj


def is_number(value: Any) -> TypeGuard[int | Decimal]:
    """True for a JSON number (int or Decimal), false for bools, strings and null."""
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def decimal_places(value: int | Decimal) -> int:
    """How many decimals a number carries (``10.50`` -> 2, ``10.5`` -> 1, ``3`` -> 0)."""
    if isinstance(value, int):
        return 0
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@lru_cache(maxsize=256)  # a server has a few dozen rules; every API call names one
def path_template(rule: str | None, prefix: str) -> str:
    """``/v2/invoices/<int:number>`` -> ``/invoices/{number}`` (relative to the API base)."""
    if rule is None:
        return "(unmatched)"
    if rule.startswith(prefix):
        rule = rule[len(prefix):]
    return RULE_ARG.sub(r"{\1}", rule)
