"""Magento ``searchCriteria``: parse the query string, filter, sort and page a collection.

Semantics follow Magento 2.4 with input limiting on: filters inside one group are ORed,
groups are ANDed; ``pageSize`` above 300 -> 400; ``pageSize`` omitted -> 20; a missing
``searchCriteria`` -> 400. Values compare the way MySQL compares columns: numbers as numbers,
strings case-insensitively (``utf8_general_ci``), so ``"YYYY-MM-DD HH:MM:SS"`` timestamps
order correctly as strings, and a missing field is NULL (it matches neither ``eq`` nor ``neq``).
Both snake_case and camelCase keys are accepted, as Magento does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_PAGE_SIZE = 300  # webapi/validation/maximum_page_size default
DEFAULT_PAGE_SIZE = 20  # webapi/validation/default_page_size when input limiting is on
BRACKETS = re.compile(r"\[([^\]]*)\]")


class CriteriaError(ValueError):
    """A searchCriteria Magento rejects with 400; carries Magento's message and parameters."""

    def __init__(self, message: str, parameters: Any) -> None:
        super().__init__(message)
        self.message = message
        self.parameters = parameters


@dataclass(frozen=True)
class Filter:
    field: str
    value: str
    condition: str


@dataclass
class Criteria:
    groups: list[list[Filter]] = field(default_factory=list)
    sorts: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    page_size: int | None = None
    current_page: int | None = None

    def echo(self) -> dict[str, Any]:
        """The ``search_criteria`` member of the response (null members omitted later)."""
        return {
            "filter_groups": [{"filters": [
                {"field": f.field, "value": f.value, "condition_type": f.condition}
                for f in group]} for group in self.groups],
            "sort_orders": [{"field": name, "direction": "DESC" if desc else "ASC"}
                            for name, desc in self.sorts] or None,
            "page_size": self.page_size, "current_page": self.current_page,
        }


def _nested(args: Mapping[str, str], root: str) -> dict[str, Any] | None:
    tree: dict[str, Any] = {}
    present = False
    for key, value in args.items():
        if key == root:
            present = True
        elif key.startswith(root + "["):
            present = True
            parts = BRACKETS.findall(key[len(root):])
            node = tree
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    break
                node = child
            else:
                node[parts[-1]] = value
    return tree if present else None


def _get(node: Any, snake: str) -> Any:
    if not isinstance(node, dict):
        return None
    camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), snake)
    return node.get(snake, node.get(camel))


def _indexed(node: Any) -> list[Any]:
    if not isinstance(node, dict):
        return []
    keys = sorted(node, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    return [node[k] for k in keys]


def _int(raw: Any, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise CriteriaError('The "%value" value\'s type is invalid. The "%type" type was '
                            "expected. Verify and try again.",
                            {"value": raw, "type": "int", "field": name}) from None


def parse(args: Mapping[str, str]) -> Criteria:
    """Read ``searchCriteria[...]`` from query args. Raises ``CriteriaError``."""
    tree = _nested(args, "searchCriteria")
    if tree is None:
        raise CriteriaError('"%fieldName" is required. Enter and try again.',
                            {"fieldName": "searchCriteria"})
    criteria = Criteria(page_size=_int(_get(tree, "page_size"), "pageSize"),
                        current_page=_int(_get(tree, "current_page"), "currentPage"))
    if criteria.page_size is not None and criteria.page_size > MAX_PAGE_SIZE:
        raise CriteriaError("Maximum SearchCriteria pageSize is %max", {"max": MAX_PAGE_SIZE})
    for group in _indexed(_get(tree, "filter_groups")):
        filters = [Filter(str(_get(f, "field") or ""), str(_get(f, "value") or ""),
                          str(_get(f, "condition_type") or "eq").lower())
                   for f in _indexed(_get(group, "filters"))]
        for f in filters:
            if f.condition not in CONDITIONS:
                raise CriteriaError('Invalid condition type "%1"', [f.condition])
        if filters:
            criteria.groups.append(filters)
    for order in _indexed(_get(tree, "sort_orders")):
        name = _get(order, "field")
        if name:
            criteria.sorts.append((str(name), str(_get(order, "direction")).upper() == "DESC"))
    return criteria


# -- comparison ---------------------------------------------------------------------------------
def _sql_key(value: Any) -> tuple[int, Any]:
    """Order like MySQL: NULL first, numbers numerically, strings case-insensitively."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, Decimal(int(value)))
    if isinstance(value, int | Decimal):
        return (1, Decimal(value))
    return (2, str(value).casefold())


def _as_like(doc: Any, literal: str) -> tuple[int, Any]:
    """The filter's string converted to the column's kind (number or text)."""
    if isinstance(doc, int | Decimal):
        try:
            return (1, Decimal(literal.strip()))
        except InvalidOperation:
            return (2, literal.casefold())
    return (2, literal.casefold())


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[[Any, str], bool]:
    def check(doc: Any, literal: str) -> bool:
        if doc is None:
            return False
        left, right = _sql_key(doc), _as_like(doc, literal)
        return left[0] == right[0] and op(left[1], right[1])
    return check


def _in(doc: Any, literal: str) -> bool:
    return any(_cmp(lambda a, b: a == b)(doc, part.strip()) for part in literal.split(","))


def _like(doc: Any, literal: str) -> bool:
    if doc is None:
        return False
    pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in literal)
    return re.fullmatch(pattern, str(doc), re.IGNORECASE | re.DOTALL) is not None


CONDITIONS: dict[str, Callable[[Any, str], bool]] = {
    "eq": _cmp(lambda a, b: a == b),
    "neq": _cmp(lambda a, b: a != b),
    "gt": _cmp(lambda a, b: a > b),
    "gteq": _cmp(lambda a, b: a >= b),
    "from": _cmp(lambda a, b: a >= b),
    "lt": _cmp(lambda a, b: a < b),
    "lteq": _cmp(lambda a, b: a <= b),
    "to": _cmp(lambda a, b: a <= b),
    "in": _in,
    "nin": lambda doc, lit: doc is not None and not _in(doc, lit),
    "like": _like,
    "nlike": lambda doc, lit: doc is not None and not _like(doc, lit),
    "null": lambda doc, lit: doc is None,
    "notnull": lambda doc, lit: doc is not None,
}


def search(criteria: Criteria, docs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """(the requested page of ``docs``, the total number matching)."""
    matching = [d for d in docs if all(
        any(CONDITIONS[f.condition](d.get(f.field), f.value) for f in group)
        for group in criteria.groups)]
    for name, descending in reversed(criteria.sorts):
        matching.sort(key=lambda d: _sql_key(d.get(name)), reverse=descending)
    size = criteria.page_size or DEFAULT_PAGE_SIZE
    page = max(1, criteria.current_page or 1)
    return matching[(page - 1) * size: page * size], len(matching)
